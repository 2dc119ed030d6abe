"""docs/runbook.md's marked command blocks (testbed/runbook.py) are well-formed and each one is run
by an engine test against the devcloud, so the document and the tests cannot drift apart."""

import re
from pathlib import Path

import pytest

from testbed import runbook

ROOT = Path(__file__).resolve().parents[2]
TESTS = "\n".join(path.read_text() for path in sorted((ROOT / "tests" / "integration").glob("test_*.py")))


def test_every_marker_is_followed_by_a_command_block():
    text = runbook.RUNBOOK.read_text()
    assert len(re.findall(r"^<!-- runbook-test:", text, re.MULTILINE)) == len(runbook.procedures()) > 0
    assert all(runbook.procedures().values())


@pytest.mark.parametrize("name", sorted(runbook.procedures()))
def test_every_block_is_run_by_an_engine_test(name):
    assert re.search(rf"runbook\.run\(\s*[\w.]+,\s*\"{re.escape(name)}\"", TESTS), \
        f"no test in tests/integration runs runbook block {name!r}"


@pytest.mark.parametrize("name", sorted(runbook.procedures()))
def test_every_make_target_named_exists(name):
    makefile = (ROOT / "Makefile").read_text()
    for command in runbook.procedures()[name]:
        for target in re.findall(r"^make (\S+)", command):
            assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), (name, target)


def test_blocks_are_read_with_continuations_and_placeholders_must_be_filled():
    text = ("<!-- runbook-test: demo -->\n```sh\n# a comment\npulumi stack output x -s <env> \\\n"
            "    > <dir>/x.yml\n\nopenstack port delete <port>\n```\n")
    assert runbook.procedures(text) == {"demo": ["pulumi stack output x -s <env> > <dir>/x.yml",
                                                 "openstack port delete <port>"]}
