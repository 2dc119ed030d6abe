"""Failures on the real engine against the devcloud: bad configs, dead services, a second `up`.

- Representative bad configs stop `preview` and `up` with the settings model's one-line message
  and leave nothing behind, in the state or in the cloud (the whole catalogue runs as unit tests:
  tests/unit/test_settings.py, test_bad_config_catalogue.py, test_pki_settings.py).
- Neutron, and separately Glance, is stopped when `up` starts creating the first resource that
  needs it. The run fails with a message naming the unreachable endpoint. With the service back,
  the documented recovery (docs/runbook.md, "Recover from a failed up", its `failed-up` commands
  read from the document: refresh, preview, up, preview --expect-no-changes) converges: one
  network, subnet, port per host and image, and nothing left to do.
- A second `up` while the first holds the stack is refused by the backend's lock.

Stopping a devcloud service affects other test runs on the same devcloud: each window lasts
only until the failed `up` returns, and the service is restarted in a `finally`.
"""

from __future__ import annotations

import threading
import time

import pytest
from pulumi import automation as auto

from testbed import runbook
from testbed.devcloud_support import cloud_objects, connect, counts, prefix_of, pulumi_cli, service_stopped_on

# --- bad configs: nothing reaches the cloud ----------------------------------------------------

MISSING_IMAGE = "/nonexistent/amphora.qcow2"
# (case id, overrides, text the error must contain: key, value and what is valid)
BAD_CONFIGS = [
    ("pools-overlap", {"mgmt_allocation_pools": [{"start": "172.29.232.50", "end": "172.29.232.150"},
                                                 {"start": "172.29.232.140", "end": "172.29.232.250"}]},
     ["config mgmt_allocation_pools='172.29.232.50-172.29.232.150, 172.29.232.140-172.29.232.250'",
      "pools that do not overlap; 172.29.232.50-172.29.232.150 overlaps 172.29.232.140-172.29.232.250"]),
    ("hm-ip-in-pool", {"health_managers": [{"host": "ctl1", "ip": "172.29.232.100"}]},
     ["config health_managers[0].ip='172.29.232.100'", "outside the allocation pools"]),
    ("image-missing-file", {"amp_images": [{"version": "v1", "source": MISSING_IMAGE}]},
     [f"config amp_images[0]='{MISSING_IMAGE}'", "whose file exists"]),
    ("spare-pool-removed", {"spare_amphora_pool_size": 2},
     ["config spare_amphora_pool_size=2", "removed from Octavia in Xena"]),
    ("ssh-key-unreadable", {"ssh_public_key": "ssh-ed25519 AAAA-not-a-key operator"},
     ["config ssh_public_key='ssh-ed25519 AAAA-not-a-key operator'", "whose key data decodes"]),
    # Names Keystone does not know: looked up before anything is declared.
    ("unknown-service-project", {"service_project": "servcie"},
     ["config service_project='servcie'", "a project in domain 'default'", "returned no results"]),
    ("unknown-octavia-user", {"octavia_service_user": "octavai"},
     ["config octavia_service_user='octavai'", "a user in domain 'default'", "returned no results"]),
    # Types are checked by the engine against Pulumi.yaml's schema, before the program runs; its
    # message names the key and the type (not the value).
    ("string-for-array", {"health_managers": "ctl1"},
     ["configuration key 'health_managers' must be of type 'array<object>'"]),
]


def failure_text(error: auto.errors.CommandError) -> str:
    return str(error)  # the command, its exit code, stdout and stderr


@pytest.mark.parametrize("overrides, expected", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_fails_before_any_cloud_call(stacks, devcloud_env, overrides, expected):
    stack = stacks.create("local", overrides)
    for operation in (stack.preview, stack.up):
        with pytest.raises(auto.errors.CommandError) as failed:
            operation()
        text = failure_text(failed.value)
        for fragment in expected:
            assert fragment in text, f"{operation.__name__}: {fragment!r} not in:\n{text}"
        assert "Traceback" not in text  # one message, not a stack trace
    # Nothing in the state but the stack itself (and the OpenStack provider once a Keystone lookup
    # ran), and nothing in the cloud.
    resources = stack.export_stack().deployment.get("resources") or []
    assert {r["type"] for r in resources} <= {"pulumi:pulumi:Stack", "pulumi:providers:openstack"}, resources
    leftovers = {kind: [o.name for o in found] for kind, found in cloud_objects(connect(stack.workspace.env_vars), prefix_of(stack)).items() if found}
    assert not leftovers


# --- a service dies in the middle of `up` --------------------------------------------------------

# What the local stack declares (one health-manager host, one image version), by kind.
DECLARED = {
    "networks": 1, "subnets": 1, "ports": 1, "security_groups": 2, "images": 1, "flavors": 1,
    "keypairs": 1, "octavia_flavors": 2, "octavia_flavor_profiles": 2,
}


@pytest.mark.parametrize(
    "service, first_type, endpoint",
    [
        ("neutron", "openstack:networking/network:Network", "127.0.0.1:9696"),
        ("glance", "openstack:images/image:Image", "127.0.0.1:9292"),
    ],
)
def test_service_stopped_mid_up_then_refresh_and_up_converge(stacks, service, first_type, endpoint):
    stack = stacks.create("local")
    conn = connect(stack.workspace.env_vars)

    with service_stopped_on(first_type, service) as (on_event, window):
        with pytest.raises(auto.errors.CommandError) as failed:
            stack.up(on_event=on_event)
        assert window["stopped_at"], f"{service} was never stopped: no {first_type} was created"
        down_for = time.monotonic() - window["stopped_at"]
    print(f"{service} down {down_for:.0f}s before the restart, restart took {window['restored_in']:.0f}s")

    # A clear failure: the endpoint that did not answer, reported by the resource that needed it.
    text = failure_text(failed.value)
    assert endpoint in text, text
    assert "update failed" in text or "error:" in text

    # Recovery as docs/runbook.md says, its commands read from it: refresh, preview, up, no change left.
    runbook.run(stack, "failed-up")

    # Converged: exactly the declared objects, no duplicates, nothing left to change.
    found = cloud_objects(conn, prefix_of(stack))
    assert counts(found) == DECLARED, {k: [o.name for o in v] for k, v in found.items()}
    assert found["images"][0].status == "active"
    outputs = stack.outputs()
    assert outputs["mgmt_network_id"].value == found["networks"][0].id
    assert outputs["amp_image_id"].value == found["images"][0].id
    assert set(stack.preview().change_summary) == {"same"}


# --- one `up` at a time --------------------------------------------------------------------------


def test_second_concurrent_up_is_refused_by_the_lock(stacks):
    stack = stacks.create("local")
    started, result = threading.Event(), {}

    def first_up():
        try:
            result["up"] = stack.up(on_event=lambda event: started.set())
        except Exception as error:  # reported by the assertions below
            result["error"] = error

    thread = threading.Thread(target=first_up)
    thread.start()
    try:
        assert started.wait(120), "the first up never started"
        second = pulumi_cli(stack, "up", "--yes", "--skip-preview", check=False)
    finally:
        thread.join(600)

    assert second.returncode != 0
    assert "the stack is currently locked" in second.stderr + second.stdout, second.stderr
    assert "error" not in result, result.get("error")
    assert result["up"].summary.result == "succeeded"  # the first one was not disturbed
    assert counts(cloud_objects(connect(stack.workspace.env_vars), prefix_of(stack))) == DECLARED
