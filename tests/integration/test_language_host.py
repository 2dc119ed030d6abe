"""The language host (tools/engine/langhost) on its own and under the real engine.

- It stops on the engine's SIGINT even when it was started with SIGINT ignored, as background jobs
  of non-interactive shells (CI runners, nohup) are: otherwise the engine waits 5 s before killing
  it, on every preview and up.
- When a resource fails during `up` (the devcloud's Glance refuses an image upload, with the
  policy pack loaded as `make up` does), when the operator cancels (SIGINT to pulumi, as Ctrl-C
  does) or when pulumi is killed, the program it runs is stopped without a Python traceback (the
  executor used to print KeyboardInterrupt tracebacks below the real error), the failing
  resource's own error is among the last lines the operator reads, and no process of the run is
  left behind: not after a preview that the engine's own config type check stops either (the
  engine exits without stopping its plugins then, and language hosts used to stay, parent 1).
- The OpenStack provider plugin (tools/engine/provider) is not left running either when pulumi is
  killed while the provider is up.
- What the engine asks of it before every preview and update: the Python behind the program (About)
  and the plugins the program's packages name in their pulumi-plugin.json (GetRequiredPackages); a
  program whose virtualenv is missing is stopped there, in one line that says what to do.

The programs are throwaway one-file projects, so what they test does not move with the stack's
own validation. Processes of a run are found by a marker in their environment, which pulumi
passes on to every plugin and program it starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from testbed.stacks import ROOT, project_env, python_project

MARKER = "OCTAVIA_TEST_RUN"
NOISE = ("Traceback", "KeyboardInterrupt", "Resource monitor has terminated", "unhandled exception")


def test_language_host_exits_on_sigint_inherited_as_ignored():
    host = subprocess.Popen([str(ROOT / "bin/pulumi-language-python")], stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert host.stdout.readline().strip().isdigit()  # the port it serves on: it is up
        sent = time.monotonic()
        host.send_signal(signal.SIGINT)
        host.wait(timeout=10)
        assert time.monotonic() - sent < 2
    finally:
        host.kill()


# --- under the engine ----------------------------------------------------------------------------

def processes_of(run: str) -> list[str]:
    """The live processes whose environment carries the run's marker, as "pid ppid command"."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if f"{MARKER}={run}".encode() in environ and state != "Z":
            found.append(f"{entry.name} {ppid} {command}")
    return found


def left_after(run: str, timeout: float = 8.0) -> list[str]:
    """The run's processes still alive after `timeout` s (plugins get a moment to stop)."""
    deadline = time.monotonic() + timeout
    while (left := processes_of(run)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def assert_quiet(output: str) -> None:
    for noise in NOISE:
        assert noise not in output, f"{noise!r} in:\n{output}"


def tail(output: str, lines: int = 20) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


class Scratch:
    """A throwaway one-file program on this project's engine (tools/env.sh), its state in tmp."""

    def __init__(self, tmp: Path, program: str, schema: str = "", config: str = "", env: dict | None = None):
        self.dir = python_project(tmp / "project", "scratch", program)
        if schema:
            with open(self.dir / "Pulumi.yaml", "a") as project:
                project.write(schema)
        (tmp / "state").mkdir()
        self.ready = tmp / "program-started"
        self.env = project_env(
            PULUMI_BACKEND_URL=f"file://{tmp / 'state'}",
            PULUMI_CONFIG_PASSPHRASE="scratch",
            READY_FILE=str(self.ready),
            **(env or {}),
        )
        subprocess.run([str(ROOT / "bin/pulumi"), "stack", "init", "test", "--non-interactive"], cwd=self.dir,
                       env=self.env, capture_output=True, check=True)
        if config:
            (self.dir / "Pulumi.test.yaml").write_text(config)

    def command(self, *args: str) -> list[str]:
        return [str(ROOT / "bin/pulumi"), *args, "--stack", "test", "--non-interactive"]

    def pulumi(self, *args: str, run: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), cwd=self.dir, env={**self.env, MARKER: run}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)

    def start(self, *args: str, run: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), cwd=self.dir, env={**self.env, MARKER: run}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def wait_for_program(self, pulumi: subprocess.Popen, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            assert pulumi.poll() is None, pulumi.stdout.read()
            assert time.monotonic() < deadline, "the program did not start"
            time.sleep(0.1)


# A program that is still running when the engine stops it.
SLOW_PROGRAM = """\
import os
import time

import pulumi

pulumi.export("started", True)
open(os.environ["READY_FILE"], "w").close()
time.sleep(300)
"""

# A network, and an image whose data is raw but declared qcow2: Glance refuses the upload (415)
# in the middle of `up`, once the image record exists and the network is being created.
FAILING_PROGRAM = """\
import os

import pulumi_openstack as openstack

prefix = os.environ["NAME_PREFIX"]
openstack.networking.Network("network", name=f"{prefix}network")
openstack.images.Image("image", name=f"{prefix}image", container_format="bare", disk_format="qcow2",
                       local_file_path="raw.img", visibility="private")
"""
GLANCE_REFUSAL = "Image disk_format qcow2 does not match stream data raw"


def test_failed_up_ends_with_the_resource_error(tmp_path, devcloud_env):
    run = uuid.uuid4().hex
    scratch = Scratch(tmp_path, FAILING_PROGRAM, env={
        **devcloud_env, "OS_CLOUD": "devcloud-service", "NAME_PREFIX": f"langhost-{run[:8]}-",
    })
    (scratch.dir / "raw.img").write_bytes(os.urandom(1 << 20))
    try:
        up = scratch.pulumi("up", "--yes", "--policy-pack", str(ROOT / "policy"), run=run, timeout=600)
        assert up.returncode != 0, up.stdout
        assert_quiet(up.stdout)
        assert GLANCE_REFUSAL in tail(up.stdout), up.stdout
        assert left_after(run) == []
    finally:
        destroy = scratch.pulumi("destroy", "--yes", timeout=600)
        assert destroy.returncode == 0, destroy.stdout


def test_cancelled_up_stops_the_program_quietly(tmp_path):
    """SIGINT to pulumi, as Ctrl-C sends it, while the program runs."""
    scratch = Scratch(tmp_path, SLOW_PROGRAM)
    run = uuid.uuid4().hex
    up = scratch.start("up", "--yes", "--skip-preview", run=run)
    try:
        scratch.wait_for_program(up)
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    finally:
        up.kill()
    assert up.returncode != 0, output
    assert_quiet(output)
    assert "update canceled" in tail(output), output
    assert left_after(run) == []


def test_killed_pulumi_leaves_no_language_host(tmp_path):
    scratch = Scratch(tmp_path, SLOW_PROGRAM)
    run = uuid.uuid4().hex
    up = scratch.start("up", "--yes", "--skip-preview", run=run)
    try:
        scratch.wait_for_program(up)
        up.kill()
        up.wait(timeout=10)
    finally:
        up.kill()
    assert left_after(run) == []


# Asks the devcloud for the current project through the OpenStack provider, then keeps running:
# the provider plugin is up while pulumi is killed.
INVOKING_PROGRAM = """\
import os
import time

import pulumi
import pulumi_openstack as openstack

pulumi.export("project", openstack.identity.get_auth_scope(name="current").project_id)
open(os.environ["READY_FILE"], "w").close()
time.sleep(300)
"""


def test_killed_pulumi_leaves_no_openstack_provider(tmp_path, devcloud_env):
    """The provider plugin (tools/engine/provider) exits once the engine is gone, as the language
    host does: a `kill -9` of pulumi used to leave it running, parent 1."""
    scratch = Scratch(tmp_path, INVOKING_PROGRAM, env={**devcloud_env, "OS_CLOUD": "devcloud-service"})
    run = uuid.uuid4().hex
    up = scratch.start("up", "--yes", "--skip-preview", run=run)
    try:
        scratch.wait_for_program(up)
        running = processes_of(run)
        assert any("pulumi-resource-openstack" in process for process in running), running
        up.kill()
        up.wait(timeout=10)
    finally:
        up.kill()
    assert left_after(run) == []


def test_preview_failing_the_engine_type_check_leaves_no_language_host(tmp_path):
    scratch = Scratch(tmp_path, "import pulumi\n", schema="config:\n  ram:\n    type: integer\n    default: 512\n",
                      config="config:\n  scratch:ram: lots\n")
    run = uuid.uuid4().hex
    preview = scratch.pulumi("preview", run=run)
    assert preview.returncode != 0, preview.stdout
    assert "configuration key 'ram' must be of type 'integer'" in preview.stdout, preview.stdout
    assert left_after(run) == []


def test_about_names_the_programs_python_and_the_plugins_its_packages_name(tmp_path):
    scratch = Scratch(tmp_path, "import pulumi\n")
    about = scratch.pulumi("about", "--json")
    assert about.returncode == 0, about.stdout
    report = json.loads(about.stdout[about.stdout.index("{"):])

    python = ROOT / ".venv/bin/python"
    version = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert report["runtime"] == {"executable": str(python), "language": "python", "version": version}
    manifest = subprocess.run([str(python), "-c", "import pathlib, pulumi_openstack; print((pathlib.Path("
                               "pulumi_openstack.__file__).parent / 'pulumi-plugin.json').read_text())"],
                              capture_output=True, text=True, check=True).stdout
    assert {"name": "openstack", "version": json.loads(manifest)["version"], "kind": "resource"} in report["plugins"]


def test_a_missing_virtualenv_is_one_line_naming_it_and_the_remedy(tmp_path):
    scratch = Scratch(tmp_path, "import pulumi\n")
    project = scratch.dir / "Pulumi.yaml"
    missing = tmp_path / "no-venv"
    project.write_text(project.read_text().replace(str(ROOT / ".venv"), str(missing)))

    preview = scratch.pulumi("preview")
    assert preview.returncode != 0
    assert preview.stdout.strip().splitlines()[-1] == (
        f"error: failed to discover package requirements: the program's virtualenv {missing} (the virtualenv "
        "option of Pulumi.yaml) has no Python: create it with `make setup`")
