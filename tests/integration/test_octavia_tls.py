"""The stack's PKI against Octavia's own amphora TLS code (Octavia 19.0.0 of the devcloud virtualenv).

A PKI-only stack on the real engine lives through a deployment, a client certificate renewal, a
rollover of both CAs with keep_previous_until, and the first up once the overlap is over (the date
passed, keep_previous_until removed, as a past date is refused). At each step the
outputs are written to files as a deployment tool would, with the project's octavia.conf rendering,
and Octavia's code runs in subprocesses (tests/integration/octavia_tls_probe.py):

- the controller worker's GenerateServerPEMTask signs amphora server certificates with
  [certificates] ca_certificate, ca_private_key and ca_private_key_passphrase;
- the amphora agent's API server serves them on 127.0.0.1 and requires a client certificate
  trusted by its client_ca.pem (the stack's client_ca at the amphora's boot);
- the controller's amphora driver, with [haproxy_amphora] client_cert and server_ca, calls
  get_info on it and checks that the server certificate names the amphora ID.

The renewal is rehearsed with OCTAVIA_PKI_NOW in the renewal window: the clock moves the decision
only, the certificate is issued at the real clock, which every TLS stack checks validity against.
"""

import datetime
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from pulumi import automation as auto

from components import pki_crypto as crypto
from components.pki_provider import CLOCK_ENV
from render.rendering import CERT_FILES, render_octavia_conf, with_cert_paths
from devcloud import devcloud as dc
from testbed.stacks import pki_stack, remove_pki_stack

PROBE = Path(__file__).with_name("octavia_tls_probe.py")
FAST_KEYS = {"key_type": "ec", "key_size": 256}
# What Octavia's controllers are configured with (rendered into octavia.conf or certificate files).
OUTPUTS = (
    "ca_certificate", "ca_private_key", "ca_private_key_passphrase", "server_ca", "client_ca",
    "client_cert", "server_certs_key_passphrase",
)
# The client certificate lives 730 days and renews 30 days before expiry: 715 days on, its renewal
# has been due for 15 days. Certificates are issued at the real clock whatever the rehearsed one.
NOW = datetime.datetime.now(datetime.timezone.utc)
RENEWAL_REHEARSED_AT = NOW + datetime.timedelta(days=715)
KEEP_PREVIOUS_UNTIL = (NOW + datetime.timedelta(days=3)).date()
ROLLOVER = {**FAST_KEYS, "generation": 2, "keep_previous_until": KEEP_PREVIOUS_UNTIL.isoformat()}
ROLLED_OVER = {**FAST_KEYS, "generation": 2}  # once the date has passed: keep_previous_until removed

# The agent's /1.0/info reports the versions of these packages (dpkg-query on a Debian/Ubuntu
# amphora); this host need not have them installed.
FAKE_DPKG_QUERY = """\
#!/bin/sh
case "$*" in *haproxy) printf 2.8.5;; *keepalived) printf 2.2.8;; *ipvsadm) printf 1.31;; *) exit 1;; esac
"""
# Test-only octavia.conf options, read after the rendered file.
CONTROLLER_TEST_CONF = """\
[certificates]
# the listeners' certificate store (Barbican by default); the driver loads it, get_info never uses it
cert_manager = local_cert_manager

[haproxy_amphora]
# one attempt: a refused handshake is the answer, not a reason to retry for ten minutes
connection_max_retries = 1
connection_retry_interval = 0
"""
AGENT_START_TIMEOUT = 90  # Octavia's imports alone take seconds on a busy 2-core machine


@pytest.fixture(scope="module")
def octavia_python():
    return dc.ensure_venv() / "bin" / "python"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = pki_stack(tmp_path_factory.mktemp("pki-stack"), "octavia-tls-test")
    yield stack
    remove_pki_stack(stack)


def up_at(stack, moment, pki):
    """`pulumi up` with the PKI clock at moment (None: the real clock); the outputs' values."""
    if moment is None:
        stack.workspace.env_vars.pop(CLOCK_ENV, None)
    else:
        stack.workspace.env_vars[CLOCK_ENV] = moment.isoformat()
    stack.set_config("pki", auto.ConfigValue(json.dumps(pki)), path=False)
    return {name: output.value for name, output in stack.up().outputs.items()}


@pytest.fixture(scope="module")
def pki(stack):
    """The stack's outputs after each up of the PKI's life, in order."""
    steady = {"server_ca": FAST_KEYS, "client_ca": FAST_KEYS, "client_cert": FAST_KEYS}
    rolling = {"server_ca": ROLLOVER, "client_ca": ROLLOVER, "client_cert": FAST_KEYS}
    rolled = {"server_ca": ROLLED_OVER, "client_ca": ROLLED_OVER, "client_cert": FAST_KEYS}
    return {
        "deployed": up_at(stack, None, steady),
        "renewed": up_at(stack, RENEWAL_REHEARSED_AT, steady),
        "rolling_over": up_at(stack, None, rolling),
        "rolled_over": up_at(stack, None, rolled),
    }


class Octavia:
    """Controllers and amphorae built from the stack's outputs, run by Octavia's code."""

    def __init__(self, python: Path, tmp: Path):
        self.python, self.tmp, self.agents = python, tmp, []
        fake_bin = tmp / "fake-bin"
        fake_bin.mkdir()
        (fake_bin / "dpkg-query").write_text(FAKE_DPKG_QUERY)
        (fake_bin / "dpkg-query").chmod(0o755)
        self.agent_path = f"{fake_bin}:{os.environ['PATH']}"

    def probe(self, *args, timeout=300):
        return subprocess.run(
            [str(self.python), str(PROBE), *map(str, args)], capture_output=True, text=True, timeout=timeout,
        )

    def controller(self, name: str, outputs: dict, client_cert: str | None = None) -> list[Path]:
        """octavia.conf files of a controller deployed with these outputs (and another client_cert)."""
        cert_dir = self.tmp / name
        cert_dir.mkdir()
        files = {**outputs, **({"client_cert": client_cert} if client_cert else {})}
        for output, file_name in CERT_FILES.items():
            write_private(cert_dir / file_name, files[output])
        rendered = cert_dir / "octavia.conf"
        rendered.write_text(render_octavia_conf(with_cert_paths(files, str(cert_dir))))
        test_options = cert_dir / "octavia-test.conf"
        test_options.write_text(CONTROLLER_TEST_CONF)
        return [rendered, test_options]

    def boot_amphora(self, name: str, controller_conf: list[Path], outputs: dict) -> "Amphora":
        """An amphora as the worker boots it: server.pem signed now, client_ca.pem as of now."""
        amphora = Amphora(str(uuid.uuid4()), self.tmp / name)
        amphora.dir.mkdir()
        signed = self.probe("sign", "--amphora-id", amphora.id, "--out", amphora.server_pem, *config_args(controller_conf))
        assert signed.returncode == 0, (signed.stdout + signed.stderr)[-3000:]
        (amphora.dir / "client_ca.pem").write_text(outputs["client_ca"])
        self.agents.append(amphora)
        amphora.start(self)
        return amphora

    def get_info(self, controller_conf: list[Path], *amphorae: "Amphora") -> list[dict]:
        """The controller driver's get_info on each amphora: {"info": ...} or {"error", "detail"}."""
        targets = [arg for amphora in amphorae for arg in ("--amphora", f"{amphora.id}@{amphora.port}")]
        results = self.tmp / f"results-{uuid.uuid4().hex}.json"
        run = self.probe("get-info", *targets, "--out", results, *config_args(controller_conf))
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        return json.loads(results.read_text())

    def stop(self):
        running = [amphora.process for amphora in self.agents if amphora.process and amphora.process.poll() is None]
        for process in running:
            os.killpg(process.pid, signal.SIGINT)  # gunicorn's quick shutdown, worker included
        for process in running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Amphora:
    def __init__(self, amphora_id: str, directory: Path, port: int | None = None):
        self.id, self.dir, self.port, self.process = amphora_id, directory, port, None

    @property
    def server_pem(self) -> Path:
        return self.dir / "server.pem"

    def start(self, octavia: Octavia):
        self.port = free_port()
        conf = self.dir / "amphora-agent.conf"
        conf.write_text(
            f"[haproxy_amphora]\nbind_host = 127.0.0.1\nbind_port = {self.port}\n\n"
            f"[amphora_agent]\nagent_server_cert = {self.server_pem}\n"
            f"agent_server_ca = {self.dir / 'client_ca.pem'}\nagent_server_network_dir = {self.dir / 'interfaces'}\n"
        )
        env = {
            **os.environ, "PATH": octavia.agent_path,
            # gunicorn's control socket goes under $XDG_RUNTIME_DIR: one per agent, none in $HOME
            "XDG_RUNTIME_DIR": str(self.dir),
        }
        with (self.dir / "agent.log").open("w") as log:
            self.process = subprocess.Popen(
                [str(octavia.python), str(PROBE), "agent", "--config-file", str(conf)],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + AGENT_START_TIMEOUT
        while not listening(self.port):
            assert self.process.poll() is None and time.monotonic() < deadline, (
                f"the amphora agent did not start:\n{(self.dir / 'agent.log').read_text()[-3000:]}"
            )
            time.sleep(0.2)


@pytest.fixture(scope="module")
def octavia(octavia_python, tmp_path_factory):
    deployment = Octavia(octavia_python, tmp_path_factory.mktemp("octavia"))
    yield deployment
    deployment.stop()


@pytest.fixture(scope="module")
def controllers(octavia, pki):
    """octavia.conf of the controllers after each up."""
    return {step: octavia.controller(f"controller-{step}", outputs) for step, outputs in pki.items()}


@pytest.fixture(scope="module")
def amphorae(octavia, pki, controllers):
    """Amphorae booted by the controllers after the first up, the renewal and the rollover."""
    return {
        step: octavia.boot_amphora(f"amphora-{step}", controllers[step], pki[step])
        for step in ("deployed", "renewed", "rolling_over")
    }


def config_args(conf_files: list[Path]) -> list[str]:
    return [arg for path in conf_files for arg in ("--config-file", str(path))]


def write_private(path: Path, text: str):
    path.touch(mode=0o600)
    path.write_text(text)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def certificates(bundle: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(bundle.encode())


def client_certificate(outputs: dict) -> x509.Certificate:
    return crypto.load_certificate(outputs["client_cert"])  # the bundle's first block; the key stays unprinted


def signed_by(certificate: x509.Certificate, issuer_pem: str) -> bool:
    try:
        certificate.verify_directly_issued_by(crypto.load_certificate(issuer_pem))
        return True
    except (InvalidSignature, ValueError):
        return False


def assert_answered(result: dict, amphora: Amphora):
    """The agent answered /1.0/info over the mutually authenticated connection."""
    assert "info" in result, f"amphora {amphora.id}: {result}"
    assert result["info"]["api_version"] == "1.0"
    assert result["info"]["haproxy_version"] == "2.8.5"  # from the agent's amphora_info, via dpkg-query


def assert_refused(result: dict, reason: str):
    assert "error" in result, f"expected a refusal, got {result}"
    assert reason in result["detail"]


def foreign_client_cert() -> str:
    """A controller client certificate (certificate and key) from a CA nobody configured."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = crypto.generate_private_key("ec", 256), crypto.generate_private_key("ec", 256)
    subject = crypto.Subject(common_name="Octavia controller client CA")  # the same name as the stack's
    ca = crypto.build_ca_certificate(ca_key, subject, 30, now)
    cert = crypto.build_client_certificate(key, crypto.Subject(common_name="octavia-controller"), 30, ca, ca_key, now)
    return crypto.pem_bundle(crypto.certificate_pem(cert), crypto.private_key_pem(key))


def test_octavia_signs_amphora_certificates_with_the_stack_ca(pki, amphorae):
    deployed = amphorae["deployed"]
    server_certificate = certificates(deployed.server_pem.read_text())[0]
    san = server_certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [deployed.id]
    assert signed_by(server_certificate, pki["deployed"]["ca_certificate"])
    assert b"PRIVATE KEY-----" in deployed.server_pem.read_bytes()  # the amphora's key, decrypted from the worker's Fernet blob


def test_controller_and_amphora_authenticate_each_other(octavia, controllers, amphorae):
    amphora = amphorae["deployed"]
    impostor = Amphora(str(uuid.uuid4()), amphora.dir, amphora.port)  # the right server, a different amphora ID
    answered, wrong_name = octavia.get_info(controllers["deployed"], amphora, impostor)
    assert_answered(answered, amphora)
    assert_refused(wrong_name, f"hostname '{impostor.id}' doesn't match '{amphora.id}'")


def test_agent_refuses_a_client_certificate_from_another_ca(octavia, pki, amphorae):
    stranger = octavia.controller("controller-foreign", pki["deployed"], client_cert=foreign_client_cert())
    [refused] = octavia.get_info(stranger, amphorae["deployed"])
    assert_refused(refused, "[SSL: TLSV1_ALERT_UNKNOWN_CA]")


def test_renewed_client_certificate_works_with_running_and_new_amphorae(octavia, pki, controllers, amphorae):
    deployed, renewed = pki["deployed"], pki["renewed"]
    assert client_certificate(renewed) != client_certificate(deployed)
    assert {name for name in OUTPUTS if renewed[name] != deployed[name]} == {"client_cert"}
    # Booted before the renewal, booted after it.
    results = octavia.get_info(controllers["renewed"], amphorae["deployed"], amphorae["renewed"])
    for result, amphora in zip(results, (amphorae["deployed"], amphorae["renewed"]), strict=True):
        assert_answered(result, amphora)


def test_ca_rollover_keeps_old_and_new_amphorae_working(octavia, pki, controllers, amphorae):
    booted = ("deployed", "renewed", "rolling_over")  # the last one during the rollover
    results = octavia.get_info(controllers["rolling_over"], *(amphorae[step] for step in booted))
    for result, step in zip(results, booted, strict=True):
        assert_answered(result, amphorae[step])

    # How, as docs/pki.md has it: both bundles hold the new and the previous CA, the client
    # certificate stays signed by the previous client CA, Octavia signs new amphorae with the new server CA.
    renewed, rolling = pki["renewed"], pki["rolling_over"]
    assert certificates(rolling["server_ca"]) == certificates(rolling["ca_certificate"] + renewed["ca_certificate"])
    assert certificates(rolling["client_ca"])[1:] == certificates(renewed["client_ca"])
    assert client_certificate(rolling) == client_certificate(renewed)
    new_amphora_cert = certificates(amphorae["rolling_over"].server_pem.read_text())[0]
    assert signed_by(new_amphora_cert, rolling["ca_certificate"])
    assert not signed_by(new_amphora_cert, renewed["ca_certificate"])


def test_after_keep_previous_until_only_amphorae_booted_since_the_rollover_work(octavia, pki, controllers, amphorae):
    booted_during, booted_before = amphorae["rolling_over"], amphorae["renewed"]
    answered, refused = octavia.get_info(controllers["rolled_over"], booted_during, booted_before)
    assert_answered(answered, booted_during)
    # signed by the previous server CA, which the controllers no longer trust
    assert_refused(refused, "CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate")

    # How, as docs/pki.md has it: the previous CAs leave the bundles, client_cert is reissued from the new client CA.
    rolling, rolled = pki["rolling_over"], pki["rolled_over"]
    new_client_ca = certificates(rolling["client_ca"])[0]
    assert certificates(rolled["client_ca"]) == [new_client_ca]
    assert certificates(rolled["server_ca"]) == certificates(rolling["ca_certificate"])
    assert signed_by(client_certificate(rolled), crypto.certificate_pem(new_client_ca))
