"""`certs import`: a kit around the user's own certificates, proven on real nginx, and every
refusal of bad input as one line, exit 2, no traceback, no password shown."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import pty
import select
import shutil
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import usercerts as uc
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from dlb_nginx import DlbNginx, dlb_nginx
from echo import EchoServer
from realservers import LOOPBACK, NginxServer
from suite_runner import run_suite

from mtls_conformance import cli
from mtls_conformance.errors import KitError
from mtls_conformance.kit import P12_PASSWORD, ROLES, Kit, load_kit

pytestmark = pytest.mark.selftest

REPO = Path(__file__).resolve().parent.parent
KEY_PW = "correct horse 42!"
P12_PW = "p12-Secret&x"
CA_PW = "ca-Secret-9"
ENV = {"MTLS_KEY_PW": KEY_PW, "MTLS_P12_PW": P12_PW, "MTLS_CA_PW": CA_PW}
NEED_CA_KEY = ("intermediate-signed", "expired", "not-yet-valid", "revoked", "wrong-eku")


@dataclass(frozen=True)
class User:
    """What a user brings, as files: their CA, a CA-signed client, a self-signed test client."""

    dir: Path
    ca: uc.Made
    client: uc.Made
    tester: uc.Made
    chained: uc.Made
    other_ca: uc.Made
    stranger: uc.Made
    issuing: uc.Made  # an intermediate (path length 0) under ca
    deep: uc.Made  # a client of issuing

    def __getitem__(self, name: str) -> str:
        return str(self.dir / name)


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> User:
    d = tmp_path_factory.mktemp("user")
    ca = uc.make("Acme Client CA", ca=True, key=rsa.generate_private_key(65537, 2048))
    client = uc.make("salesforce-client", ca)
    tester = uc.make("cucumber test client")
    chained = uc.make("p12-client", ca)
    other_ca = uc.make("Other Corp CA", ca=True)
    stranger = uc.make("stranger", other_ca)
    issuing = uc.make("Acme Issuing CA", ca, ca=True, path_length=0)
    deep = uc.make("deep-client", issuing)
    uc.write(d / "ca.pem", uc.pem(ca.cert))
    uc.write(d / "ca.enc.key", uc.key_pem(ca.key, CA_PW), secret=True)
    uc.write(d / "client.pem", uc.pem(client.cert))
    uc.write(d / "client.enc.key", uc.key_pem(client.key, KEY_PW), secret=True)
    uc.write(d / "client.key", uc.key_pem(client.key), secret=True)
    uc.write(d / "tester.p12", uc.p12(tester, [], P12_PW), secret=True)
    uc.write(d / "tester.pem", uc.pem(tester.cert))
    uc.write(d / "tester.key", uc.key_pem(tester.key), secret=True)
    uc.write(d / "chained.p12", uc.p12(chained, [ca.cert], P12_PW), secret=True)
    uc.write(d / "other-ca.pem", uc.pem(other_ca.cert))
    uc.write(d / "stranger.pem", uc.pem(stranger.cert) + uc.key_pem(stranger.key))
    uc.write(d / "deep.p12", uc.p12(deep, [issuing.cert, ca.cert], P12_PW), secret=True)
    uc.write(d / "issuing.key", uc.key_pem(issuing.key), secret=True)
    return User(d, ca, client, tester, chained, other_ca, stranger, issuing, deep)


def cli_run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """cli.main in-process with env set; exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        for name, value in (ENV if env is None else env).items():
            mp.setenv(name, value)
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def imported(directory: Path, *argv: str) -> Kit:
    code, out, err = cli_run("certs", "import", str(directory), *argv)
    assert (code, err) == (0, ""), (out, err)
    return load_kit(directory)


@pytest.fixture(scope="module")
def pem_p12_kit(user: User, tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """A PEM cert + encrypted key (with its CA) and a password-protected .p12, imported."""
    return imported(
        tmp_path_factory.mktemp("import") / "kit",
        *("--ca-signed", user["client.pem"], "--ca-signed-key", user["client.enc.key"]),
        *("--client-ca", user["ca.pem"], "--self-signed-p12", user["tester.p12"]),
        *("--key-password-env", "MTLS_KEY_PW", "--p12-password-env", "MTLS_P12_PW"),
    )


@pytest.fixture(scope="module")
def chain_kit(user: User, tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """A .p12 that carries its CA (no --client-ca), and a plain PEM self-signed pair."""
    return imported(
        tmp_path_factory.mktemp("import") / "kit",
        *("--ca-signed-p12", user["chained.p12"], "--p12-password-env", "MTLS_P12_PW"),
        *("--self-signed", user["tester.pem"], "--self-signed-key", user["tester.key"]),
    )


@pytest.fixture(scope="module")
def ca_key_kit(user: User, tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """The user's CA key given too: every role can be issued under the user's CA."""
    return imported(
        tmp_path_factory.mktemp("import") / "kit",
        *("--ca-signed", user["client.pem"], "--ca-signed-key", user["client.enc.key"]),
        *("--client-ca", user["ca.pem"], "--client-ca-key", user["ca.enc.key"]),
        *("--key-password-env", "MTLS_KEY_PW", "--client-ca-key-password-env", "MTLS_CA_PW"),
    )


@pytest.fixture(scope="module")
def deep_kit(user: User, tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """A .p12 whose client comes from an intermediate (path length 0) under the user's root,
    with the intermediate's key: the kit can sign for it, but not for the root."""
    return imported(
        tmp_path_factory.mktemp("import") / "kit",
        *("--ca-signed-p12", user["deep.p12"], "--p12-password-env", "MTLS_P12_PW"),
        *("--client-ca-key", user["issuing.key"]),
    )


def certs_in(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


# -- the kit the import makes ---------------------------------------------------------------


def test_imported_kit_plays_the_users_identities(pem_p12_kit: Kit, user: User) -> None:
    """ca-signed and self-signed-trusted are the user's certificates and keys, with sources."""
    for role, made, source in (
        ("ca-signed", user.client, "client.pem"),
        ("self-signed-trusted", user.tester, "tester.p12"),
    ):
        client = pem_p12_kit.client(role)
        assert certs_in(client.cert) == [made.cert]
        assert (client.subject, client.serial) == (made.dn, made.cert.serial_number)
        key = load_pem_private_key(client.key.read_bytes(), password=None)
        assert key.public_key() == made.key.public_key()
        bundle = pkcs12.load_pkcs12(client.p12.read_bytes(), P12_PASSWORD.encode())
        assert bundle.cert is not None
        assert bundle.cert.certificate == made.cert
        assert client.source == user.dir / source
        assert client.purpose.startswith("Your ")


def test_truststore_is_exactly_the_users_ca_and_self_signed_cert(
    pem_p12_kit: Kit, user: User
) -> None:
    """truststore.pem holds the user's CA, then the user's self-signed client: nothing else."""
    assert certs_in(pem_p12_kit.truststore) == [user.ca.cert, user.tester.cert]


def test_keys_and_p12_files_are_0600(pem_p12_kit: Kit) -> None:
    """The user's keys land in the kit readable by the owner only; certificates by all."""
    for client in pem_p12_kit.clients.values():
        assert stat.S_IMODE(client.key.stat().st_mode) == 0o600, client.key
        assert stat.S_IMODE(client.p12.stat().st_mode) == 0o600, client.p12
        assert stat.S_IMODE(client.cert.stat().st_mode) & 0o044 == 0o044, client.cert


def test_roles_only_the_users_ca_can_issue_are_unavailable(pem_p12_kit: Kit, user: User) -> None:
    """Without the CA key, five roles are unavailable with the reason, and have no files."""
    assert tuple(pem_p12_kit.unavailable) == NEED_CA_KEY
    assert set(pem_p12_kit.clients) == set(ROLES) - set(NEED_CA_KEY)
    for role in NEED_CA_KEY:
        reason = pem_p12_kit.unavailable[role]
        assert reason.startswith(f"only your client CA ({user.ca.dn}) can issue this")
        assert reason.endswith("(give it with --client-ca-key)")
        assert not (pem_p12_kit.directory / "clients" / f"{role}.pem").exists()
        with pytest.raises(KitError, match=f"no '{role}' certificate: only your client CA"):
            pem_p12_kit.client(role)
    assert pem_p12_kit.crl_incomplete is not None
    assert "no CRL from your client CA" in pem_p12_kit.crl_incomplete


def test_a_p12_with_its_chain_supplies_the_client_ca(chain_kit: Kit, user: User) -> None:
    """With no --client-ca, the CA inside the .p12 goes into truststore.pem."""
    assert certs_in(chain_kit.truststore) == [user.ca.cert, user.tester.cert]
    assert certs_in(chain_kit.client("ca-signed").cert) == [user.chained.cert]
    assert chain_kit.client("self-signed-trusted").source == user.dir / "tester.pem"


def test_with_the_ca_key_every_role_is_issued_under_the_users_ca(
    ca_key_kit: Kit, user: User
) -> None:
    """--client-ca-key: all nine roles, the CA-issued ones signed by the user's CA."""
    assert (dict(ca_key_kit.unavailable), ca_key_kit.crl_incomplete) == ({}, None)
    assert tuple(ca_key_kit.clients) == ROLES
    for role in ("expired", "not-yet-valid", "revoked", "wrong-eku"):
        leaf = certs_in(ca_key_kit.client(role).cert)[0]
        leaf.verify_directly_issued_by(user.ca.cert)
    pinned = ca_key_kit.client("self-signed-trusted").cert
    intermediate = certs_in(ca_key_kit.client("intermediate-signed").cert)[1]
    intermediate.verify_directly_issued_by(user.ca.cert)
    assert certs_in(ca_key_kit.truststore) == [user.ca.cert, certs_in(pinned)[0]]


def test_with_a_ca_and_its_key_alone_the_kit_issues_ca_signed(user: User, tmp_path: Path) -> None:
    """--client-ca with --client-ca-key and no client certificate: ca-signed is issued by it."""
    kit = imported(
        tmp_path / "kit",
        *("--client-ca", user["ca.pem"], "--client-ca-key", user["ca.enc.key"]),
        *("--client-ca-key-password-env", "MTLS_CA_PW"),
    )
    assert tuple(kit.clients) == ROLES
    certs_in(kit.client("ca-signed").cert)[0].verify_directly_issued_by(user.ca.cert)
    assert kit.client("ca-signed").source is None


def test_a_chain_the_kit_cannot_sign_crls_for_marks_crl_and_revoked(
    deep_kit: Kit, user: User
) -> None:
    """Key of an intermediate only: crl.pem lacks the root's CRL, so revoked is unavailable;
    the intermediate's path length 0 rules out intermediate-signed."""
    refusal = "with it loaded, OpenSSL refuses ca-signed ('unable to get certificate CRL')"
    assert deep_kit.crl_incomplete == refusal
    assert dict(deep_kit.unavailable) == {
        "intermediate-signed": f"needs an intermediate CA under your client CA"
        f" ({user.issuing.dn}), whose path length constraint (0) forbids one",
        "revoked": f"needs a complete crl.pem, and {refusal}",
    }
    assert certs_in(deep_kit.truststore) == [
        user.issuing.cert,
        user.ca.cert,
        certs_in(deep_kit.client("self-signed-trusted").cert)[0],
    ]
    expired = certs_in(deep_kit.client("expired").cert)
    expired[0].verify_directly_issued_by(user.issuing.cert)
    assert expired[1:] == [user.issuing.cert]  # sent along, as the user's client does


def test_the_kit_never_holds_the_ca_key_nor_a_password(ca_key_kit: Kit, user: User) -> None:
    """No file of the kit contains the user CA's private key or any of the passwords."""
    ca_key = user.ca.key.private_numbers()  # type: ignore[union-attr]
    for path in ca_key_kit.directory.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for password in ENV.values():
            assert password.encode() not in data, path
        if path.suffix in (".key", ".pem") and b"PRIVATE KEY" in data:
            key = load_pem_private_key(data[data.index(b"-----BEGIN") :], password=None)
            assert not isinstance(key, rsa.RSAPrivateKey) or key.private_numbers() != ca_key


def test_load_kit_names_the_import_command_that_remakes_it(
    pem_p12_kit: Kit, user: User, tmp_path: Path
) -> None:
    """A broken imported kit says to rerun certs import with the same options, not init."""
    copy = Path(shutil.copytree(pem_p12_kit.directory, tmp_path / "kit"))
    (copy / "clients/ca-signed.key").unlink()
    with pytest.raises(KitError) as caught:
        load_kit(copy)
    assert str(caught.value) == (
        f"{copy}/clients/ca-signed.key: missing; remake the kit with: mtls-conformance certs"
        f" import --force {copy} --ca-signed {user['client.pem']} --ca-signed-key"
        f" {user['client.enc.key']} --self-signed-p12 {user['tester.p12']} --client-ca"
        f" {user['ca.pem']} --key-password-env MTLS_KEY_PW --p12-password-env MTLS_P12_PW"
    )


def test_output_and_show_say_what_is_yours_and_what_skips(
    pem_p12_kit: Kit, user: User, tmp_path: Path
) -> None:
    """import names the user's files and the unavailable roles; show lists them per role."""
    code, out, err = cli_run(
        "certs",
        "import",
        str(tmp_path),
        "--self-signed-p12",
        user["tester.p12"],
        "--p12-password-env",
        "MTLS_P12_PW",
    )
    assert (code, err) == (0, "")
    assert f"  self-signed-trusted: yours, from {user['tester.p12']}\n" in out
    assert "unavailable" not in out  # the kit's own CA issues every other role
    assert f"{tmp_path}/crl.pem as the CRL" in out
    code, out, err = cli_run("certs", "show", str(pem_p12_kit.directory))
    assert (code, err) == (0, "")
    assert f"\nexpired\n  Unavailable: only your client CA ({user.ca.dn})" in out
    assert f"  Source:   {user['client.pem']}\n" in out
    assert f"do not upload {pem_p12_kit.crl}: it has no CRL from your client CA" in out


# -- real nginx, set up as the DLB would be with the imported truststore ------------------

SERVER = """
    server {
        listen 127.0.0.1:@port%(n)d@ ssl;
        ssl_certificate @cert%(n)d@;
        ssl_certificate_key @key%(n)d@;
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_client_certificate @truststore%(n)d@;
        %(crl)s
        add_header X-Verify $ssl_client_verify always;
        location / { return 200 "ok\\n"; }
    }
"""


@dataclass(frozen=True)
class Listener:
    kit: Kit
    crl: bool


@pytest.fixture(scope="module")
def listeners(
    pem_p12_kit: Kit, chain_kit: Kit, ca_key_kit: Kit, deep_kit: Kit
) -> dict[str, Listener]:
    return {
        "pem-p12": Listener(pem_p12_kit, crl=False),
        "pem-p12+crl": Listener(pem_p12_kit, crl=True),
        "chain": Listener(chain_kit, crl=False),
        "ca-key+crl": Listener(ca_key_kit, crl=True),
        "deep": Listener(deep_kit, crl=False),
        "deep+crl": Listener(deep_kit, crl=True),
    }


@pytest.fixture(scope="module")
def nginx(listeners: dict[str, Listener]) -> Iterator[dict[str, tuple[int, Kit]]]:
    """One nginx, a server per listener; yields listener name -> (port, kit)."""
    if not NginxServer.available():
        pytest.fail(
            "nginx is not installed: apt-get install nginx, or deselect -m 'not realserver'"
        )
    config, values = "", dict[str, object]()
    for n, listener in enumerate(listeners.values()):
        config += SERVER % {"n": n, "crl": f"ssl_crl @crl{n}@;" if listener.crl else ""}
        kit = listener.kit
        values |= {f"cert{n}": kit.server_cert, f"key{n}": kit.server_key}
        values |= {f"truststore{n}": kit.truststore, f"crl{n}": kit.crl}
    with NginxServer(config, values=values, port_count=len(listeners)) as server:
        yield {
            name: (port, listener.kit)
            for (name, listener), port in zip(listeners.items(), server.ports, strict=True)
        }


def https_get(port: int, kit: Kit, cert: Path, key: Path) -> tuple[int, str]:
    """GET / presenting cert+key over TLS 1.2; (status, $ssl_client_verify)."""
    context = ssl.create_default_context(cafile=str(kit.server_ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    conn = http.client.HTTPSConnection(LOOPBACK, port, context=context, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Verify", "")
    finally:
        conn.close()


def as_role(nginx: dict[str, tuple[int, Kit]], listener: str, role: str) -> tuple[int, str]:
    port, kit = nginx[listener]
    return https_get(port, kit, kit.client(role).cert, kit.client(role).key)


@pytest.mark.realserver
@pytest.mark.parametrize("listener", ["pem-p12", "chain", "ca-key+crl", "deep"])
@pytest.mark.parametrize("role", ["ca-signed", "self-signed-trusted"])
def test_nginx_accepts_the_imported_identities(
    nginx: dict[str, tuple[int, Kit]], listener: str, role: str
) -> None:
    """nginx with the imported truststore.pem (and CRL, with the CA key) accepts them."""
    assert as_role(nginx, listener, role) == (200, "SUCCESS")


@pytest.mark.realserver
@pytest.mark.parametrize("listener", ["pem-p12", "chain", "ca-key+crl", "deep"])
def test_nginx_refuses_a_client_of_another_ca(
    nginx: dict[str, tuple[int, Kit]], listener: str, user: User
) -> None:
    """Negative control: a certificate from a CA the user did not import is refused."""
    port, kit = nginx[listener]
    stranger = Path(user["stranger.pem"])
    status, verify = https_get(port, kit, stranger, stranger)
    assert (status, verify) == (400, "FAILED:unable to verify the first certificate")
    assert as_role(nginx, listener, "untrusted")[0] == 400


@pytest.mark.realserver
def test_curl_with_the_imported_p12_is_accepted(nginx: dict[str, tuple[int, Kit]]) -> None:
    """curl presenting the kit's .p12 of the user's identity (as Postman would) gets 200."""
    port, kit = nginx["pem-p12"]
    cmd = ["curl", "-sS", "-o", os.devnull, "-w", "%{http_code}", "--cacert", kit.server_ca]
    cmd += ["--cert-type", "P12", "--cert", f"{kit.client('ca-signed').p12}:{P12_PASSWORD}"]
    cmd += ["--resolve", f"localhost:{port}:{LOOPBACK}", f"https://localhost:{port}/"]
    result = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, check=True)
    assert result.stdout == "200"


@pytest.mark.realserver
def test_crl_pem_without_the_ca_key_would_lock_out_ca_signed(
    nginx: dict[str, tuple[int, Kit]],
) -> None:
    """Why crl_incomplete is set: nginx loading that crl.pem refuses the user's ca-signed."""
    assert as_role(nginx, "pem-p12+crl", "ca-signed") == (
        400,
        "FAILED:unable to get certificate CRL",
    )
    assert as_role(nginx, "pem-p12+crl", "self-signed-trusted") == (200, "SUCCESS")
    # The same for a chain whose root's key the kit lacks (its crl_incomplete says so).
    assert as_role(nginx, "deep+crl", "ca-signed") == (400, "FAILED:unable to get certificate CRL")


CA_KEY_VERDICTS = {  # nginx with the ca-key kit's truststore and crl.pem
    "intermediate-signed": (200, "SUCCESS"),
    "expired": (400, "FAILED:certificate has expired"),
    "not-yet-valid": (400, "FAILED:certificate is not yet valid"),
    "revoked": (400, "FAILED:certificate revoked"),
    "wrong-eku": (400, "FAILED:unsuitable certificate purpose"),
}


@pytest.mark.realserver
@pytest.mark.parametrize("role", CA_KEY_VERDICTS)
def test_roles_issued_under_the_users_ca_mean_what_they_say(
    nginx: dict[str, tuple[int, Kit]], role: str
) -> None:
    """With the CA key, expired/revoked/... are refused for their own reason, not "untrusted"."""
    assert as_role(nginx, "ca-key+crl", role) == CA_KEY_VERDICTS[role]
    if role not in ("intermediate-signed", "revoked"):  # unavailable in the deep kit
        assert as_role(nginx, "deep", role) == CA_KEY_VERDICTS[role]


# -- inputs made by the openssl CLI, as users have them -------------------------------------

OPENSSL_FORMATS = {
    "pkcs8-aes256": ["pkey", "-aes256", "-passout", "env:PW"],
    "traditional-aes128": ["pkey", "-traditional", "-aes128", "-passout", "env:PW"],
    "p12-default": ["pkcs12", "-export", "-passout", "env:PW"],
    "p12-legacy-rc2": ["pkcs12", "-export", "-legacy", "-passout", "env:PW"],
}


@pytest.mark.parametrize("form", OPENSSL_FORMATS)
def test_keys_and_p12_made_by_openssl_import(user: User, tmp_path: Path, form: str) -> None:
    """Encrypted keys and .p12 files written by the openssl CLI import with their password."""
    out = tmp_path / "made"
    args: list[str | Path] = [*OPENSSL_FORMATS[form], "-in", user["client.key"], "-out", out]
    if form.startswith("p12"):
        args += ["-inkey", user["client.key"]]
        args[args.index("-in") + 1] = user["client.pem"]
    uc.openssl(*args, env={"PW": KEY_PW})
    if form.startswith("p12"):
        argv = ["--ca-signed-p12", str(out), "--p12-password-env", "MTLS_KEY_PW"]
    else:
        argv = ["--ca-signed", user["client.pem"], "--ca-signed-key", str(out)]
        argv += ["--key-password-env", "MTLS_KEY_PW"]
    kit = imported(tmp_path / "kit", *argv, "--client-ca", user["ca.pem"])
    assert certs_in(kit.client("ca-signed").cert) == [user.client.cert]


# -- refusals: one line, exit 2 ---------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    argv: Callable[[User, Path], list[str]]
    message: Callable[[User, Path], str]
    env: dict[str, str] | None = None


def pem_pair(
    cert: str = "client.pem", key: str = "client.enc.key"
) -> Callable[[User, Path], list[str]]:
    def argv(u: User, _: Path) -> list[str]:
        return [
            "--ca-signed",
            u[cert],
            "--ca-signed-key",
            u[key],
            "--client-ca",
            u["ca.pem"],
            "--key-password-env",
            "MTLS_KEY_PW",
        ]

    return argv


def made_file(name: str, data: Callable[[User], bytes]) -> Callable[[User, Path], str]:
    def path(u: User, tmp: Path) -> str:
        return str(uc.write(tmp / name, data(u), secret=True))

    return path


def expired(u: User) -> bytes:
    made = uc.make("old client", u.ca, start=timedelta(days=-400), end=timedelta(days=-35))
    return uc.pem(made.cert) + uc.key_pem(made.key)


def later(u: User) -> bytes:
    made = uc.make("future client", u.ca, start=timedelta(days=3), end=timedelta(days=300))
    return uc.pem(made.cert) + uc.key_pem(made.key)


def server_only(u: User) -> bytes:
    made = uc.make("server", u.ca, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    return uc.pem(made.cert) + uc.key_pem(made.key)


def ed25519_client(u: User) -> bytes:
    made = uc.make("ed client", u.ca, key=ed25519.Ed25519PrivateKey.generate())
    return uc.pem(made.cert) + uc.key_pem(made.key)


def expired_ca(u: User) -> bytes:
    old = uc.make("Old CA", ca=True, start=timedelta(days=-900), end=timedelta(days=-10))
    return uc.pem(old.cert)


def truncated_p12(u: User) -> bytes:
    return Path(u["tester.p12"]).read_bytes()[:300]


REFUSALS: dict[str, Refusal] = {
    "nothing-given": Refusal(
        lambda u, t: [],
        lambda u, t: (
            "certs import: give your certificates: --ca-signed/--ca-signed-p12,"
            " --self-signed/--self-signed-p12 and/or --client-ca with --client-ca-key"
            " (for a kit of generated certificates only, use certs init)"
        ),
    ),
    "missing-cert": Refusal(
        lambda u, t: ["--ca-signed", f"{t}/nope.pem", "--ca-signed-key", u["client.key"]],
        lambda u, t: f"--ca-signed {t}/nope.pem: cannot read (No such file or directory)",
    ),
    "empty-cert": Refusal(
        lambda u, t: ["--ca-signed", made_file("e.pem", lambda u: b"\n")(u, t)],
        lambda u, t: f"--ca-signed {t}/e.pem: empty file",
    ),
    "key-of-another-cert": Refusal(
        pem_pair(key="tester.key"),
        lambda u, t: (
            f"--ca-signed-key {u['tester.key']}: does not match the certificate in"
            f" --ca-signed {u['client.pem']}"
        ),
    ),
    "wrong-key-password": Refusal(
        pem_pair(),
        lambda u, t: (
            f"--ca-signed-key {u['client.enc.key']}: wrong password"
            " (from environment variable MTLS_KEY_PW)"
        ),
        env={"MTLS_KEY_PW": "not it"},
    ),
    "wrong-p12-password": Refusal(
        lambda u, t: ["--self-signed-p12", u["tester.p12"], "--p12-password-env", "MTLS_P12_PW"],
        lambda u, t: (
            f"--self-signed-p12 {u['tester.p12']}: wrong password"
            " (from environment variable MTLS_P12_PW)"
        ),
        env={"MTLS_P12_PW": "nope"},
    ),
    "password-env-unset": Refusal(
        pem_pair(),
        lambda u, t: (
            "--key-password-env: the environment variable MTLS_KEY_PW is not set"
            f" (it should hold the password of --ca-signed-key {u['client.enc.key']})"
        ),
        env={},
    ),
    "damaged-p12": Refusal(
        lambda u, t: ["--self-signed-p12", made_file("cut.p12", truncated_p12)(u, t)],
        lambda u, t: f"--self-signed-p12 {t}/cut.p12: damaged: not a readable PKCS#12 file",
    ),
    "pem-given-as-p12": Refusal(
        lambda u, t: ["--ca-signed-p12", u["client.pem"]],
        lambda u, t: (
            f"--ca-signed-p12 {u['client.pem']}: not a PKCS#12 (.p12/.pfx) file:"
            " it is PEM; give it with --ca-signed (and --ca-signed-key)"
        ),
    ),
    "public-key-as-key": Refusal(
        pem_pair(key="pub.pem"),
        lambda u, t: (
            f"--ca-signed-key {u['pub.pem']}: block 1 holds a public key (PUBLIC KEY): the"
            " private key is needed"
        ),
    ),
    "no-key-anywhere": Refusal(
        lambda u, t: ["--ca-signed", u["client.pem"], "--client-ca", u["ca.pem"]],
        lambda u, t: (
            f"--ca-signed {u['client.pem']}: holds no private key: give it with"
            " --ca-signed-key KEY (or give a .p12 with --ca-signed-p12)"
        ),
    ),
    "key-without-cert": Refusal(
        lambda u, t: ["--self-signed-p12", u["tester.p12"], "--ca-signed-key", u["client.key"]],
        lambda u, t: "--ca-signed-key: goes with --ca-signed CERT (a .p12 holds its own key)",
    ),
    "expired-client": Refusal(
        lambda u, t: [
            "--ca-signed",
            made_file("old.pem", expired)(u, t),
            "--client-ca",
            u["ca.pem"],
        ],
        lambda u, t: (
            f"--ca-signed {t}/old.pem: the certificate (CN=old client,O=Acme Corp)"
            " expired on {date}: the DLB refuses it, so it cannot be the ca-signed client"
            " (renew it, or check this machine's clock)"
        ),
    ),
    "not-yet-valid-client": Refusal(
        lambda u, t: ["--ca-signed", made_file("new.pem", later)(u, t), "--client-ca", u["ca.pem"]],
        lambda u, t: (
            f"--ca-signed {t}/new.pem: the certificate (CN=future client,O=Acme Corp)"
            " is not valid until {date}: the DLB refuses it, so it cannot be the ca-signed client"
            " (renew it, or check this machine's clock)"
        ),
    ),
    "server-only-eku": Refusal(
        lambda u, t: [
            "--ca-signed",
            made_file("srv.pem", server_only)(u, t),
            "--client-ca",
            u["ca.pem"],
        ],
        lambda u, t: (
            f"--ca-signed {t}/srv.pem: the certificate (CN=server,O=Acme Corp): its"
            " extended key usage (serverAuth) does not allow client authentication (clientAuth):"
            " OpenSSL refuses it as 'unsuitable certificate purpose'"
        ),
    ),
    "ed25519-key": Refusal(
        lambda u, t: [
            "--ca-signed",
            made_file("ed.pem", ed25519_client)(u, t),
            "--client-ca",
            u["ca.pem"],
        ],
        lambda u, t: (
            f"--ca-signed {t}/ed.pem: Ed25519 keys are not supported; use RSA or EC (ECDSA)"
        ),
    ),
    "self-signed-as-ca-signed": Refusal(
        lambda u, t: ["--ca-signed", u["tester.pem"], "--ca-signed-key", u["tester.key"]],
        lambda u, t: (
            f"--ca-signed {u['tester.pem']}: the certificate (CN=cucumber test"
            " client,O=Acme Corp) is self-signed: give it with --self-signed / --self-signed-p12"
        ),
    ),
    "ca-signed-as-self-signed": Refusal(
        lambda u, t: ["--self-signed", u["client.pem"], "--self-signed-key", u["client.key"]],
        lambda u, t: (
            f"--self-signed {u['client.pem']}: the certificate"
            " (CN=salesforce-client,O=Acme Corp) is not self-signed (issued by CN=Acme Client"
            " CA,O=Acme Corp): give it with --ca-signed / --ca-signed-p12"
        ),
    ),
    "client-ca-is-a-leaf": Refusal(
        lambda u, t: [*pem_pair()(u, t), "--client-ca", u["tester.pem"]],
        lambda u, t: (
            f"--client-ca {u['tester.pem']}: certificate 1 (CN=cucumber test"
            " client,O=Acme Corp) is not a CA (basicConstraints CA:FALSE): give the CA that"
            " issued your client certificate"
        ),
    ),
    "client-ca-of-another-ca": Refusal(
        lambda u, t: [*pem_pair()(u, t), "--client-ca", u["other-ca.pem"]],
        lambda u, t: (
            f"--ca-signed {u['client.pem']}: issued by CN=Acme Client CA,O=Acme Corp, which"
            f" is not among the CA certificates given (--client-ca {u['other-ca.pem']}): give"
            " the CA that issued it with --client-ca"
        ),
    ),
    "expired-client-ca": Refusal(
        lambda u, t: [*pem_pair()(u, t), "--client-ca", made_file("oldca.pem", expired_ca)(u, t)],
        lambda u, t: (
            f"--client-ca {t}/oldca.pem: CA certificate 1 (CN=Old CA,O=Acme Corp)"
            " expired on {date}: the DLB refuses every client it vouches for"
        ),
    ),
    "p12-without-its-ca": Refusal(
        lambda u, t: [
            "--self-signed-p12",
            u["tester.p12"],
            "--ca-signed",
            u["client.pem"],
            "--ca-signed-key",
            u["client.key"],
            "--p12-password-env",
            "MTLS_P12_PW",
        ],
        lambda u, t: (
            f"--ca-signed {u['client.pem']}: no CA certificate comes with it, so the"
            " kit cannot tell the DLB whom to trust: give the CA that issued it (CN=Acme Client"
            " CA,O=Acme Corp) with --client-ca"
        ),
    ),
    "ca-key-of-another-ca": Refusal(
        lambda u, t: [*pem_pair()(u, t), "--client-ca-key", u["tester.key"]],
        lambda u, t: (
            f"--client-ca-key {u['tester.key']}: does not match the CA that issued"
            " your client certificate (CN=Acme Client CA,O=Acme Corp)"
        ),
    ),
    "ca-without-client-or-key": Refusal(
        lambda u, t: ["--client-ca", u["ca.pem"]],
        lambda u, t: (
            f"--client-ca {u['ca.pem']}: with no client certificate of yours"
            " (--ca-signed), the kit needs this CA's key to issue one: give it with --client-ca-key"
        ),
    ),
}


@pytest.mark.parametrize("row", REFUSALS)
def test_bad_input_is_one_line_and_exit_2(user: User, tmp_path: Path, row: str) -> None:
    """Each bad input is refused with exactly the one line that names option, file and fix."""
    if row == "public-key-as-key" and not (user.dir / "pub.pem").exists():
        uc.write(user.dir / "pub.pem", uc.openssl("pkey", "-in", user["client.key"], "-pubout"))
    refusal = REFUSALS[row]
    kit = tmp_path / "kit"
    code, out, err = cli_run(
        "certs", "import", str(kit), *refusal.argv(user, tmp_path), env=refusal.env
    )
    expected = refusal.message(user, tmp_path)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    if "{date}" in expected:
        head, tail = expected.split("{date}")
        line = err.removeprefix("mtls-conformance: error: ").rstrip("\n")
        assert line.startswith(head), line
        assert line.endswith(tail), line
    else:
        assert err == f"mtls-conformance: error: {expected}\n"
    assert not (kit / "manifest.json").exists()


def test_both_forms_of_one_role_is_a_usage_error(user: User) -> None:
    """--ca-signed and --ca-signed-p12 together: argparse's usage error, exit 2."""
    code, out, err = cli_run(
        "certs",
        "import",
        "kit",
        "--ca-signed",
        user["client.pem"],
        "--ca-signed-p12",
        user["tester.p12"],
    )
    assert (code, out) == (2, "")
    assert "argument --ca-signed-p12: not allowed with argument --ca-signed" in err


def test_existing_kit_is_not_replaced_without_force(pem_p12_kit: Kit, user: User) -> None:
    """Importing into a dir that holds a kit is refused, naming --force."""
    code, _, err = cli_run(
        "certs", "import", str(pem_p12_kit.directory), *pem_pair()(user, user.dir)
    )
    assert code == 2
    assert err == (
        f"mtls-conformance: error: {pem_p12_kit.directory}: already holds a cert kit"
        " (manifest.json); pass --force to replace it\n"
    )


def test_certificate_expiring_soon_is_a_warning(user: User, tmp_path: Path) -> None:
    """A user certificate valid for 10 more days imports, with a warning on stderr."""
    soon = uc.make("short-lived", user.ca, end=timedelta(days=10, hours=1))
    cert = uc.write(tmp_path / "soon.pem", uc.pem(soon.cert) + uc.key_pem(soon.key), secret=True)
    code, _, err = cli_run(
        "certs",
        "import",
        str(tmp_path / "kit"),
        "--ca-signed",
        str(cert),
        "--client-ca",
        user["ca.pem"],
    )
    assert code == 0
    expiry = soon.cert.not_valid_after_utc
    assert err == (
        f"mtls-conformance: warning: --ca-signed {cert}: the certificate expires on"
        f" {expiry:%Y-%m-%d}, in 10 days; the kit stops loading then\n"
    )


# -- passwords: from the environment or a terminal, never shown ------------------------------


def python_m(
    *argv: str, env: dict[str, str], new_session: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m mtls_conformance argv` with no stdin (new_session: no terminal at all)."""
    return subprocess.run(
        [sys.executable, "-m", "mtls_conformance", *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        timeout=120,
        start_new_session=new_session,
    )


def test_password_from_env_works_and_is_never_shown(user: User, tmp_path: Path) -> None:
    """A real `python -m` run: env passwords open the files; none appear in output or kit."""
    argv = ["certs", "import", str(tmp_path / "kit"), *pem_pair()(user, tmp_path)]
    argv += ["--self-signed-p12", user["tester.p12"], "--p12-password-env", "MTLS_P12_PW"]
    good = python_m(*argv, env=ENV)
    assert good.returncode == 0, good.stderr
    argv[2] = str(tmp_path / "kit2")
    bad = python_m(*argv, env={**ENV, "MTLS_P12_PW": "Wrong-Pass-123"})
    assert bad.returncode == 2
    assert bad.stderr == (
        f"mtls-conformance: error: --self-signed-p12 {user['tester.p12']}: wrong password"
        " (from environment variable MTLS_P12_PW)\n"
    )
    for run in (good, bad):
        for secret in (KEY_PW, P12_PW, "Wrong-Pass-123"):
            assert secret not in run.stdout + run.stderr
            assert secret not in " ".join(argv)
    manifest = (tmp_path / "kit/manifest.json").read_text()
    assert "MTLS_P12_PW" in manifest  # the variable's name is how to remake the kit
    assert P12_PW not in manifest
    assert KEY_PW not in manifest


def test_encrypted_key_without_terminal_or_env_names_the_option(user: User, tmp_path: Path) -> None:
    """No --key-password-env and no terminal: one line saying which option to use, exit 2."""
    run = python_m(
        "certs",
        "import",
        str(tmp_path / "kit"),
        "--ca-signed",
        user["client.pem"],
        "--ca-signed-key",
        user["client.enc.key"],
        "--client-ca",
        user["ca.pem"],
        env={},
        new_session=True,
    )
    assert run.returncode == 2
    assert run.stderr == (
        f"mtls-conformance: error: --ca-signed-key {user['client.enc.key']}: protected by a"
        " password: name an environment variable that holds it with --key-password-env NAME"
        " (no terminal to ask on)\n"
    )


def test_password_value_given_as_env_name_is_not_echoed(user: User, tmp_path: Path) -> None:
    """A password typed where the variable's name belongs is not repeated in the error."""
    argv = pem_pair()(user, tmp_path)
    argv[argv.index("MTLS_KEY_PW")] = KEY_PW
    code, out, err = cli_run("certs", "import", str(tmp_path / "kit"), *argv, env={})
    assert code == 2
    assert KEY_PW not in out + err
    assert err.startswith(
        "mtls-conformance: error: --key-password-env: the environment variable is not set"
    )


def on_terminal(argv: list[str], answer: str) -> tuple[int, str]:
    """Run `python -m mtls_conformance argv` on a pseudo-terminal, typing answer at the
    password prompt; (exit code, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout, stderr and /dev/tty are the pty
        try:
            os.environ["PYTHONPATH"] = str(REPO)
            os.execv(sys.executable, [sys.executable, "-m", "mtls_conformance", *argv])
        finally:
            os._exit(127)
    shown, typed = b"", False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        if not typed and b"Password for" in shown:
            os.write(fd, answer.encode() + b"\n")
            typed = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


@pytest.mark.parametrize(("answer", "code"), [(KEY_PW, 0), ("guess", 2)], ids=["right", "wrong"])
def test_prompt_on_a_terminal_reads_the_password_without_echo(
    user: User, tmp_path: Path, answer: str, code: int
) -> None:
    """With no env option, the password is asked on the terminal, not echoed, and checked."""
    argv = [
        "certs",
        "import",
        str(tmp_path / "kit"),
        "--ca-signed",
        user["client.pem"],
        "--ca-signed-key",
        user["client.enc.key"],
        "--client-ca",
        user["ca.pem"],
    ]
    exit_code, shown = on_terminal(argv, answer)
    assert exit_code == code, shown
    assert f"Password for --ca-signed-key {user['client.enc.key']}: " in shown
    assert answer not in shown
    if code == 0:
        assert load_kit(tmp_path / "kit").client("ca-signed").subject == user.client.dn
    else:
        assert shown.rstrip().endswith(
            f"--ca-signed-key {user['client.enc.key']}: wrong password (typed at the prompt)"
        )


# -- the suite itself, run as a user would against nginx set up with the imported kit -------


@pytest.mark.realserver
def test_the_suite_passes_with_an_imported_kit(ca_key_kit: Kit, tmp_path: Path) -> None:
    """`pytest --host ... --certs <imported kit>` against nginx that trusts it: all green."""
    with EchoServer() as backend, dlb_nginx(ca_key_kit, DlbNginx("mandatory"), backend.port) as lb:
        run = run_suite(
            *("--host", "localhost", "--connect-to", "127.0.0.1", "--port", str(lb.port)),
            *("--certs", str(ca_key_kit.directory), "--server-ca", str(ca_key_kit.server_ca)),
            *("--mode", "mandatory", "--echo-path", "/anything", "--with-crl"),
            reports=tmp_path / "reports",
        )
    assert run.exit_code == 0, run.output
    results = run.scenarios()
    assert set(results.values()) == {"passed"}, results
    for scenario in (
        "A trusted client certificate is accepted: ca-signed",  # the user's own certificate
        "An invalid client certificate is refused: expired",  # issued under the user's CA
        "A revoked client certificate is refused when the CRL is loaded",
        "A leaf under an intermediate CA is accepted when the client sends the chain",
    ):
        assert results.get(scenario) == "passed", scenario


def test_roles_a_kit_lacks_are_skipped_with_the_reason(pem_p12_kit: Kit, tmp_path: Path) -> None:
    """Without the CA's key the kit cannot make expired, revoked, ... certificates under the
    user's CA: those scenarios are skipped with the reason, the user's own certificates are
    tested, and nothing fails."""
    assert pem_p12_kit.unavailable  # the premise: this kit lacks some roles
    with (
        EchoServer() as backend,
        dlb_nginx(pem_p12_kit, DlbNginx("mandatory", crl=False), backend.port) as lb,
    ):
        run = run_suite(
            *("--host", "localhost", "--connect-to", "127.0.0.1", "--port", str(lb.port)),
            *("--certs", str(pem_p12_kit.directory), "--server-ca", str(pem_p12_kit.server_ca)),
            *("--mode", "mandatory", "--echo-path", "/anything"),
            reports=tmp_path / "reports",
        )
    assert run.exit_code == 0, run.output
    results = run.scenarios()
    assert results["A trusted client certificate is accepted: ca-signed"] == "passed"
    assert results["A trusted client certificate is accepted: self-signed-trusted"] == "passed"
    assert results["An invalid client certificate is refused: expired"] == "skipped"
    reasons = [
        line
        for feature in run.cucumber
        for element in feature["elements"]
        if element["name"] == "An invalid client certificate is refused: expired"
        for step in element["steps"]
        for line in step.get("output", [])
    ]
    assert any("the kit has no 'expired' certificate" in line for line in reasons), reasons


def test_with_crl_is_refused_for_a_kit_whose_crl_is_incomplete(
    pem_p12_kit: Kit, tmp_path: Path
) -> None:
    """--with-crl with a kit whose crl.pem lacks an issuer's CRL is a usage error (exit 4),
    since loading that file would make the target refuse that issuer's clients."""
    assert pem_p12_kit.crl_incomplete is not None
    run = run_suite(
        "--host", "localhost", "--certs", str(pem_p12_kit.directory), "--with-crl", reports=tmp_path
    )
    assert run.exit_code == 4, run.output
    assert "--with-crl: " in run.output
    assert "Traceback" not in run.output
