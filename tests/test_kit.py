"""The cert kit: files, modes and contents, then every role against real OpenSSL and nginx."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import ssl
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from realservers import LOOPBACK, NginxServer

from mtls_conformance import kit_create
from mtls_conformance.errors import KitError
from mtls_conformance.kit import P12_PASSWORD, ROLES, Kit, create_kit, load_kit

pytestmark = pytest.mark.selftest

ACCEPTED = ("ca-signed", "self-signed-trusted", "intermediate-signed")
SELF_SIGNED = ("self-signed-trusted", "self-signed-untrusted")
CRL_BLOCK = re.compile(r"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----\n", re.S)


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return create_kit(tmp_path_factory.mktemp("kit") / "certs")


@pytest.fixture(scope="session")
def ca_crl_only(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crl.pem holding only the trusted CA's CRL: the negative control of the CRL rule."""
    path = tmp_path_factory.mktemp("crl") / "ca-crl-only.pem"
    path.write_text(CRL_BLOCK.findall(kit.crl.read_text())[0])
    return path


def leaf(kit: Kit, role: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(kit.client(role).cert.read_bytes())


def chain_sent(kit: Kit, role: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(kit.client(role).cert.read_bytes())[1:]


def crls(path: Path) -> list[x509.CertificateRevocationList]:
    return [x509.load_pem_x509_crl(b.encode()) for b in CRL_BLOCK.findall(path.read_text())]


# -- files and contents -----------------------------------------------------------------


def test_every_role_is_described_by_its_certificate(kit: Kit) -> None:
    """Each ClientIdentity's subject, issuer, serial and dates are read from its cert."""
    assert tuple(kit.clients) == ROLES
    for role in ROLES:
        client, cert = kit.client(role), leaf(kit, role)
        assert client.role == role
        assert client.subject == f"CN={role} client,OU=mtls-conformance,O=Example Org"
        assert client.issuer == cert.issuer.rfc4514_string()
        assert client.serial == cert.serial_number
        assert (client.not_before, client.not_after) == (
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
        )
        assert client.purpose.endswith(".")


def test_serials_are_random_and_unambiguous_in_hex(kit: Kit) -> None:
    """Serials are unique, over 64 bits, and their uppercase hex has letters and no pad."""
    serials = [kit.client(role).serial for role in ROLES]
    assert len(set(serials)) == len(serials)
    for serial in serials:
        text = format(serial, "X")
        assert serial.bit_length() > 64
        assert text != text.lower()
        assert len(text) % 2 == 0
        assert text[0] != "0"


def test_unknown_role_is_a_one_line_kit_error(kit: Kit) -> None:
    """Asking for a role the kit lacks names the role and lists the known ones."""
    with pytest.raises(KitError, match="'bogus'; known roles: ca-signed, ") as caught:
        kit.client("bogus")
    assert "\n" not in str(caught.value)


def test_private_files_are_0600(kit: Kit) -> None:
    """Keys and .p12 files are readable by their owner only; certificates by everyone."""
    secret = [kit.server_key] + [p for c in kit.clients.values() for p in (c.key, c.p12)]
    for path in secret:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in [kit.truststore, kit.crl, kit.client("ca-signed").cert]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path


def test_truststore_is_the_ca_then_the_trusted_self_signed_client(kit: Kit) -> None:
    """truststore.pem holds exactly two certs: the trusted CA, then self-signed-trusted."""
    ca, pinned = x509.load_pem_x509_certificates(kit.truststore.read_bytes())
    assert ca.subject.rfc4514_string() == kit.client("ca-signed").issuer
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert pinned == leaf(kit, "self-signed-trusted")
    assert kit.truststore.read_text().count("BEGIN CERTIFICATE") == 2


def test_crl_file_has_one_crl_per_issuer_of_a_trusted_chain(kit: Kit) -> None:
    """crl.pem: the CA's lists only the revoked client; intermediate and pinned are empty."""
    ca_crl, intermediate_crl, pinned_crl = crls(kit.crl)
    assert [ca_crl.issuer.rfc4514_string(), intermediate_crl.issuer.rfc4514_string()] == [
        kit.client("ca-signed").issuer,
        kit.client("intermediate-signed").issuer,
    ]
    assert pinned_crl.issuer.rfc4514_string() == kit.client("self-signed-trusted").subject
    assert [r.serial_number for r in ca_crl] == [kit.client("revoked").serial]
    assert len(intermediate_crl) == len(pinned_crl) == 0
    signers = [
        x509.load_pem_x509_certificates(kit.truststore.read_bytes())[0],
        chain_sent(kit, "intermediate-signed")[0],
        leaf(kit, "self-signed-trusted"),
    ]
    for crl, signer in zip([ca_crl, intermediate_crl, pinned_crl], signers, strict=True):
        assert crl.is_signature_valid(signer.public_key())  # type: ignore[arg-type]
        assert crl.next_update_utc is not None
        assert crl.next_update_utc > datetime.now(UTC) + timedelta(days=9 * 365)


def test_extensions_fit_each_role(kit: Kit) -> None:
    """EKU is clientAuth (serverAuth only for wrong-eku); self-signed certs carry no keyUsage."""
    for role in ROLES:
        ext = leaf(kit, role).extensions
        eku = list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value)
        expected = ExtendedKeyUsageOID.SERVER_AUTH if role == "wrong-eku" else None
        assert eku == [expected or ExtendedKeyUsageOID.CLIENT_AUTH], role
        assert not ext.get_extension_for_class(x509.BasicConstraints).value.ca
        ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        if role in SELF_SIGNED:
            # keyUsage without cRLSign would make OpenSSL refuse the pinned cert's CRL.
            with pytest.raises(x509.ExtensionNotFound):
                ext.get_extension_for_class(x509.KeyUsage)
            assert aki.key_identifier == ski.digest
        else:
            assert ext.get_extension_for_class(x509.KeyUsage).value.digital_signature


def test_validity_windows_last_for_years(kit: Kit) -> None:
    """Valid certs span ten years; expired ended a year ago; not-yet-valid starts after them."""
    now = datetime.now(UTC)
    for role in ROLES:
        client = kit.client(role)
        if role == "expired":
            assert client.not_after < now - timedelta(days=300)
        elif role == "not-yet-valid":
            assert client.not_before >= kit.client("ca-signed").not_after
        else:
            assert client.not_before < now < now + timedelta(days=9 * 365) < client.not_after


@pytest.mark.parametrize("role", ROLES)
def test_p12_holds_key_leaf_and_chain(kit: Kit, role: str) -> None:
    """Each .p12 opens with P12_PASSWORD and holds the key, the leaf and the chain sent."""
    client = kit.client(role)
    bundle = pkcs12.load_pkcs12(client.p12.read_bytes(), P12_PASSWORD.encode())
    assert bundle.cert is not None
    assert bundle.key is not None
    assert bundle.cert.certificate == leaf(kit, role)
    assert [c.certificate for c in bundle.additional_certs] == chain_sent(kit, role)
    key = load_pem_private_key(client.key.read_bytes(), password=None)
    assert bundle.key.public_key() == key.public_key()
    # The system OpenSSL (what curl, and Postman's Node, are built on) reads it too.
    subprocess.run(
        ["openssl", "pkcs12", "-in", client.p12, "-passin", f"pass:{P12_PASSWORD}", "-noout"],
        check=True,
        capture_output=True,
    )


def test_intermediate_is_sent_not_trusted(kit: Kit) -> None:
    """intermediate-signed's PEM carries its issuing intermediate, which the truststore lacks."""
    (intermediate,) = chain_sent(kit, "intermediate-signed")
    assert intermediate.subject == leaf(kit, "intermediate-signed").issuer
    assert intermediate not in x509.load_pem_x509_certificates(kit.truststore.read_bytes())
    assert all(chain_sent(kit, role) == [] for role in ROLES if role != "intermediate-signed")


# -- the kit against `openssl verify` ----------------------------------------------------

OPENSSL_VERIFY = {  # role -> (without CRL, with the kit's crl.pem)
    "ca-signed": ("OK", "OK"),
    "self-signed-trusted": ("OK", "OK"),
    "intermediate-signed": ("OK", "OK"),
    "expired": ("certificate has expired",) * 2,
    "not-yet-valid": ("certificate is not yet valid",) * 2,
    "untrusted": ("unable to get local issuer certificate",) * 2,
    "self-signed-untrusted": ("self-signed certificate",) * 2,
    "revoked": ("OK", "certificate revoked"),
    "wrong-eku": ("unsuitable certificate purpose",) * 2,
}


def openssl_verify(kit: Kit, role: str, crl: Path | None) -> str:
    """Verify as a server verifies a client: the chain sent, the truststore, sslclient."""
    cert = kit.client(role).cert
    cmd = ["openssl", "verify", "-CAfile", kit.truststore, "-untrusted", cert]
    cmd += ["-purpose", "sslclient"]
    if crl is not None:
        cmd += ["-crl_check_all", "-CRLfile", crl]
    result = subprocess.run([*map(str, cmd), str(cert)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert (result.returncode == 0) == output.strip().endswith(": OK"), output
    return "OK" if result.returncode == 0 else output


@pytest.mark.parametrize("with_crl", [False, True], ids=["no-crl", "crl"])
@pytest.mark.parametrize("role", ROLES)
def test_openssl_verify_gives_each_role_its_verdict(kit: Kit, role: str, with_crl: bool) -> None:
    """openssl verify accepts the trusted roles, with and without the CRL, and no others."""
    expected = OPENSSL_VERIFY[role][with_crl]
    output = openssl_verify(kit, role, kit.crl if with_crl else None)
    if expected == "OK":
        assert output == "OK"
    else:
        assert expected in output


@pytest.mark.parametrize("role", ["self-signed-trusted", "intermediate-signed"])
def test_openssl_verify_needs_a_crl_from_every_issuer(
    kit: Kit, role: str, ca_crl_only: Path
) -> None:
    """Negative control: with only the CA's CRL, chains through other issuers fail."""
    assert "unable to get certificate CRL" in openssl_verify(kit, role, ca_crl_only)


# -- the kit against real nginx, configured like the DLB in Mandatory mode -------------

DLB_SERVER = """
    server {
        listen 127.0.0.1:@port%(n)d@ ssl;
        ssl_certificate @server_cert@;
        ssl_certificate_key @server_key@;
        ssl_protocols TLSv1.2;
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_client_certificate @truststore@;
        %(crl)s
        add_header X-Verify $ssl_client_verify always;
        add_header X-DN $ssl_client_s_dn always;
        add_header X-Issuer $ssl_client_i_dn always;
        add_header X-Serial $ssl_client_serial always;
        location / { return 200 "ok\\n"; }
    }
"""
# One nginx, three servers: no CRL, the kit's crl.pem, and only the CA's CRL (control).
CRL_SETUPS = ("", "ssl_crl @crl@;", "ssl_crl @ca_crl_only@;")
NO_CRL_FOR_ISSUER = "FAILED:unable to get certificate CRL"
NGINX_VERIFY = {  # role -> $ssl_client_verify per setup in CRL_SETUPS
    "ca-signed": ("SUCCESS",) * 3,
    "self-signed-trusted": ("SUCCESS", "SUCCESS", NO_CRL_FOR_ISSUER),
    "intermediate-signed": ("SUCCESS", "SUCCESS", NO_CRL_FOR_ISSUER),
    "expired": ("FAILED:certificate has expired",) * 3,
    "not-yet-valid": ("FAILED:certificate is not yet valid",) * 3,
    "untrusted": ("FAILED:unable to verify the first certificate",) * 3,
    # With a CRL loaded, OpenSSL goes on after "self-signed" and the last error wins.
    "self-signed-untrusted": ("FAILED:self-signed certificate", *(NO_CRL_FOR_ISSUER,) * 2),
    "revoked": ("SUCCESS", "FAILED:certificate revoked", "FAILED:certificate revoked"),
    "wrong-eku": ("FAILED:unsuitable certificate purpose",) * 3,
}


@pytest.fixture(scope="session")
def nginx(kit: Kit, ca_crl_only: Path) -> Iterator[NginxServer]:
    if not NginxServer.available():
        pytest.fail(
            "nginx is not installed: apt-get install nginx, or deselect -m 'not realserver'"
        )
    config = "".join(DLB_SERVER % {"n": n, "crl": crl} for n, crl in enumerate(CRL_SETUPS))
    values = {
        "server_cert": kit.server_cert,
        "server_key": kit.server_key,
        "truststore": kit.truststore,
        "crl": kit.crl,
        "ca_crl_only": ca_crl_only,
    }
    with NginxServer(config, values=values, port_count=len(CRL_SETUPS)) as server:
        yield server


def https_get(kit: Kit, port: int, role: str | None) -> tuple[int, dict[str, str], str]:
    """GET / over TLS 1.2 presenting role's cert (none if None), verifying the server."""
    context = ssl.create_default_context(cafile=str(kit.server_ca))
    if role is not None:
        context.load_cert_chain(kit.client(role).cert, kit.client(role).key)
    conn = http.client.HTTPSConnection(LOOPBACK, port, context=context, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


@pytest.mark.realserver
@pytest.mark.parametrize("role", ROLES)
def test_nginx_gives_each_role_its_verdict(kit: Kit, nginx: NginxServer, role: str) -> None:
    """nginx (Mandatory) answers 200 to trusted roles, 400 to the rest, for every CRL setup."""
    observed = []
    for port in nginx.ports:
        status, headers, body = https_get(kit, port, role)
        verdict = headers["X-Verify"]
        assert status == (200 if verdict == "SUCCESS" else 400), (status, verdict)
        if status == 400:
            assert "400 The SSL certificate error" in body
        observed.append(verdict)
    assert tuple(observed) == NGINX_VERIFY[role]


@pytest.mark.realserver
@pytest.mark.parametrize("role", ACCEPTED)
def test_nginx_shows_the_identity_the_kit_promises(kit: Kit, nginx: NginxServer, role: str) -> None:
    """$ssl_client_s_dn, _i_dn and _serial equal the kit's subject, issuer and hex serial."""
    status, headers, _ = https_get(kit, nginx.ports[1], role)
    client = kit.client(role)
    assert status == 200
    assert headers["X-DN"] == client.subject
    assert headers["X-Issuer"] == client.issuer
    assert headers["X-Serial"] == format(client.serial, "X")


@pytest.mark.realserver
def test_nginx_rejects_a_request_without_certificate(kit: Kit, nginx: NginxServer) -> None:
    """Negative control of the setup: no client certificate gets nginx's 400 page."""
    status, headers, body = https_get(kit, nginx.ports[1], None)
    assert (status, headers["X-Verify"]) == (400, "NONE")
    assert "No required SSL certificate was sent" in body


@pytest.mark.realserver
@pytest.mark.parametrize(
    ("role", "status"), [("ca-signed", 200), ("intermediate-signed", 200), ("untrusted", 400)]
)
def test_curl_with_the_p12_gets_the_roles_verdict(
    kit: Kit, nginx: NginxServer, role: str, status: int
) -> None:
    """curl presenting the .p12 (as Postman does) gets the same verdict; the chain is sent."""
    cert = f"{kit.client(role).p12}:{P12_PASSWORD}"
    url = f"https://{LOOPBACK}:{nginx.ports[1]}/"
    cmd = ["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", "--cacert", kit.server_ca]
    cmd += ["--cert-type", "P12", "--cert", cert, url]
    result = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, check=True)
    assert result.stdout == str(status)


# -- creating and loading ----------------------------------------------------------------


@pytest.fixture
def kit_copy(kit: Kit, tmp_path: Path) -> Path:
    return Path(shutil.copytree(kit.directory, tmp_path / "certs"))


def test_create_refuses_to_overwrite_a_kit(kit_copy: Path) -> None:
    """A second create in the same dir fails with a hint to pass --force, changing nothing."""
    before = (kit_copy / "truststore.pem").read_bytes()
    with pytest.raises(KitError, match=r"already holds a cert kit .*pass --force"):
        create_kit(kit_copy)
    assert (kit_copy / "truststore.pem").read_bytes() == before


def test_create_with_force_replaces_the_kit_and_keeps_keys_private(kit_copy: Path) -> None:
    """force=True writes a new kit; a key left world-readable is replaced by a 0600 one."""
    old = load_kit(kit_copy)
    old.client("ca-signed").key.chmod(0o644)
    new = create_kit(kit_copy, force=True)
    assert new.client("ca-signed").serial != old.client("ca-signed").serial
    assert stat.S_IMODE(new.client("ca-signed").key.stat().st_mode) == 0o600
    assert not list(kit_copy.rglob("*.tmp"))


def test_rsa_kit_verifies_like_the_ecdsa_one(tmp_path: Path) -> None:
    """key_type="rsa" gives RSA 2048 keys throughout, and the same openssl verdicts."""
    rsa_kit = create_kit(tmp_path / "rsa", key_type="rsa")
    for role in ROLES:
        key = load_pem_private_key(rsa_kit.client(role).key.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.key_size == 2048
    for role in ("ca-signed", "intermediate-signed", "revoked"):
        output = openssl_verify(rsa_kit, role, rsa_kit.crl)
        assert OPENSSL_VERIFY[role][1] in output


def test_default_keys_are_ecdsa_p256(kit: Kit) -> None:
    """The default kit uses ECDSA P-256 keys (fast to make)."""
    key = load_pem_private_key(kit.client("ca-signed").key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"


def test_load_kit_reads_what_create_wrote(kit: Kit) -> None:
    """load_kit returns a Kit equal to the one create_kit returned."""
    assert load_kit(kit.directory) == kit


BREAKAGES = {
    "manifest.json": ("delete", "manifest.json: missing; make a kit with: mtls-conformance"),
    "clients/expired.pem": ("delete", "clients/expired.pem: missing; remake the kit with"),
    "crl.pem": ("garble", "crl.pem: no readable PEM CRL in it"),
    "clients/revoked.key": ("garble", "clients/revoked.key: not an unencrypted PEM private key"),
    "clients/ca-signed.p12": ("garble", "ca-signed.p12: not PKCS#12 with password"),
    "truststore.pem": ("garble", "truststore.pem: no readable PEM certificate in it"),
}


@pytest.mark.parametrize("name", BREAKAGES)
def test_load_kit_error_is_one_line_naming_the_file(kit_copy: Path, name: str) -> None:
    """A missing or unreadable kit file is a one-line KitError that names it."""
    action, message = BREAKAGES[name]
    if action == "delete":
        (kit_copy / name).unlink()
    else:
        (kit_copy / name).write_text("garbage\n")
    with pytest.raises(KitError) as caught:
        load_kit(kit_copy)
    assert message in str(caught.value)
    assert str(kit_copy / name.split("/")[0]) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_kit_notices_a_key_that_does_not_match(kit_copy: Path) -> None:
    """A key swapped for another role's is caught and both files are named."""
    shutil.copy(kit_copy / "clients/revoked.key", kit_copy / "clients/ca-signed.key")
    with pytest.raises(
        KitError, match=r"ca-signed.key: does not match the certificate in ca-signed"
    ):
        load_kit(kit_copy)


@pytest.mark.parametrize(
    ("age", "message"),
    [
        (timedelta(days=11 * 365), r"crl.pem: a CRL in it expired on .*; remake"),
        (timedelta(days=-2), r"clients/ca-signed.pem: valid only from .*; remake"),
    ],
    ids=["made-11-years-ago", "made-2-days-ahead"],
)
def test_load_kit_refuses_a_kit_whose_dates_no_longer_fit(
    tmp_path: Path, age: timedelta, message: str
) -> None:
    """A kit past its CRLs' next update, or not yet valid (clock skew), is refused."""
    kit_create.write(tmp_path, kit_create.build("ecdsa", now=datetime.now(UTC) - age))
    with pytest.raises(KitError, match=message):
        load_kit(tmp_path)
