"""Recover a stack after a `pulumi` process died mid-run (killed, OOM, reboot): `make recover STACK=<env>`.

A killed `pulumi up` leaves two things behind:
- the backend's lock (file and S3 backends), refused by every later `up`/`refresh`: released here
  with `pulumi cancel` only when the process named in the lock is gone (same host, pid not running);
- *pending creates*: resources whose create was in flight, which the state has no ID for. Pulumi
  keeps them across refreshes and successful `up`s and cannot resolve them by itself; the next
  `up` creates them again, so any object the killed run made stays in the cloud as an orphan.

Each pending create is looked up in the cloud by what it was going to be (type and name, within
the owner scope of the stack's credentials), ignoring objects the state already holds:
- found and complete: adopted (moved into the state with its ID; the refresh then reads it);
  duplicates of it (same name, made by earlier killed runs) are deleted;
- found but incomplete (an image whose upload was cut off: `queued`, `saving`): deleted;
- not found, or a kind with nothing of its own in the cloud (quotas, the PKI's local resources):
  the record is dropped; the next `up` creates it.
Then `pulumi refresh` reads every resource back and clears the other pending operations.

Pulumi's own `refresh --import-pending-creates URN --import-pending-creates ID` (the flag takes
one value per use) is not used: on the pinned CLI it exits 0 but the resource never enters the
state, so the next `up` makes a duplicate.

    python -m tools.recover --stack <env> [--dry-run]
    python -m tools.recover --stack <env> --check   # `make up` first: refuse while pending creates remain

Runs with the environment of `tools/env.sh` (`pulumi` on PATH, OS_* credentials, the stack's
passphrase or secrets provider). Prints one line per action; exit 1 when something needs a human.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable

LOCKED = "the stack is currently locked"
LOCK_HOLDER = re.compile(r"created by (?P<user>[^@\s]+)@(?P<host>\S+) \(pid (?P<pid>\d+)\)")
# Glance statuses of an image whose data never fully arrived (a cut-off upload or import).
INCOMPLETE_IMAGE = {"queued", "saving", "uploading", "importing", "killed"}
# Kinds whose create makes no object of its own to look for: dropping the record is enough, the
# next `up` sets them again (quotas are set, not created; the PKI resources live in the state).
NOTHING_TO_FIND = ("openstack:compute/quotaSetV2:", "openstack:networking/quotaV2:", "pulumi-python:dynamic")


class RecoveryError(Exception):
    pass


@dataclass
class Found:
    id: str
    complete: bool = True
    describe: str = ""


@dataclass
class Plan:
    adopt: dict = field(default_factory=dict)  # urn -> id
    delete: list = field(default_factory=list)  # (kind, id, why)
    clear: list = field(default_factory=list)  # (urn, why)
    lines: list = field(default_factory=list)


def short(urn: str) -> str:
    """The resource's type and name out of its URN."""
    kind, name = urn.split("$")[-1].split("::", 1) if "$" in urn else urn.split("::")[-2:]
    return f"{kind.split('::')[-1]} {name}"


# --- the cloud -----------------------------------------------------------------------------------

def _named(objects, name):
    return [o for o in objects if o.name == name]


def _image(conn, inputs):
    return [Found(i.id, i.status not in INCOMPLETE_IMAGE, f"image {i.id} ({i.status})")
            for i in _named(conn.image.images(), inputs.get("name"))]


def _by_name(collection: str, method: str, **filters) -> Callable:
    def find(conn, inputs):
        objects = getattr(getattr(conn, collection), method)(**filters)
        return [Found(o.id, True, f"{method[:-1]} {o.id}") for o in _named(objects, inputs.get("name"))]
    return find


def _keypair(conn, inputs):
    # The provider's ID of a keypair is its name (of the user it belongs to).
    user = inputs.get("userId")
    found = conn.compute.keypairs(**({"user_id": user} if user else {}))
    return [Found(k.name, True, f"keypair {k.name}") for k in _named(found, inputs.get("name"))]


def _secgroup_rule(conn, inputs):
    group = inputs.get("securityGroupId")
    if not group:
        return []
    want = {
        "direction": inputs.get("direction"), "ether_type": inputs.get("ethertype"),
        "protocol": inputs.get("protocol") or None, "port_range_min": inputs.get("portRangeMin") or None,
        "port_range_max": inputs.get("portRangeMax") or None,
        "remote_ip_prefix": inputs.get("remoteIpPrefix") or None, "remote_group_id": inputs.get("remoteGroupId") or None,
    }
    rules = conn.network.security_group_rules(security_group_id=group)
    return [Found(r.id, True, f"rule {r.id}") for r in rules
            if all(getattr(r, key) == value for key, value in want.items())]


FINDERS: dict[str, Callable] = {
    "openstack:images/image:Image": _image,
    "openstack:networking/network:Network": _by_name("network", "networks"),
    "openstack:networking/subnet:Subnet": _by_name("network", "subnets"),
    "openstack:networking/port:Port": _by_name("network", "ports"),
    "openstack:networking/router:Router": _by_name("network", "routers"),
    "openstack:networking/secGroup:SecGroup": _by_name("network", "security_groups"),
    "openstack:networking/secGroupRule:SecGroupRule": _secgroup_rule,
    "openstack:compute/flavor:Flavor": _by_name("compute", "flavors", is_public=None),
    "openstack:compute/keypair:Keypair": _keypair,
    "openstack:loadbalancer/flavorprofileV2:FlavorprofileV2": _by_name("load_balancer", "flavor_profiles"),
    "openstack:loadbalancer/flavorV2:FlavorV2": _by_name("load_balancer", "flavors"),
}


def delete(conn, kind: str, object_id: str) -> None:
    if kind == "openstack:images/image:Image":
        conn.image.delete_image(object_id, ignore_missing=True)
    elif kind == "openstack:compute/keypair:Keypair":
        conn.compute.delete_keypair(object_id, ignore_missing=True)
    else:
        collection, method = {
            "openstack:networking/network:Network": ("network", "delete_network"),
            "openstack:networking/subnet:Subnet": ("network", "delete_subnet"),
            "openstack:networking/port:Port": ("network", "delete_port"),
            "openstack:networking/router:Router": ("network", "delete_router"),
            "openstack:networking/secGroup:SecGroup": ("network", "delete_security_group"),
            "openstack:networking/secGroupRule:SecGroupRule": ("network", "delete_security_group_rule"),
            "openstack:compute/flavor:Flavor": ("compute", "delete_flavor"),
            "openstack:loadbalancer/flavorprofileV2:FlavorprofileV2": ("load_balancer", "delete_flavor_profile"),
            "openstack:loadbalancer/flavorV2:FlavorV2": ("load_balancer", "delete_flavor"),
        }[kind]
        getattr(getattr(conn, collection), method)(object_id, ignore_missing=True)


# --- the plan ------------------------------------------------------------------------------------

def plan_recovery(deployment: dict, find: Callable[[str, dict], list[Found] | None]) -> Plan:
    """What to do with each pending create. `find(type, inputs)` lists the cloud's candidates, or
    None for a kind this tool cannot look up (reported: needs a human)."""
    plan = Plan()
    known = {r.get("id") for r in deployment.get("resources") or [] if r.get("id")}
    for op in deployment.get("pending_operations") or []:
        if op.get("type") != "creating":
            continue  # updates and deletes: `pulumi refresh` reads them back and clears them
        resource = op["resource"]
        urn, kind, inputs = resource["urn"], resource["type"], resource.get("inputs") or {}
        label = short(urn)
        if kind.startswith(NOTHING_TO_FIND) or not resource.get("custom", True):
            plan.clear.append((urn, "nothing of its own in the cloud; the next up makes it"))
            plan.lines.append(f"{label}: nothing to look for in the cloud; record dropped, the next up makes it")
            continue
        candidates = find(kind, inputs)
        if candidates is None:
            plan.clear.append((urn, "not looked up"))
            plan.lines.append(f"{label}: NOT CHECKED (no lookup for {kind}): record dropped; look for a "
                              f"duplicate named {inputs.get('name')!r} by hand")
            continue
        candidates = [c for c in candidates if c.id not in known]
        complete = [c for c in candidates if c.complete]
        for c in candidates:
            if not c.complete:
                plan.delete.append((kind, c.id, "incomplete"))
                plan.lines.append(f"{label}: {c.describe} was cut off by the kill: deleted")
        if complete:
            keep, *duplicates = complete
            plan.adopt[urn] = keep.id
            plan.lines.append(f"{label}: {keep.describe} made by the killed run: adopted into the state")
            for c in duplicates:
                plan.delete.append((kind, c.id, "duplicate"))
                plan.lines.append(f"{label}: {c.describe} is a duplicate of the adopted one: deleted")
        elif not candidates:
            plan.lines.append(f"{label}: not in the cloud: record dropped, the next up creates it")
        if not complete:
            plan.clear.append((urn, "not adopted"))
    return plan


def apply_plan(deployment: dict, plan: Plan) -> dict:
    """The deployment with adopted creates moved into the resources and the others dropped."""
    resources = list(deployment.get("resources") or [])
    pending = []
    for op in deployment.get("pending_operations") or []:
        urn = op["resource"]["urn"]
        if op.get("type") == "creating" and urn in plan.adopt:
            # Appended after everything it depends on (they were created before it started). Its
            # outputs start as its inputs: the provider's read needs some of them (a keypair is
            # read as its owner's, `userId`); the refresh then reads the rest from the cloud.
            inputs = {k: v for k, v in (op["resource"].get("inputs") or {}).items() if k != "__defaults"}
            resources.append({**op["resource"], "id": plan.adopt[urn], "outputs": {**inputs, "id": plan.adopt[urn]}})
        elif op.get("type") != "creating":
            pending.append(op)
    return {**deployment, "resources": resources, "pending_operations": pending}


# --- pulumi --------------------------------------------------------------------------------------

def pulumi(*args: str, stack: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["pulumi", *args, "--stack", stack, "--non-interactive"], capture_output=True, text=True)
    if check and result.returncode:
        raise RecoveryError(f"pulumi {' '.join(args)} failed:\n{result.stderr.strip() or result.stdout.strip()}")
    return result


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_lock_holders(message: str) -> list[str] | None:
    """The holders named in a lock error if every one is a dead process of this host, else None."""
    holders = list(LOCK_HOLDER.finditer(message))
    if not holders:
        return None
    here = socket.gethostname()
    if any(h["host"] != here or pid_alive(int(h["pid"])) for h in holders):
        return None
    return [f"{h['user']}@{h['host']} pid {h['pid']}" for h in holders]


def locked_run(*args: str, stack: str, out: Callable[[str], None]) -> subprocess.CompletedProcess:
    """A lock-taking pulumi command; a lock left by a dead local process is released first."""
    result = pulumi(*args, stack=stack, check=False)
    if result.returncode and LOCKED in result.stderr + result.stdout:
        message = result.stderr + result.stdout
        holders = stale_lock_holders(message)
        if holders is None:
            raise RecoveryError("the stack is locked by a process that still runs or by another host; wait for it, "
                                f"or run `pulumi cancel` once you know it is dead:\n{message.strip()}")
        pulumi("cancel", "--yes", stack=stack)
        out(f"lock: held by {', '.join(holders)}, no longer running: released (pulumi cancel)")
        result = pulumi(*args, stack=stack, check=False)
    if result.returncode:
        raise RecoveryError(f"pulumi {' '.join(args)} failed:\n{result.stderr.strip() or result.stdout.strip()}")
    return result


def connect():
    import openstack

    return openstack.connect()  # OS_CLOUD / OS_* of the environment, as the stack's provider


def recover(stack: str, dry_run: bool = False, out: Callable[[str], None] = print) -> int:
    exported = json.loads(pulumi("stack", "export", stack=stack).stdout)
    deployment = exported["deployment"]
    pending = deployment.get("pending_operations") or []
    out(f"stack {stack}: {len(pending)} pending operation(s)"
        + (": " + ", ".join(f"{op['type']} {short(op['resource']['urn'])}" for op in pending) if pending else ""))
    conn = connect() if any(op.get("type") == "creating" for op in pending) else None

    def find(kind, inputs):
        finder = FINDERS.get(kind)
        return None if finder is None else finder(conn, inputs)

    plan = plan_recovery(deployment, find)
    for line in plan.lines:
        out(("would: " if dry_run else "") + line)
    if dry_run:
        return 0
    for kind, object_id, _ in plan.delete:
        delete(conn, kind, object_id)
    if plan.adopt or plan.clear:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as state:
            json.dump({**exported, "deployment": apply_plan(deployment, plan)}, state)
            state.flush()
            locked_run("stack", "import", "--file", state.name, stack=stack, out=out)
        out(f"state: {len(plan.adopt)} adopted, {len(plan.clear)} pending create(s) dropped")
    locked_run("refresh", "--yes", "--skip-preview", stack=stack, out=out)
    left = json.loads(pulumi("stack", "export", stack=stack).stdout)["deployment"].get("pending_operations") or []
    if left:
        out(f"still pending after the refresh: {', '.join(short(op['resource']['urn']) for op in left)}")
        return 1
    out("refreshed: no pending operations. Next: pulumi preview --diff, then pulumi up (docs/runbook.md)")
    return 1 if any(why == "not looked up" for _, why in plan.clear) else 0


def check(stack: str) -> int:
    """`make up` runs this first: pending creates make the next `up` create those resources again
    and leave what the dead run made as orphans (they survive even a successful `up`)."""
    deployment = json.loads(pulumi("stack", "export", stack=stack).stdout).get("deployment") or {}
    pending = [short(op["resource"]["urn"]) for op in deployment.get("pending_operations") or []
               if op.get("type") == "creating"]
    if not pending:
        return 0
    print(f"error: stack {stack} has {len(pending)} pending create(s) left by a pulumi that died ({', '.join(pending)}); "
          "an up would create them again and leave what the dead run made in the cloud: run "
          f"`make recover STACK={stack}` first (docs/runbook.md, \"Recover from a failed pulumi up\")", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.recover", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    parser.add_argument("--check", action="store_true", help="exit 1 if the stack has pending creates (make up)")
    args = parser.parse_args(argv)
    try:
        return check(args.stack) if args.check else recover(args.stack, args.dry_run)
    except RecoveryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
