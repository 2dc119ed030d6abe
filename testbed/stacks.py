"""Stacks of this project on the real engine, for tests and benchmarks: the project's engine
environment, throwaway stacks in private copies and state backends, PKI-only stacks, and the
engine call that rides out a devcloud restart."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml
from pulumi import automation as auto

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "config", "render")
LOCAL_TEST_IMAGE = ".state/amphora-test.qcow2"  # the image stacks/Pulumi.local.yaml uploads


def python_project(work_dir: Path, name: str, program: str) -> Path:
    """A one-file Pulumi Python project on this project's virtualenv (probes, benchmarks)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "Pulumi.yaml").write_text(
        f"name: {name}\nruntime:\n  name: python\n  options:\n    virtualenv: {ROOT / '.venv'}\n"
    )
    (work_dir / "__main__.py").write_text(program)
    return work_dir


# The PKI outputs a PKI-only stack exports (no OpenStack behind it); the first five are secrets.
PKI_OUTPUTS = (
    "ca_private_key", "ca_private_key_passphrase", "client_cert", "server_certs_key_passphrase", "heartbeat_key",
    "ca_certificate", "server_ca", "client_ca", "server_ca_expires_at", "client_ca_expires_at", "client_cert_expires_at",
)
PKI_PROGRAM = f"""\
import pulumi
from components.pki import OctaviaPki
from config.errors import ConfigError
from config.pki import parse_pki_settings

try:  # as __main__.py: a config error is one line
    settings = parse_pki_settings(pulumi.Config().get_object("pki"))
except ConfigError as err:
    raise pulumi.RunError(str(err)) from None
pki = OctaviaPki("octavia-pki", settings)
for name in {PKI_OUTPUTS!r}:
    pulumi.export(name, getattr(pki, name))
"""


def pki_stack(tmp: Path, name: str) -> auto.Stack:
    """A stack of this project's OctaviaPki alone on the real engine, its state in tmp."""
    project_dir, state_dir = python_project(tmp / "project", name, PKI_PROGRAM), tmp / "state"
    state_dir.mkdir()
    env = {
        "PATH": f"{ROOT / 'bin'}:{os.environ['PATH']}",
        # The program and the dynamic provider process both import the project's packages from the checkout.
        "PYTHONPATH": str(ROOT),
        "PULUMI_BACKEND_URL": f"file://{state_dir}",
        "PULUMI_CONFIG_PASSPHRASE": f"{name}-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "1",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_HOME": str(tmp / "pulumi-home"),
    }
    options = auto.LocalWorkspaceOptions(
        work_dir=str(project_dir), env_vars=env, pulumi_command=auto.PulumiCommand(root=str(ROOT), skip_version_check=True),
    )
    return auto.create_stack("test", work_dir=str(project_dir), opts=options)


def remove_pki_stack(stack: auto.Stack) -> None:
    from components.pki_provider import CLOCK_ENV

    stack.workspace.env_vars.pop(CLOCK_ENV, None)  # destroy at the real clock
    stack.destroy()
    stack.workspace.remove_stack(stack.name)


def make_test_image(path: Path, size: str = "64M") -> Path:
    """A real (empty) qcow2: Glance checks uploaded data against the declared disk format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    return path


# Engine errors that mean a devcloud service was briefly down (the fault-injection tests stop them).
TRANSIENT_ERRORS = ("connection refused", "connection reset by peer", "retries exhausted", "503 Service Unavailable")


def wait_for_devcloud(timeout: float = 180) -> None:
    """Return once every devcloud service answers (`devcloud.py status`), or raise."""
    deadline = time.monotonic() + timeout
    while True:
        status = subprocess.run([sys.executable, str(ROOT / "devcloud" / "devcloud.py"), "status"],
                                capture_output=True, text=True)
        if status.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the devcloud is not healthy after {timeout:.0f}s:\n{status.stdout}")
        time.sleep(3)


def engine(operation, *args, attempts: int = 3, **kwargs):
    """Run a stack operation; after a devcloud outage (only then) wait for it and run it again.

    Engine operations are idempotent: a rerun after a failed call does only what is left.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation(*args, **kwargs)
        except auto.errors.CommandError as err:
            if attempt == attempts or not any(text in str(err) for text in TRANSIENT_ERRORS):
                raise
            wait_for_devcloud()


def connect(env: dict, cloud: str | None = None):
    """openstacksdk on a cloud of the devcloud's clouds.yaml (default: the env's OS_CLOUD)."""
    import openstack.config

    config = openstack.config.OpenStackConfig(config_files=[env["OS_CLIENT_CONFIG_FILE"]])
    return openstack.connection.Connection(config=config.get_one(cloud=cloud or env["OS_CLOUD"]))


def project_env(**overrides: str) -> dict:
    """The environment tools/env.sh sets up (the one place it is defined), plus overrides."""
    out = subprocess.run(["bash", "-c", "source tools/env.sh && env -0"], cwd=ROOT,
                         capture_output=True, check=True)
    env = dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return {**env, **overrides}


class StackFactory:
    """Stacks of this project in a private copy and state backend, cleaned up at the end."""

    def __init__(self, tmp: Path, env: dict):
        self.tmp, self.env, self.stacks = tmp, env, []

    def project_copy(self, name: str) -> Path:
        work_dir = self.tmp / name
        work_dir.mkdir()
        for entry in PROJECT_FILES:
            source = ROOT / entry
            copy = shutil.copytree if source.is_dir() else shutil.copy
            copy(source, work_dir / entry, **({"ignore": shutil.ignore_patterns("__pycache__")} if source.is_dir() else {}))
        (work_dir / ".venv").symlink_to(ROOT / ".venv")
        (work_dir / "stacks").mkdir()
        make_test_image(work_dir / LOCAL_TEST_IMAGE)
        return work_dir

    def create(self, example: str, overrides: dict | None = None, name: str | None = None) -> auto.Stack:
        """A new stack configured like stacks/Pulumi.<example>.yaml, with config overrides.

        Its OpenStack names carry the stack name as prefix and a flat network gets a physical
        network of its own, so stacks of one run never collide on the shared devcloud. All of
        them tag their images alike in the one service project, so amp_image_tag_shared is true
        unless overridden (tests of the tag check set it false).
        """
        stack_name = name or f"{example}-{uuid.uuid4().hex[:6]}"
        work_dir = self.project_copy(stack_name)
        config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{example}.yaml").read_text())["config"]
        unique = {"name_prefix": f"{stack_name}-", "amp_image_tag_shared": True}
        if config.get("octavia-infra:mgmt_network_type", "flat") == "flat":
            unique["mgmt_physical_network"] = f"phys-{stack_name}"
        config = {**config, **{f"octavia-infra:{k}": v for k, v in {**unique, **(overrides or {})}.items()}}
        options = auto.LocalWorkspaceOptions(
            work_dir=str(work_dir), env_vars=self.env,
            pulumi_command=auto.PulumiCommand(root=str(ROOT), skip_version_check=True),
        )
        stack = auto.create_stack(stack_name, work_dir=str(work_dir), opts=options)
        self.stacks.append(stack)
        write_config(stack, config)
        return stack

    def cleanup(self) -> None:
        """Destroys every stack; a failure is an error of the test, not a silent leak."""
        failures = []
        for stack in self.stacks:
            try:
                engine(stack.destroy)
                stack.workspace.remove_stack(stack.name)
            except auto.errors.CommandError as err:
                failures.append(f"{stack.name}: {err}")
        if failures:
            raise AssertionError("stacks left in the cloud:\n" + "\n".join(failures))


def stack_config_file(stack: auto.Stack) -> Path:
    return Path(stack.workspace.work_dir) / "stacks" / f"Pulumi.{stack.name}.yaml"


def write_config(stack: auto.Stack, values: dict) -> None:
    """Merge config values (keys with or without the project namespace) into the stack's file.

    Written as YAML, as in stacks/Pulumi.<env>.yaml, so arrays and objects keep their types
    (`pulumi config set` would store a JSON text as a string, which the schema rejects).
    """
    path = stack_config_file(stack)
    settings = yaml.safe_load(path.read_text()) if path.exists() else None
    settings = settings or {}
    config = settings.setdefault("config", {})
    for key, value in values.items():
        config[key if ":" in key else f"octavia-infra:{key}"] = value
    path.write_text(yaml.safe_dump(settings, sort_keys=False))


def stack_factory(tmp: Path, devcloud_env: dict) -> StackFactory:
    """A factory whose stacks keep their projects and file backend under tmp."""
    env = project_env(
        PULUMI_BACKEND_URL=f"file://{tmp / 'state'}",
        PULUMI_CONFIG_PASSPHRASE="test-passphrase",
        # scoped to the service project, which owns images and keypairs
        **{**devcloud_env, "OS_CLOUD": "devcloud-service"},
    )
    (tmp / "state").mkdir()
    return StackFactory(tmp, env)
