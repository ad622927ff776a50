"""Certificates in PEM files and their names in the forms load balancers print."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

_SHORT = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COUNTRY_NAME: "C",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.DOMAIN_COMPONENT: "DC",
}


def certificates_in(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def slash_form(name: x509.Name) -> str:
    """OpenSSL's one-line form, most general first: ``/O=Example Org/CN=client``."""
    parts = []
    for attribute in name:
        key = _SHORT.get(attribute.oid, attribute.oid.dotted_string)
        parts.append(f"/{key}={attribute.value!s}")
    return "".join(parts)
