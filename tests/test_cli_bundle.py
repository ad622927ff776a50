"""`certs bundle` and `certs show FILE`: a truststore as the DLB wants it, every refusal as one
line and exit 2, and the soundness of the refusals shown on real nginx."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
import usercerts as uc
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from realservers import LOOPBACK, NginxServer

from mtls_conformance import cli

pytestmark = pytest.mark.selftest

REPO = Path(__file__).resolve().parent.parent
PW = {"PW": "pkcs12-export-pw"}


@dataclass(frozen=True)
class Files:
    dir: Path
    root: uc.Made
    inter: uc.Made
    leaf: uc.Made  # a client under inter
    tester: uc.Made  # a self-signed client
    stranger: uc.Made  # a client of a CA that is in no bundle

    def __call__(self, name: str) -> Path:
        return self.dir / name


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """Certificates and the classic wrong files, mostly made by the openssl CLI."""
    d = tmp_path_factory.mktemp("bundle")
    root = uc.make("Acme Root CA", ca=True)
    inter = uc.make("Acme Issuing CA", root, ca=True, path_length=0)
    leaf = uc.make("api-client", inter)
    tester = uc.make("cucumber test client")
    other = uc.make("Other CA", ca=True)
    stranger = uc.make("stranger", other)
    uc.write(d / "root.pem", uc.pem(root.cert))
    uc.write(d / "inter.pem", uc.pem(inter.cert))
    uc.write(d / "inter-crlf.pem", uc.pem(inter.cert).replace(b"\n", b"\r\n"))
    uc.write(d / "tester.pem", uc.pem(tester.cert))
    uc.write(d / "leaf.pem", uc.pem(leaf.cert, inter.cert) + uc.key_pem(leaf.key), secret=True)
    uc.write(d / "leaf-only.pem", uc.pem(leaf.cert))
    uc.write(d / "tester-client.pem", uc.pem(tester.cert) + uc.key_pem(tester.key), secret=True)
    uc.write(d / "stranger.pem", uc.pem(stranger.cert) + uc.key_pem(stranger.key), secret=True)
    uc.write(d / "tester.key", uc.key_pem(tester.key), secret=True)
    old = uc.make("Old CA", ca=True, start=timedelta(days=-800), end=timedelta(days=-20))
    uc.write(d / "expired.pem", uc.pem(old.cert))
    new = uc.make("Future CA", ca=True, start=timedelta(days=5), end=timedelta(days=500))
    uc.write(d / "future.pem", uc.pem(new.cert))
    # What openssl itself writes: DER, "Bag Attributes" around a PEM, keys, CSR, PKCS#7.
    uc.write(d / "root.der", uc.openssl("x509", "-in", d / "root.pem", "-outform", "der"))
    uc.openssl(
        "pkcs12",
        "-export",
        "-in",
        d / "tester.pem",
        "-inkey",
        d / "tester.key",
        "-out",
        d / "tester.p12",
        "-passout",
        "env:PW",
        env=PW,
    )
    bags = uc.openssl("pkcs12", "-in", d / "tester.p12", "-nokeys", "-passin", "env:PW", env=PW)
    assert b"Bag Attributes" in bags
    uc.write(d / "tester-bags.pem", bags)
    uc.write(d / "pub.pem", uc.openssl("pkey", "-in", d / "tester.key", "-pubout"))
    uc.write(
        d / "pkcs8.pem",
        uc.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),
        secret=True,
    )
    uc.write(d / "rsa.pem", uc.openssl("genrsa", "-traditional", "1024"), secret=True)
    uc.write(d / "ec.pem", uc.openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"))
    uc.write(
        d / "enc.pem",
        uc.openssl(
            "pkcs8", "-topk8", "-in", d / "pkcs8.pem", "-v2", "aes256", "-passout", "env:PW", env=PW
        ),
    )
    uc.write(d / "csr.pem", uc.openssl("req", "-new", "-key", d / "pkcs8.pem", "-subj", "/CN=x"))
    uc.write(d / "p7.pem", uc.openssl("crl2pkcs7", "-nocrl", "-certfile", d / "root.pem"))
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.cert.subject)
        .last_update(datetime.now(UTC))
        .next_update(datetime.now(UTC) + timedelta(days=30))
        .sign(root.key, hashes.SHA256())
    )
    uc.write(d / "crl.pem", crl.public_bytes(Encoding.PEM))
    uc.write(d / "ca-and-key.pem", uc.pem(root.cert) + uc.key_pem(root.key), secret=True)
    uc.write(d / "twice.pem", uc.pem(root.cert, tester.cert, root.cert))
    uc.write(d / "empty.pem", b"")
    uc.write(d / "blank.pem", b"\n  \n")
    uc.write(d / "notes.txt", b"This is the CA certificate, see the wiki.\n")
    text = uc.pem(tester.cert).decode().splitlines(keepends=True)
    text[3] = "!!!!" + text[3][4:]
    uc.write(d / "damaged.pem", "".join(text).encode())
    cut = uc.pem(root.cert) + uc.pem(tester.cert)[:200]
    uc.write(d / "cut.pem", cut)
    (d / "folder").mkdir()
    return Files(d, root, inter, leaf, tester, stranger)


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def dn(made: uc.Made) -> str:
    return made.dn


# -- refusals --------------------------------------------------------------------------------

KEY_HINT = (
    "never put a private key in a truststore (whoever reads it can act as that client); remove it"
)
REFUSALS = {  # inputs -> the one line, with {name} for files(name) and {dn:...} for subjects
    "public-key": (
        ["pub.pem"],
        "{pub.pem} block 1 holds a public key (PUBLIC KEY), not a certificate: a truststore"
        " needs the certificate ('BEGIN CERTIFICATE') that holds this key",
    ),
    "private-key": (
        ["pkcs8.pem"],
        f"{{pkcs8.pem}} block 1 holds a private key (PRIVATE KEY), not a certificate: {KEY_HINT}",
    ),
    "rsa-private-key": (
        ["rsa.pem"],
        f"{{rsa.pem}} block 1 holds a private key (RSA PRIVATE KEY), not a certificate: {KEY_HINT}",
    ),
    "ec-private-key": (
        ["ec.pem"],
        f"{{ec.pem}} block 1 holds a private key (EC PRIVATE KEY), not a certificate: {KEY_HINT}",
    ),
    "encrypted-private-key": (
        ["enc.pem"],
        f"{{enc.pem}} block 1 holds a private key (ENCRYPTED PRIVATE KEY), not a"
        f" certificate: {KEY_HINT}",
    ),
    "key-pasted-after-the-ca": (
        ["tester.pem", "ca-and-key.pem"],
        f"{{ca-and-key.pem}} block 2 holds a private key (PRIVATE KEY), not a certificate:"
        f" {KEY_HINT}",
    ),
    "csr": (
        ["csr.pem"],
        "{csr.pem} block 1 holds a certificate signing request (CERTIFICATE REQUEST), not a"
        " certificate: use the"
        " certificate the CA issued for it",
    ),
    "crl": (
        ["crl.pem"],
        "{crl.pem} block 1 holds a CRL (X509 CRL), not a certificate: upload CRLs as the DLB's"
        " CRL file, not in the truststore",
    ),
    "pkcs7": (
        ["p7.pem"],
        "{p7.pem} block 1 holds a PKCS#7 bundle (PKCS7): extract its certificates with:"
        " openssl pkcs7 -print_certs -in {p7.pem} -out {p7.pem}.pem",
    ),
    "duplicate-in-one-file": (
        ["twice.pem"],
        "{twice.pem} block 3 ({dn:root}): the same certificate as {twice.pem} block 1;"
        " list it once",
    ),
    "duplicate-across-files": (
        ["tester.pem", "root.pem", "tester-bags.pem"],
        "{tester-bags.pem} block 1 ({dn:tester}): the same certificate as {tester.pem} block 1;"
        " list it once",
    ),
    "duplicate-pem-and-der": (
        ["root.pem", "root.der"],
        "{root.der} ({dn:root}): the same certificate as {root.pem} block 1; list it once",
    ),
    "expired": (
        ["root.pem", "expired.pem"],
        "{expired.pem} block 1 (CN=Old CA,O=Acme Corp): expired on {date}; a truststore must"
        " hold only certificates valid today",
    ),
    "not-yet-valid": (
        ["future.pem"],
        "{future.pem} block 1 (CN=Future CA,O=Acme Corp): not valid until {date}; a truststore"
        " must hold only certificates valid today",
    ),
    "intermediate-without-root": (
        ["inter.pem"],
        "{inter.pem} block 1 ({dn:inter}): issued by {dn:root}, which is not in the bundle: the"
        " DLB (nginx) trusts a client only through a chain that ends at a self-signed"
        " certificate in the truststore; add its issuer",
    ),
    "leaf-without-its-ca": (
        ["tester.pem", "leaf-only.pem"],
        "{leaf-only.pem} block 1 ({dn:leaf}): issued by {dn:inter}, which is not in the bundle:"
        " the DLB (nginx) trusts a client only through a chain that ends at a self-signed"
        " certificate in the truststore; add its issuer",
    ),
    "damaged": (
        ["damaged.pem"],
        "{damaged.pem} block 1 is damaged: its content is not a readable certificate",
    ),
    "cut-short": (
        ["cut.pem"],
        "{cut.pem}: block 2 (CERTIFICATE) has no matching '-----END CERTIFICATE-----' line: the"
        " file is cut short or was edited",
    ),
    "not-a-certificate": (
        ["notes.txt"],
        "{notes.txt}: not a certificate (neither PEM 'BEGIN CERTIFICATE' nor DER)",
    ),
    "pkcs12": (
        ["tester.p12"],
        "{tester.p12}: a PKCS#12 (.p12/.pfx) file, not a certificate: take the certificates out"
        " with: openssl pkcs12 -in {tester.p12} -nokeys -out {tester.p12}.pem",
    ),
    "empty": (["root.pem", "empty.pem"], "{empty.pem}: empty file"),
    "blank": (["blank.pem"], "{blank.pem}: empty file"),
    "missing": (["nope.pem"], "{nope.pem}: cannot read (No such file or directory)"),
    "directory": (["folder"], "{folder}: is a directory, not a file"),
}


def expand(template: str, files: Files) -> str:
    for name in ("root", "inter", "leaf", "tester"):
        template = template.replace(f"{{dn:{name}}}", dn(getattr(files, name)))
    for path in sorted(files.dir.iterdir(), key=lambda p: -len(p.name)):
        template = template.replace(f"{{{path.name}}}", str(path))
    return template.replace("{nope.pem}", str(files("nope.pem")))


@pytest.mark.parametrize("row", REFUSALS)
def test_bundle_refuses_with_one_line_and_exit_2(files: Files, tmp_path: Path, row: str) -> None:
    """Each unsound input is refused with the one line naming file, block and fix; no output."""
    inputs, template = REFUSALS[row]
    out = tmp_path / "truststore.pem"
    code, stdout, err = cli_run("certs", "bundle", *map(str, map(files, inputs)), "-o", str(out))
    assert (code, stdout) == (2, "")
    assert err.count("\n") == 1, err
    line = err.removeprefix("mtls-conformance: error: ").rstrip("\n")
    expected = expand(template, files)
    if "{date}" in expected:
        head, tail = expected.split("{date}")
        assert line.startswith(head), line
        assert line.endswith(tail), line
        assert len(line) == len(head) + len("2000-01-01") + len(tail)
    else:
        assert line == expected
    assert not out.exists()


def test_bundle_refusal_from_a_real_process_has_no_traceback(files: Files, tmp_path: Path) -> None:
    """`python -m mtls_conformance certs bundle` with a private key: one line on stderr, exit 2."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mtls_conformance",
            "certs",
            "bundle",
            str(files("tester.pem")),
            str(files("ca-and-key.pem")),
            "-o",
            str(tmp_path / "t.pem"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == (
        f"mtls-conformance: error: {files('ca-and-key.pem')} block 2 holds a private key (PRIVATE"
        f" KEY), not a certificate: {KEY_HINT}\n"
    )


def test_bundle_will_not_overwrite_without_force(files: Files, tmp_path: Path) -> None:
    """An existing OUT is refused (and left as it was) unless --force replaces it."""
    out = uc.write(tmp_path / "truststore.pem", b"keep me\n")
    code, _, err = cli_run("certs", "bundle", str(files("root.pem")), "-o", str(out))
    assert (code, err) == (
        2,
        f"mtls-conformance: error: -o {out}: already exists; pass --force to replace it\n",
    )
    assert out.read_bytes() == b"keep me\n"
    code, _, err = cli_run("certs", "bundle", str(files("root.pem")), "-o", str(out), "--force")
    assert (code, err) == (0, "")
    assert out.read_bytes() == uc.pem(files.root.cert)


def test_bundle_output_must_be_a_file(files: Files, tmp_path: Path) -> None:
    """-o naming a directory is refused in one line."""
    code, _, err = cli_run("certs", "bundle", str(files("root.pem")), "-o", str(tmp_path))
    assert (code, err) == (
        2,
        f"mtls-conformance: error: -o {tmp_path}: is a directory; name the truststore file"
        " to write\n",
    )


# -- a good bundle ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled(files: Files, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """root as DER, the self-signed client from openssl's "Bag Attributes" output, the
    intermediate with CRLF line ends: bundled into one truststore."""
    out = tmp_path_factory.mktemp("out") / "truststore.pem"
    inputs = [files("root.der"), files("tester-bags.pem"), files("inter-crlf.pem")]
    code, stdout, err = cli_run("certs", "bundle", *map(str, inputs), "-o", str(out))
    assert (code, err) == (0, ""), err
    return out, stdout


def test_bundle_writes_pem_certificates_one_after_another(
    files: Files, bundled: tuple[Path, str]
) -> None:
    """OUT is exactly the three certificates, in order, PEM with LF, newline-terminated."""
    out, _ = bundled
    expected = uc.pem(files.root.cert, files.tester.cert, files.inter.cert)
    assert out.read_bytes() == expected
    assert expected.endswith(b"-----END CERTIFICATE-----\n")
    assert stat.S_IMODE(out.stat().st_mode) & 0o044 == 0o044
    listed = subprocess.run(
        ["openssl", "storeutl", "-noout", "-certs", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Total found: 3" in listed.stdout


def test_bundle_says_what_it_wrote_and_converted(files: Files, bundled: tuple[Path, str]) -> None:
    """The summary lists each certificate with its source, and the DER conversion."""
    out, stdout = bundled
    assert stdout.splitlines() == [
        f"Wrote {out}: 3 certificates, in this order",
        f"  1. {dn(files.root)} (CA, self-signed (a root)) from {files('root.der')}",
        f"  2. {dn(files.tester)} (leaf, self-signed) from {files('tester-bags.pem')} block 1",
        f"  3. {dn(files.inter)} (CA) from {files('inter-crlf.pem')} block 1",
        f"Note: {files('root.der')}: DER-encoded, converted to PEM",
        f"Upload {out} as the DLB truststore; list it with: mtls-conformance certs show {out}",
    ]


# -- certs show FILE ------------------------------------------------------------------------------


def test_show_lists_every_certificate_of_a_bundle(files: Files, bundled: tuple[Path, str]) -> None:
    """show FILE prints subject, issuer, serial, validity, CA or leaf, self-signed, per cert."""
    out, _ = bundled
    code, stdout, err = cli_run("certs", "show", str(out))
    assert (code, err) == (0, "")
    assert stdout.startswith(f"{out}: 3 certificates\n")
    for block, made, kind in (
        (1, files.root, "CA, self-signed (a root)"),
        (2, files.tester, "leaf, self-signed"),
        (3, files.inter, "CA"),
    ):
        cert = made.cert
        assert (
            f"\nblock {block}: {made.dn}\n"
            f"  Issuer:   {cert.issuer.rfc4514_string()}\n"
            f"  Serial:   {cert.serial_number:X}\n"
            f"  Valid:    {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC"
            f" to {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC\n"
            f"  Type:     {kind}\n"
            f"  SHA-256:  {cert.fingerprint(hashes.SHA256()).hex(':').upper()}\n"
        ) in stdout
    assert stdout.endswith(
        "\nFit to upload as a truststore: the DLB takes every certificate, its UI shows the first\n"
    )


def test_show_lists_the_problems_of_a_bad_file_and_exits_1(files: Files, tmp_path: Path) -> None:
    """show FILE on a file bundle would refuse: every entry listed, each problem said, exit 1."""
    bad = uc.write(
        tmp_path / "uploaded.pem",
        files("ca-and-key.pem").read_bytes()
        + files("root.pem").read_bytes()
        + files("expired.pem").read_bytes(),
    )
    code, stdout, err = cli_run("certs", "show", str(bad))
    assert (code, err) == (1, "")
    assert stdout.startswith(f"{bad}: 3 certificates\n")
    assert (
        "\nblock 2: PRIVATE KEY\n  Problem:  holds a private key (PRIVATE KEY), not a"
        f" certificate: {KEY_HINT}\n" in stdout
    )
    assert "  Problem:  the same certificate as " + f"{bad} block 1; list it once\n" in stdout
    assert "\nblock 4: CN=Old CA,O=Acme Corp\n" in stdout
    assert "  Problem:  expired on " in stdout
    assert stdout.endswith("\n3 problems: not fit to upload as a truststore\n")


def test_show_on_der_offers_the_conversion(files: Files) -> None:
    """show on a DER file lists its certificate and gives the exact openssl conversion."""
    code, stdout, _ = cli_run("certs", "show", str(files("root.der")))
    assert code == 1
    assert stdout.startswith(
        f"{files('root.der')}: 1 certificate (DER)\n\ncertificate: {dn(files.root)}\n"
    )
    conversion = f"openssl x509 -inform der -in {files('root.der')} -out {files('root.der')}.pem"
    assert f"  Problem:  DER-encoded; the DLB needs PEM: convert with: {conversion}\n" in stdout
    subprocess.run(conversion.split(), check=True, capture_output=True)
    assert x509.load_pem_x509_certificate(files("root.der.pem").read_bytes()) == files.root.cert


def test_show_on_an_unreadable_file_is_one_line(files: Files) -> None:
    """show on a file that holds no certificate at all: one line, exit 2."""
    code, out, err = cli_run("certs", "show", str(files("notes.txt")))
    assert (code, out) == (2, "")
    assert err == (
        f"mtls-conformance: error: {files('notes.txt')}: not a certificate (neither PEM"
        " 'BEGIN CERTIFICATE' nor DER)\n"
    )


def test_show_still_reads_a_kit_directory(tmp_path: Path) -> None:
    """show DIR keeps meaning the kit in DIR."""
    assert cli_run("certs", "init", str(tmp_path))[0] == 0
    code, out, _ = cli_run("certs", "show", str(tmp_path))
    assert code == 0
    assert out.startswith(f"Cert kit in {tmp_path}\n")


# -- the bundle on real nginx, and why the refusals are right -------------------------------------

SERVER = """
    server {
        listen 127.0.0.1:@port%(n)d@ ssl;
        ssl_certificate @server_cert@;
        ssl_certificate_key @server_key@;
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_client_certificate @truststore%(n)d@;
        add_header X-Verify $ssl_client_verify always;
        location / { return 200 "ok\\n"; }
    }
"""


@pytest.fixture(scope="module")
def nginx(
    files: Files, bundled: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[NginxServer, trustme.CA]]:
    """Server 0 trusts the bundle; server 1 only the intermediate (what bundle refuses)."""
    if not NginxServer.available():
        pytest.fail(
            "nginx is not installed: apt-get install nginx, or deselect -m 'not realserver'"
        )
    d = tmp_path_factory.mktemp("nginx")
    server_ca = trustme.CA()
    leaf = server_ca.issue_cert("localhost", "127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(d / "server.pem"))
    leaf.private_key_pem.write_to_path(str(d / "server.key"))
    values = {
        "server_cert": d / "server.pem",
        "server_key": d / "server.key",
        "truststore0": bundled[0],
        "truststore1": files("inter.pem"),
    }
    with NginxServer(SERVER % {"n": 0} + SERVER % {"n": 1}, values=values, port_count=2) as server:
        yield server, server_ca


def https_get(nginx: tuple[NginxServer, trustme.CA], n: int, client: Path) -> tuple[int, str]:
    server, server_ca = nginx
    context = ssl.create_default_context()
    server_ca.configure_trust(context)
    context.load_cert_chain(client)
    conn = http.client.HTTPSConnection(LOOPBACK, server.ports[n], context=context, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Verify", "")
    finally:
        conn.close()


@pytest.mark.realserver
@pytest.mark.parametrize("client", ["leaf.pem", "tester-client.pem"])
def test_nginx_trusts_the_clients_of_the_bundle(
    files: Files, nginx: tuple[NginxServer, trustme.CA], client: str
) -> None:
    """The bundle as ssl_client_certificate: the CA's client and the self-signed one pass."""
    assert https_get(nginx, 0, files(client)) == (200, "SUCCESS")


@pytest.mark.realserver
def test_nginx_refuses_a_client_outside_the_bundle(
    files: Files, nginx: tuple[NginxServer, trustme.CA]
) -> None:
    """Negative control: a client of a CA not in the bundle is refused."""
    assert https_get(nginx, 0, files("stranger.pem"))[0] == 400


@pytest.mark.realserver
def test_nginx_with_only_the_intermediate_refuses_its_clients(
    files: Files, nginx: tuple[NginxServer, trustme.CA]
) -> None:
    """Why bundle refuses an intermediate without its root: nginx then trusts no client of it,
    even one that sends the intermediate along."""
    status, verify = https_get(nginx, 1, files("leaf.pem"))
    assert (status, verify) == (400, "FAILED:unable to get issuer certificate")
