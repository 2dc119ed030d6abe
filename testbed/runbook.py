"""docs/runbook.md's procedures as the tests run them: the commands are read from the document.

A procedure's commands are a fenced block right after a marker line:

    <!-- runbook-test: killed-pulumi -->
    ```sh
    make recover STACK=<env>
    pulumi preview --diff -s <env>
    ```

Placeholders are substituted (`<env>`: the stack's name; others by the test, e.g. `<URN>`), each
line runs on its own in bash (a trailing `\\` continues it) in the stack's project directory with
the stack's environment, as an operator's shell after `source tools/env.sh` would. Confirmations are
answered as an operator does after reading the preview (PULUMI_SKIP_CONFIRMATIONS=true), which is
the only thing added. So the document and the tests cannot drift: change a command in the runbook
and the test runs the new one.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pulumi import automation as auto

from testbed.stacks import TRANSIENT_ERRORS, wait_for_devcloud

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = ROOT / "docs" / "runbook.md"
MARKER = re.compile(r"^<!-- runbook-test: (?P<name>[a-z0-9-]+) -->\n```(?:sh|bash|console)?\n(?P<body>.*?)^```$",
                    re.MULTILINE | re.DOTALL)
PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z_ ]*)>")


def procedures(text: str | None = None) -> dict[str, list[str]]:
    """Every marked block of the runbook: name -> its commands (continuation lines joined)."""
    text = RUNBOOK.read_text() if text is None else text
    found: dict[str, list[str]] = {}
    for match in MARKER.finditer(text):
        if match["name"] in found:
            raise ValueError(f"runbook-test {match['name']!r} marks two blocks")
        commands, pending = [], ""
        for line in match["body"].splitlines():
            line = pending + line.strip()
            if line.endswith("\\"):
                pending = line[:-1].rstrip() + " "
                continue
            pending = ""
            if line and not line.startswith("#"):
                commands.append(line)
        found[match["name"]] = commands
    return found


def commands(name: str, **values: str) -> list[str]:
    """The named procedure's commands with their placeholders filled; a placeholder left is an error."""
    try:
        block = procedures()[name]
    except KeyError:
        raise KeyError(f"docs/runbook.md has no block marked <!-- runbook-test: {name} -->") from None
    filled = []
    for command in block:
        for key, value in values.items():
            command = command.replace(f"<{key}>", value)
        left = PLACEHOLDER.findall(command)
        if left:
            raise ValueError(f"runbook-test {name}: no value for <{left[0]}> in {command!r}")
        filled.append(command)
    return filled


@dataclass
class Ran:
    command: str
    returncode: int
    output: str


def operator_shell(stack: auto.Stack) -> tuple[Path, dict]:
    """The stack's project directory, ready for `make` (the Makefile, tools/ and policy/ linked in), and
    the environment of `source tools/env.sh` there (the stack's backend, passphrase, cloud)."""
    work_dir = Path(stack.workspace.work_dir)
    for entry in ("Makefile", "tools", "policy"):
        if not (work_dir / entry).exists():
            (work_dir / entry).symlink_to(ROOT / entry)
    env = {**os.environ, **stack.workspace.env_vars, "PULUMI_SKIP_CONFIRMATIONS": "true"}
    return work_dir, env


def run(stack: auto.Stack, name: str, check: bool = True, timeout: float = 900, **values: str) -> list[Ran]:
    """Run the named procedure on the stack, command by command; stop at the first failure
    (an AssertionError naming the command and its output) unless check is False."""
    work_dir, env = operator_shell(stack)
    done = []
    for command in commands(name, env=stack.name, **values):
        for attempt in range(3):
            result = subprocess.run(["bash", "-c", command], cwd=work_dir, env=env, capture_output=True, text=True,
                                    timeout=timeout)
            output = result.stdout + result.stderr
            # A devcloud service another test run stopped meanwhile: once it is back, the operator
            # runs the same command again (as testbed.stacks.engine does for the Automation API).
            if not (result.returncode and any(text in output for text in TRANSIENT_ERRORS)) or attempt == 2:
                break
            print(f"$ {command}  # exit {result.returncode}, the devcloud was down: again\n{output}")
            wait_for_devcloud()
        done.append(Ran(command, result.returncode, result.stdout + result.stderr))
        print(f"$ {command}  # exit {result.returncode}\n{result.stdout}{result.stderr}")
        if check and result.returncode:
            raise AssertionError(f"runbook {name}: `{command}` exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return done


PREVIEW_STEP = re.compile(r"^\s*(?P<mark>\+-|-\+|\+|~|-) (?P<type>[\w/:.-]+): \((?P<op>create|update|delete|replace)\)$")
URN_NAME = re.compile(r"\[urn=\S+::(?P<name>[^:\]]+)\]")
UP_STEP = re.compile(r"^\s*(?:\+-|-\+|\+|~|-)\s+(?P<type>\S+) (?P<name>\S+) (?P<op>created|updated|deleted|replaced)\b")


def steps(output: str) -> set[tuple[str, str, str]]:
    """(resource class, resource name, op) of every change a command printed: the per-resource
    sections of `pulumi preview --diff`, or the progress lines of `pulumi up` (past tense; its
    own preview's lines are in the present and not counted). Provider updates are left out (a
    config change updates the PKI's dynamic provider, which touches no resource)."""
    found, lines = set(), output.splitlines()
    for index, line in enumerate(lines):
        preview = PREVIEW_STEP.match(line)
        if preview and not preview["type"].startswith("pulumi:providers:"):
            urn = next((URN_NAME.search(following) for following in lines[index + 1:index + 4]
                        if URN_NAME.search(following)), None)
            if urn:
                found.add((preview["type"].split(":")[-1], urn["name"], preview["op"]))
            continue
        done = UP_STEP.match(line)
        if done and not done["type"].startswith("pulumi:providers:"):
            found.add((done["type"].split(":")[-1], done["name"], done["op"][:-1]))  # created -> create
    return found
