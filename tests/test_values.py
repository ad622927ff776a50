"""Identity values are compared by meaning: DN forms and serial bases that mean the same match."""

from __future__ import annotations

import pytest

from mtls_conformance.values import nginx_serial, parse_dn, same_dn, same_serial

pytestmark = pytest.mark.selftest


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        ("CN=a,OU=b,O=c", "CN=a,OU=b,O=c"),
        ("/O=c/OU=b/CN=a", "CN=a,OU=b,O=c"),
        ("cn=a, ou=b, o=c", "CN=a,OU=b,O=c"),
        ("commonName=a,organizationalUnitName=b,organizationName=c", "CN=a,OU=b,O=c"),
        ("CN=a\\,b,O=c", "CN=a\\,b,O=c"),
        ("/O=Example Org/CN=client one", "CN=client one,O=Example Org"),
    ],
)
def test_equivalent_dns_match(observed: str, expected: str) -> None:
    """The RFC 2253 form, OpenSSL's slash form, key case and long names all mean the same DN."""
    assert same_dn(observed, expected)


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        ("CN=a,O=c", "CN=a,OU=b,O=c"),  # a missing RDN
        ("O=c,OU=b,CN=a", "CN=a,OU=b,O=c"),  # reversed order in the same form
        ("CN=b,OU=b,O=c", "CN=a,OU=b,O=c"),  # another value
        ("/CN=a/OU=b/O=c", "CN=a,OU=b,O=c"),  # slash form in the wrong order
        ("not a dn", "CN=a"),
        ("", "CN=a"),
    ],
)
def test_different_dns_do_not_match(observed: str, expected: str) -> None:
    """A DN that differs in content or order is not the same DN."""
    assert not same_dn(observed, expected)


def test_escaped_comma_stays_in_the_value() -> None:
    """An escaped comma is part of the value, not a separator."""
    assert parse_dn("CN=a\\,b,O=c") == (("cn", "a,b"), ("o", "c"))


@pytest.mark.parametrize("observed", ["4F48C7", "4f48c7", "4F:48:C7", "0x4f48c7", "5195975"])
def test_serial_in_any_base_or_spelling_matches(observed: str) -> None:
    """Hex of any case, with colons or 0x, and decimal (Caddy) all name serial 0x4F48C7."""
    assert same_serial(observed, 0x4F48C7)


@pytest.mark.parametrize("observed", ["4F48C8", "", "zz", "5195976"])
def test_other_serials_do_not_match(observed: str) -> None:
    """Another number, or no number at all, is not the serial."""
    assert not same_serial(observed, 0x4F48C7)


def test_nginx_serial_is_even_length_uppercase_hex() -> None:
    """$ssl_client_serial prints whole bytes in uppercase: a leading zero nibble is kept."""
    assert nginx_serial(0x4F48C7) == "4F48C7"
    assert nginx_serial(0xF48C7) == "0F48C7"
