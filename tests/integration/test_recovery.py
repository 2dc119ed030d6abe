"""Recovery after a killed `pulumi` (docs/runbook.md, "Recover from a failed pulumi up"), on the
real engine against the devcloud, with the runbook's own commands (testbed/runbook.py).

One stack for the module, its amphora image large enough (256 MiB of data) that the upload is
still running when `pulumi up` is killed:
1. SIGKILL to `pulumi up`'s process group once Glance holds the image record (queued): the lock
   stays, the image and the other creates in flight are pending creates, and `make up` refuses
   to run until they are settled. The `killed-pulumi`
   commands of the runbook then leave exactly one image of that version (active, the stack's
   output), no pending operation, nothing left to change.
2. A complete object left as a pending create (the image, its create recorded as in flight) is
   adopted: same image ID, no replacement, no second upload.
3. `destroy` leaves nothing of the stack in the cloud.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from testbed import runbook
from testbed.devcloud_support import cloud_objects, connect, counts, prefix_of, pulumi_cli

IMAGE_TYPE = "openstack:images/image:Image"
VERSION = "test"
# What the local stack declares (one health-manager host, one image version), by kind.
DECLARED = {
    "networks": 1, "subnets": 1, "ports": 1, "security_groups": 2, "images": 1, "flavors": 1,
    "keypairs": 1, "octavia_flavors": 2, "octavia_flavor_profiles": 2,
}


@pytest.fixture(scope="module")
def stack(module_stacks, tmp_path_factory):
    big = tmp_path_factory.mktemp("image") / "amphora-big.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(big), "1G"], check=True)
    # Real data (a pattern), so the upload takes seconds rather than the empty image's milliseconds.
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 256M", str(big)], check=True, capture_output=True)
    return module_stacks.create("local", {"amp_images": [{"version": VERSION, "source": str(big)}]})


def state(stack) -> dict:
    return json.loads(pulumi_cli(stack, "stack", "export").stdout)


def images_of_version(conn, stack) -> list:
    return [i for i in conn.image.images() if i.name == f"{prefix_of(stack)}amphora-x64-haproxy-{VERSION}"]


def test_killed_during_image_upload_then_runbook_recovery(stack):
    conn = connect(stack.workspace.env_vars)
    work_dir, env = runbook.operator_shell(stack)
    up = subprocess.Popen([str(runbook.ROOT / "bin" / "pulumi"), "up", "--yes", "-s", stack.name], cwd=work_dir,
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not images_of_version(conn, stack):
            assert up.poll() is None, f"pulumi up ended ({up.returncode}) before the image upload started"
            assert time.monotonic() < deadline, "no image record in Glance after 300 s"
            time.sleep(0.2)
    finally:
        os.killpg(up.pid, signal.SIGKILL)  # pulumi, its language host and provider plugin
        up.wait()
    [cut] = images_of_version(conn, stack)
    assert cut.status in ("queued", "saving"), cut.status
    print(f"killed with image {cut.id} {cut.status}")

    # What the kill left: the lock, and the image among the pending creates.
    locked = pulumi_cli(stack, "refresh", "--yes", check=False)
    assert locked.returncode and "the stack is currently locked" in locked.stderr + locked.stdout
    pending = state(stack)["deployment"].get("pending_operations") or []
    assert IMAGE_TYPE in {op["resource"]["type"] for op in pending if op["type"] == "creating"}, pending

    # `make up` refuses to create the pending creates again, and names the recovery.
    refused = subprocess.run(["make", "--no-print-directory", "up", f"STACK={stack.name}"], cwd=work_dir, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode and f"run `make recover STACK={stack.name}` first" in refused.stderr, refused.stderr

    ran = runbook.run(stack, "killed-pulumi")
    recovered = ran[0].output
    assert "no longer running: released (pulumi cancel)" in recovered, recovered
    assert f"image {cut.id} (" in recovered and "was cut off by the kill: deleted" in recovered, recovered

    [image] = images_of_version(conn, stack)
    assert image.status == "active" and image.id != cut.id
    assert stack.outputs()["amp_image_id"].value == image.id
    assert not state(stack)["deployment"].get("pending_operations")
    assert counts(cloud_objects(conn, prefix_of(stack))) == DECLARED


def backend_dir(stack) -> Path:
    return Path(stack.workspace.env_vars["PULUMI_BACKEND_URL"].removeprefix("file://")) / ".pulumi"


def leave_image_pending(stack) -> str:
    """The state of a run killed after Glance made the image active and before Pulumi recorded it:
    the image's create in flight, without an ID (and the resources depending on it not yet made
    them depend on it). Returns its URN. (`pulumi stack import` drops pending operations: the file
    backend's checkpoint is written.)"""
    checkpoint_file = backend_dir(stack) / "stacks" / "octavia-infra" / f"{stack.name}.json"
    checkpoint = json.loads(checkpoint_file.read_text())
    deployment = checkpoint["checkpoint"]["latest"]
    [image] = [r for r in deployment["resources"] if r["type"] == IMAGE_TYPE]
    deployment["resources"].remove(image)
    for resource in deployment["resources"]:
        resource["dependencies"] = [urn for urn in resource.get("dependencies") or [] if urn != image["urn"]]
        for key, urns in (resource.get("propertyDependencies") or {}).items():
            resource["propertyDependencies"][key] = [urn for urn in urns if urn != image["urn"]]
    pending = {k: v for k, v in image.items() if k not in ("id", "outputs", "created", "modified")}
    deployment["pending_operations"] = [{"resource": pending, "type": "creating"}]
    checkpoint_file.write_text(json.dumps(checkpoint))
    assert [op["type"] for op in state(stack)["deployment"]["pending_operations"]] == ["creating"]
    return image["urn"]


def test_a_complete_image_left_pending_is_adopted_not_uploaded_again(stack):
    conn = connect(stack.workspace.env_vars)
    [before] = images_of_version(conn, stack)
    leave_image_pending(stack)

    ran = runbook.run(stack, "killed-pulumi")
    assert f"image {before.id} (active) made by the killed run: adopted into the state" in ran[0].output, ran[0].output
    [after] = images_of_version(conn, stack)
    assert after.id == before.id and stack.outputs()["amp_image_id"].value == before.id
    assert not state(stack)["deployment"].get("pending_operations")


def test_by_hand_cancel_delete_and_clear(stack):
    """The runbook's by-hand path: `pulumi cancel` releases a file backend's stale lock, the orphan
    is deleted with the openstack CLI, `--clear-pending-creates` drops the record, `up` uploads anew."""
    conn = connect(stack.workspace.env_vars)
    [orphan] = images_of_version(conn, stack)
    leave_image_pending(stack)
    locks = backend_dir(stack) / "locks" / "organization" / "octavia-infra" / stack.name
    locks.mkdir(parents=True, exist_ok=True)
    (locks / f"{uuid.uuid4()}.json").write_text(json.dumps(
        {"pid": 2 ** 22 + 1, "username": "root", "hostname": socket.gethostname(), "timestamp": "2026-11-29T00:00:00Z"}))
    assert "the stack is currently locked" in pulumi_cli(stack, "refresh", "--yes", check=False).stderr

    runbook.run(stack, "killed-pulumi-by-hand", **{"image name": orphan.name, "image ID": orphan.id})
    assert not list(locks.iterdir())
    [image] = images_of_version(conn, stack)
    assert image.id != orphan.id and image.status == "active" and stack.outputs()["amp_image_id"].value == image.id
    assert not state(stack)["deployment"].get("pending_operations")
    assert counts(cloud_objects(conn, prefix_of(stack))) == DECLARED


def test_destroy_leaves_nothing(stack):
    stack.destroy()
    found = cloud_objects(connect(stack.workspace.env_vars), prefix_of(stack))
    assert not any(found.values()), {kind: [o.name for o in objects] for kind, objects in found.items() if objects}
