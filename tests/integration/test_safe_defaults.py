"""The devcloud's defaults stay on the local stack (issue 15, "devcloud defaults reach production
commands"): its published passphrase and `stack select --create` are for `local` only. Any other
STACK is used as it exists; a missing one is refused with the command that creates it, and
`make stack-init` wants a passphrase of the operator's own.

Real `make` and the real engine, in a copy of the project (Makefile, tools/env.sh, Pulumi.yaml,
stacks/) with a file backend under tmp_path: neither the checkout's stacks/ nor its .state can
be touched, even by a regression.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.stacks import ROOT

PULUMI = str(ROOT / "bin" / "pulumi")
DEVCLOUD_PASSPHRASE = "local-devcloud-only"
# Variables of the caller's shell that would change what is tested (secrets, backend, a parent make).
CALLER_ONLY = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_BACKEND_URL",
               "MAKEFLAGS", "MAKELEVEL", "MFLAGS")


class Project:
    def __init__(self, root: Path, state: Path, home: Path):
        self.root, self.state, self.home = root, state, home

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in CALLER_ONLY}
        return {**env, "PULUMI_BACKEND_URL": f"file://{self.state}", "PULUMI_HOME": str(self.home),
                "PULUMI_SKIP_UPDATE_CHECK": "1", **extra}

    def make(self, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", *args], cwd=self.root, env=self.env(**extra),
                              capture_output=True, text=True, timeout=300)

    def stacks_in_backend(self) -> list[str]:
        out = subprocess.run([PULUMI, "stack", "ls", "--json"], cwd=self.root, env=self.env(),
                             capture_output=True, text=True, check=True)
        return [stack["name"] for stack in json.loads(out.stdout)]

    def stack_files(self) -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in sorted((self.root / "stacks").iterdir())}


@pytest.fixture
def project(tmp_path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Makefile", "Pulumi.yaml"):
        shutil.copy(ROOT / name, root / name)
    (root / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "env.sh", root / "tools" / "env.sh")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    for link in ("bin", ".venv"):
        (root / link).symlink_to(ROOT / link)
    (root / ".state").mkdir()
    (root / ".state" / "amphora-test.qcow2").touch()  # the local stack's image: not needed to refuse
    (tmp_path / "state").mkdir()
    return Project(root, tmp_path / "state", tmp_path / "pulumi-home")


def refusal(result: subprocess.CompletedProcess) -> str:
    """The last line the command printed before make's own `make: *** [...] Error` line."""
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    return lines[-1]


@pytest.mark.parametrize("stack", ["prod", "porod"])
def test_preview_of_a_stack_that_does_not_exist_refuses(project, stack):
    before = project.stack_files()
    assert "encryptionsalt" not in before["Pulumi.prod.yaml"].decode()

    result = project.make("preview", f"STACK={stack}")

    assert project.stacks_in_backend() == []
    assert project.stack_files() == before  # no stack file created, no salt written into prod's
    line = refusal(result)
    assert line.startswith(f"stack '{stack}' does not exist in file://{project.state}; create it with: "
                           f"make stack-init STACK={stack} SECRETS_PROVIDER="), line


@pytest.mark.parametrize("target", ["up", "preview-md", "destroy", "outputs", "devcloud-octavia"])
def test_every_stack_command_refuses_a_stack_that_does_not_exist(project, target):
    before = project.stack_files()
    result = project.make(target, "STACK=prod", PULUMI_CONFIG_PASSPHRASE="an-operator-passphrase")

    assert project.stacks_in_backend() == []
    assert project.stack_files() == before
    assert "create it with: make stack-init STACK=prod" in refusal(result)


@pytest.mark.parametrize("secrets", ["none", "devcloud passphrase", "devcloud passphrase file", "empty passphrase"])
def test_stack_init_refuses_without_a_passphrase_of_its_own(project, tmp_path, secrets):
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(f"{DEVCLOUD_PASSPHRASE}\n")
    env = {
        "none": {},
        "devcloud passphrase": {"PULUMI_CONFIG_PASSPHRASE": DEVCLOUD_PASSPHRASE},
        "devcloud passphrase file": {"PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase_file)},
        "empty passphrase": {"PULUMI_CONFIG_PASSPHRASE": ""},
    }[secrets]
    before = project.stack_files()

    result = project.make("stack-init", "STACK=prod", **env)

    assert project.stacks_in_backend() == []
    assert project.stack_files() == before
    line = refusal(result)
    assert line.startswith("stack 'prod' needs a passphrase of its own"), line
    assert "PULUMI_CONFIG_PASSPHRASE" in line


def test_stack_init_creates_the_stack_that_the_commands_then_use(project):
    own = {"PULUMI_CONFIG_PASSPHRASE": "an-operator-passphrase"}

    created = project.make("stack-init", "STACK=staging", **own)

    assert created.returncode == 0, created.stdout + created.stderr
    assert project.stacks_in_backend() == ["staging"]
    assert "encryptionsalt" in (project.root / "stacks" / "Pulumi.staging.yaml").read_text()
    outputs = project.make("outputs", "STACK=staging", **own)  # the existing stack, not created again
    assert outputs.returncode == 0, outputs.stdout + outputs.stderr
    assert project.make("stack-init", "STACK=staging", **own).returncode != 0  # it exists already


def test_the_local_stack_is_still_created_on_first_use_with_the_devcloud_passphrase(project):
    result = project.make("outputs")  # STACK defaults to local; no passphrase in the environment

    assert result.returncode == 0, result.stdout + result.stderr
    assert project.stacks_in_backend() == ["local"]
    assert "encryptionsalt" in (project.root / "stacks" / "Pulumi.local.yaml").read_text()
    export = subprocess.run([PULUMI, "stack", "output", "--stack", "local", "--show-secrets"], cwd=project.root,
                            env=project.env(PULUMI_CONFIG_PASSPHRASE=DEVCLOUD_PASSPHRASE), capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
