"""Helpers for the engine tests that look at, break or repair the devcloud behind a stack.

- `cloud_objects`: every OpenStack object of a stack, found by its name prefix, by kind (keypairs:
  Octavia's service user's, which owns the stack's);
- `pulumi_cli`: the real CLI with the stack's own environment and directory (the Automation API
  adds --show-secrets to `stack export`, which is not what an operator runs);
- `service_stopped_on`: stop one devcloud API with devcloud.py's own per-service stop when a given
  resource starts being created, and start it again (as `devcloud.py start` would) whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from pulumi import automation as auto

from testbed.stacks import connect  # noqa: F401  (re-exported: the stack's own cloud entry by default)

from devcloud import devcloud as dc

ROOT = Path(__file__).resolve().parents[1]


def prefix_of(stack: auto.Stack) -> str:
    return f"{stack.name}-"  # testbed.stacks.StackFactory names every object so


# The user the stack creates the amphora keypair for: the local stack's octavia_service_user
# (default) in its service_project_domain (default).
KEYPAIR_OWNER, KEYPAIR_OWNER_DOMAIN = "octavia", "default"


def keypair_owner_id(conn) -> str:
    return conn.identity.find_user(KEYPAIR_OWNER, domain_id=KEYPAIR_OWNER_DOMAIN, ignore_missing=False).id


def cloud_objects(conn, prefix: str) -> dict[str, list]:
    """Every object of the stack in the cloud, by kind; names start with the stack's prefix."""

    def named(objects):
        return sorted((o for o in objects if (o.name or "").startswith(prefix)), key=lambda o: o.name)

    return {
        "networks": named(conn.network.networks()),
        "subnets": named(conn.network.subnets()),
        "ports": named(conn.network.ports()),
        "security_groups": named(conn.network.security_groups()),
        "images": named(conn.image.images()),
        "flavors": named(conn.compute.flavors(is_public=None)),
        # Nova lists the caller's keypairs unless an admin names another user.
        "keypairs": named(conn.compute.keypairs(user_id=keypair_owner_id(conn))),
        "octavia_flavors": named(conn.load_balancer.flavors()),
        "octavia_flavor_profiles": named(conn.load_balancer.flavor_profiles()),
    }


def counts(objects: dict[str, list]) -> dict[str, int]:
    return {kind: len(found) for kind, found in objects.items()}


def pulumi_cli(stack: auto.Stack, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """`pulumi <args> --stack <stack>` as an operator runs it, in the stack's directory and env."""
    return subprocess.run(
        [str(ROOT / "bin" / "pulumi"), *args, "--stack", stack.name, "--non-interactive"],
        cwd=stack.workspace.work_dir, env={**os.environ, **stack.workspace.env_vars},
        capture_output=True, text=True, check=check, timeout=timeout,
    )


def stop_service(name: str) -> float:
    """Stop one devcloud API (SIGTERM to its uwsgi master: --die-on-term exits); returns when."""
    dc.stop_process(name, signal.SIGTERM)
    return time.monotonic()


def restart_service(name: str) -> None:
    """Start one stopped devcloud API again and wait until it answers.

    What `devcloud.py start` does for a service that is down, for this one service only: the
    whole `start` also fails on a problem of another service (another test run may hold
    another API's port at that moment), which must not keep this one down.
    """
    api = dc.API_BY_NAME[name]
    try:
        if not dc.running_pid(name):
            dc.start_api(dc.venv_dir(), api)
        dc.wait_healthy([api], timeout=300)
    except dc.DevcloudError:
        if not (dc.running_pid(name) and dc.probe(api, dc.admin_token())):
            raise  # started by someone else meanwhile is fine; anything else is not


@contextlib.contextmanager
def service_stopped_on(stack_event_type: str, service: str):
    """An on_event callback that stops `service` when the engine starts creating a resource of
    `stack_event_type`; the service is restored when the block ends, even on failure.

    Yields (callback, state) where state["stopped_at"] is set once the service was stopped.
    """
    state: dict = {"stopped_at": None}
    lock = threading.Lock()

    def on_event(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if not pre or pre.metadata.type != stack_event_type or pre.metadata.op != auto.OpType.CREATE:
            return
        with lock:
            if state["stopped_at"] is None:
                state["stopped_at"] = stop_service(service)

    try:
        yield on_event, state
    finally:
        started = time.monotonic()
        restart_service(service)
        state["restored_in"] = time.monotonic() - started
