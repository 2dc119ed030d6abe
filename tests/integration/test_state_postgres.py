"""Team state in PostgreSQL: `pulumi login postgres://...` against the local PostgreSQL that
tools/pg_state.py starts (Debian's server on 127.0.0.1), one fresh database per test.

The local stack goes up, previews with no change and is destroyed with its state in PostgreSQL
only; two concurrent `pulumi up` of one stack: the second is refused by the backend's lock (whose
message hides the database password) and the first completes.
"""

import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from testbed.stacks import StackFactory, project_env, python_project

ROOT = Path(__file__).resolve().parents[2]
PG_STATE = [sys.executable, str(ROOT / "tools" / "pg_state.py")]


def psql_rows(database: str, sql: str) -> list[str]:
    from importlib import util

    spec = util.spec_from_file_location("pg_state", ROOT / "tools" / "pg_state.py")
    pg_state = util.module_from_spec(spec)
    spec.loader.exec_module(pg_state)
    output = pg_state._psql(sql, database)
    return [line for line in output.splitlines() if line]


def stored_state(database: str, key: str) -> dict:
    """A state file as the backend stores it: a row whose JSON holds the file base64-encoded."""
    (row,) = psql_rows(database, f"SELECT data FROM pulumi_state WHERE key = '{key}'")
    return json.loads(base64.b64decode(json.loads(row)["data"]))


@pytest.fixture
def database():
    name = f"test_{uuid.uuid4().hex[:10]}"
    url = subprocess.run([*PG_STATE, "url", name], check=True, capture_output=True, text=True).stdout.strip()
    yield name, url
    subprocess.run([*PG_STATE, "drop", name], check=True)


def test_up_preview_destroy_with_state_in_postgres(database, devcloud_env, tmp_path):
    name, url = database
    env = project_env(PULUMI_BACKEND_URL=url, PULUMI_CONFIG_PASSPHRASE="test-passphrase",
                      **{**devcloud_env, "OS_CLOUD": "devcloud-service"})
    factory = StackFactory(tmp_path, env)
    stack = factory.create("local")
    try:
        assert stack.up().summary.result == "succeeded"
        keys = psql_rows(name, "SELECT key FROM pulumi_state")
        # keys carry the URL's path (the database name) as prefix
        checkpoint = f"{name}/.pulumi/stacks/octavia-infra/{stack.name}.json"
        assert checkpoint in keys, keys
        state = stored_state(name, checkpoint)
        assert len(state["checkpoint"]["latest"]["resources"]) > 30
        assert "PRIVATE KEY" not in json.dumps(state)  # secrets are ciphertext in the database too

        summary = stack.preview().change_summary
        assert set(summary) == {"same"}, summary
        stack.destroy()
        state = stored_state(name, checkpoint)
        assert not state["checkpoint"]["latest"].get("resources")
    finally:
        factory.cleanup()


SLOW_PROGRAM = """\
import time
import pulumi

time.sleep(12)  # keeps the update (and its lock) open while the second up starts
pulumi.export("done", True)
"""


def test_concurrent_up_is_refused_by_the_lock(database, tmp_path):
    name, url = database
    work_dir = python_project(tmp_path / "slow", "lock-probe", SLOW_PROGRAM)
    env = project_env(PULUMI_BACKEND_URL=url, PULUMI_CONFIG_PASSPHRASE="test-passphrase")
    run = dict(cwd=work_dir, env=env, text=True)
    subprocess.run(["pulumi", "stack", "init", "team"], check=True, capture_output=True, **run)

    first = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--stack", "team"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **run)
    deadline = time.monotonic() + 60
    while not psql_rows(name, "SELECT key FROM pulumi_state WHERE key LIKE '%/.pulumi/locks/%'"):
        assert first.poll() is None and time.monotonic() < deadline, "the first up never took the lock"
        time.sleep(0.2)

    second = subprocess.run(["pulumi", "up", "--yes", "--skip-preview", "--stack", "team"],
                            capture_output=True, timeout=120, **run)
    first_output, _ = first.communicate(timeout=180)

    assert second.returncode != 0
    refusal = second.stdout + second.stderr
    assert "the stack is currently locked by 1 lock(s)" in refusal, refusal
    assert env["PULUMI_BACKEND_URL"].split(":")[2].split("@")[0] not in refusal  # the password is redacted
    assert first.returncode == 0, first_output
    assert psql_rows(name, "SELECT key FROM pulumi_state WHERE key LIKE '%/.pulumi/locks/%'") == []
    outputs = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", "team"],
                             check=True, capture_output=True, **run).stdout
    assert json.loads(outputs) == {"done": True}

