"""Adopting what OpenStack-Ansible's os_octavia made (`make adopt`, tools/adopt.py), on the real engine.

benchmarks/ansible/octavia_foundation.yml creates the objects the Ansible way (openstack.cloud
modules) with os_octavia's names and shapes: a management network, the amphora security group
`octavia_sec_grp` with undescribed ingress rules (agent API, SSH, ICMP from the management CIDR),
the private flavor `m1.amphora` shared with the service project, the keypair `octavia_key` and the
tagged image `amphora-x64-haproxy`. The names carry a run suffix so runs can share the devcloud;
the adoption reads them from an os_octavia variables file, as an operator's user_variables would.
The quota task is given the service project's current quotas, so it changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
import yaml

from benchmarks.run import PLAYBOOK, ensure_ansible_venv
from testbed import runbook
from testbed.devcloud_support import cloud_objects, connect, prefix_of, pulumi_cli
from testbed.stacks import LOCAL_TEST_IMAGE, ROOT, engine, write_config

CIDR = "172.29.232.0/24"
OSA_TAG = "octavia-amphora-image"  # os_octavia's octavia_glance_image_tag (the stack's default too)


def osa_spec(conn, suffix: str, stack_prefix: str, image_file: str, public_key: str) -> dict:
    project = conn.identity.find_project("service", domain_id="default", ignore_missing=False)
    nova, neutron = conn.compute.get_quota_set(project.id), conn.network.get_quota(project.id)
    rule = {"remote_ip_prefix": CIDR, "description": ""}  # os_octavia describes no rule
    return {
        "project": "service",
        "network": {"name": f"lbaas-mgmt-{suffix}", "type": "flat", "physical_network": f"phys-{suffix}"},
        "subnet": {"name": f"lbaas-mgmt-subnet-{suffix}", "cidr": CIDR, "enable_dhcp": True, "gateway_ip": None,
                   "dns_nameservers": [], "allocation_pools": [{"start": "172.29.232.50", "end": "172.29.232.250"}]},
        "security_groups": [{"key": "amphora", "name": f"octavia_sec_grp-{suffix}",
                             "description": "security group for octavia amphora",
                             "rules": [{**rule, "protocol": "tcp", "port": 9443}, {**rule, "protocol": "tcp", "port": 22},
                                       {**rule, "protocol": "icmp", "port": None}]}],
        "ports": [],  # os_octavia's health managers sit on the lbaas bridge, not on Neutron ports
        # Nova cannot rename a flavor: an adopted one keeps its name, so it carries the stack's prefix here.
        "flavor": {"name": f"{stack_prefix}m1.amphora", "vcpus": 1, "ram": 1024, "disk": 20, "extra_specs": {},
                   "description": None},
        "keypair": {"name": f"octavia_key-{suffix}", "public_key": public_key},
        "image": {"name": f"amphora-x64-haproxy-{suffix}", "file": image_file, "tags": [OSA_TAG], "properties": {}},
        "octavia_flavors": [],
        "quotas": {"nova": {k: nova[k] for k in ("instances", "cores", "ram", "server_groups", "server_group_members")},
                   "neutron": {"port": neutron.ports, "security_group": neutron.security_groups,
                               "security_group_rule": neutron.security_group_rules}},
    }


def playbook(spec_file, state: str, env: dict) -> float:
    python = ensure_ansible_venv()
    env = {**env, "PATH": f"{python.parent}:{env['PATH']}", "ANSIBLE_PYTHON_INTERPRETER": str(python),
           "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False"}
    started = time.monotonic()
    done = subprocess.run([str(python.parent / "ansible-playbook"), "-i", "localhost,", str(PLAYBOOK),
                           "-e", f"@{spec_file}", "-e", f"state={state}"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return time.monotonic() - started


def steps(stack) -> dict[str, dict]:
    out = pulumi_cli(stack, "preview", "--json").stdout
    return {step["urn"].rsplit("::", 1)[-1]: step for step in json.loads(out).get("steps") or []}


def protected(stack) -> dict[str, bool]:
    return {r["urn"].rsplit("::", 1)[-1]: bool(r.get("protect")) for r in stack.export_stack().deployment["resources"]
            if r["type"].startswith("openstack:")}


@pytest.fixture
def osa_objects(stacks, tmp_path):
    """A stack (not yet deployed) and, in the cloud, what os_octavia would have made for it."""
    stack = stacks.create("local")
    suffix = uuid.uuid4().hex[:6]
    conn = connect(stacks.env)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
    image_file = os.path.join(stack.workspace.work_dir, LOCAL_TEST_IMAGE)
    spec = osa_spec(conn, suffix, prefix_of(stack), image_file, (tmp_path / "key.pub").read_text().strip())
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    seconds = playbook(tmp_path / "spec.json", "present", stacks.env)
    print(f"playbook (present): {seconds:.1f}s")
    yield stack, conn, spec, seconds
    # What adoption leaves to the operator (the network, kept; the old keypair), and anything a
    # failed run left (its stack unprotected and destroyed first).
    pulumi_cli(stack, "state", "unprotect", "--all", "--yes", check=False)
    engine(stack.destroy)
    conn.compute.delete_keypair(spec["keypair"]["name"], ignore_missing=True)
    for kind, find, delete in (("image", conn.image.find_image, conn.image.delete_image),
                               ("flavor", conn.compute.find_flavor, conn.compute.delete_flavor)):
        found = find(spec[kind]["name"], ignore_missing=True)
        if found:
            delete(found)
    for group in conn.network.security_groups(name=spec["security_groups"][0]["name"]):
        conn.network.delete_security_group(group)
    network = conn.network.find_network(spec["network"]["name"], ignore_missing=True)
    if network:
        for port in conn.network.ports(network_id=network.id):
            conn.network.delete_port(port)
        conn.network.delete_network(network)


def test_osa_objects_are_adopted_kept_then_owned_by_the_stack(osa_objects, tmp_path):
    stack, conn, spec, _ = osa_objects
    network = conn.network.find_network(spec["network"]["name"], ignore_missing=False)
    subnet = conn.network.find_subnet(spec["subnet"]["name"], ignore_missing=False)
    group = conn.network.find_security_group(spec["security_groups"][0]["name"], ignore_missing=False)
    flavor = conn.compute.find_flavor(spec["flavor"]["name"], ignore_missing=False)
    image = conn.image.find_image(spec["image"]["name"], ignore_missing=False)
    rule_ids = {r.id for r in conn.network.security_group_rules(security_group_id=group.id, direction="ingress")}
    write_config(stack, {"mgmt_network_id": network.id, "mgmt_subnet_id": subnet.id, "mgmt_subnet_cidr": CIDR})
    osa_vars = tmp_path / "user_variables_octavia.yml"
    osa_vars.write_text(yaml.safe_dump({
        "octavia_security_group_name": spec["security_groups"][0]["name"],
        "octavia_amp_flavor_name": spec["flavor"]["name"], "octavia_ssh_key_name": spec["keypair"]["name"],
        "octavia_amp_image_resource": [{"name": spec["image"]["name"], "url": "https://example.invalid/amphora.qcow2"}],
    }))

    started = time.monotonic()
    dry_run, adopt = runbook.run(stack, "adopt-osa", **{"user variables file": str(osa_vars)})  # as written
    print(dry_run.output, adopt.output)
    print(f"adopt: {time.monotonic() - started:.1f}s")
    assert "dry run" in dry_run.output.lower(), dry_run.output[-2000:]
    out = adopt.output
    assert "No adopted object is replaced" in out
    assert "Neutron cannot change a rule's description" in out  # the three undescribed rules
    assert f"renamed {prefix_of(stack)}amphora-x64-haproxy-test in Glance" in out
    assert "the stack creates" in out and "same public key" in out

    # Imported under the program's names and parents, protected until the first up.
    adopted = protected(stack)
    prefix = "octavia-secgroups-amphora"
    assert adopted == {prefix: True, f"{prefix}-agent-api": True, f"{prefix}-ssh": True, f"{prefix}-icmp": True,
                       "octavia-amp-flavor-flavor": True, "octavia-amp-flavor-service-access": True,
                       "octavia-amp-image-test": True}
    urns = {r["urn"].rsplit("::", 1)[-1]: r["urn"] for r in stack.export_stack().deployment["resources"]}
    assert "OctaviaFoundation$octavia-infra:security:SecurityGroups$openstack:networking/secGroup:SecGroup" in urns[prefix]

    # The preview keeps every adopted object: updates (names, descriptions, image properties) at most.
    preview = steps(stack)
    ops = {name: preview[name]["op"] for name in adopted}
    assert set(ops.values()) <= {"same", "update"}, ops
    assert ops[prefix] == "update"  # renamed lb-mgmt-sec-grp, described as the program does
    assert not [name for name, step in preview.items() if step["op"] not in ("same", "update", "create")]
    created = {name for name, step in preview.items() if step["op"] == "create"}
    assert created and not created & set(adopted)

    # Destroy before the first up: refused at the first protected object, which stays.
    refused = pulumi_cli(stack, "destroy", "--yes", check=False)
    assert refused.returncode != 0 and "protect" in refused.stdout + refused.stderr
    assert conn.network.get_security_group(group.id).id == group.id

    out = {k: v.value for k, v in engine(stack.up).outputs.items()}
    assert out["amphora_secgroup_id"] == group.id and out["amp_flavor_id"] == flavor.id
    assert out["amp_image_id"] == image.id and out["mgmt_network_id"] == network.id
    assert conn.network.get_security_group(group.id).name == f"{prefix_of(stack)}lb-mgmt-sec-grp"
    kept = {r.id for r in conn.network.security_group_rules(security_group_id=group.id, direction="ingress")}
    assert len(kept) == 3 and not kept & rule_ids  # the same rules, made again with their descriptions
    assert conn.compute.get_keypair(out["amp_ssh_key_name"], user_id=conn.identity.find_user(
        "octavia", domain_id="default").id).public_key.split()[:2] == spec["keypair"]["public_key"].split()[:2]
    assert set(protected(stack).values()) == {False}  # protection as the program declares it
    summary = engine(stack.preview).change_summary
    assert set(summary) == {"same"}, summary

    engine(stack.destroy)
    assert not any(cloud_objects(conn, prefix_of(stack)).values())
    assert conn.network.find_security_group(group.id, ignore_missing=True) is None
    assert conn.compute.find_flavor(flavor.id, ignore_missing=True) is None
    assert conn.image.find_image(image.id, ignore_missing=True) is None
    assert conn.network.get_subnet(subnet.id).network_id == network.id  # the adopted network stays


@pytest.fixture
def kolla_objects(stacks):
    """A stack (not yet deployed) and what kolla-ansible's octavia role would have made for it, made
    here with openstacksdk as the role's tasks make them (prepare.yml, hm-interface.yml): the flavor,
    keypair and groups as Octavia's service user, the groups' rules from any source, the
    health-manager port `octavia-listen-port-<host>` bound to its host, no device owner."""
    stack = stacks.create("local")
    suffix, conn = uuid.uuid4().hex[:6], connect(stacks.env)
    octavia = conn.identity.find_user("octavia", domain_id="default", ignore_missing=False)
    project = conn.identity.find_project("service", domain_id="default", ignore_missing=False)
    made = {"suffix": suffix}
    network = conn.network.create_network(name=f"lb-mgmt-net-{suffix}", provider_network_type="flat",
                                          provider_physical_network=f"phys-{suffix}")
    made["network"] = network
    made["subnet"] = conn.network.create_subnet(
        name=f"lb-mgmt-subnet-{suffix}", network_id=network.id, cidr=CIDR, ip_version=4,
        allocation_pools=[{"start": "172.29.232.50", "end": "172.29.232.250"}])
    groups = {}
    for key, rules in (("lb-mgmt-sec-grp", (("icmp", None), ("tcp", 22), ("tcp", 9443))),
                       ("lb-health-mgr-sec-grp", (("udp", 5555),))):
        groups[key] = conn.network.create_security_group(name=f"{key}-{suffix}", project_id=project.id)
        for protocol, port in rules:
            conn.network.create_security_group_rule(security_group_id=groups[key].id, direction="ingress",
                                                    ethertype="IPv4", protocol=protocol, port_range_min=port,
                                                    port_range_max=port)
    made["groups"] = groups
    made["port"] = conn.network.create_port(
        name=f"octavia-listen-port-devcloud-{suffix}", network_id=network.id, project_id=project.id,
        fixed_ips=[{"subnet_id": made["subnet"].id, "ip_address": "172.29.232.10"}],
        security_group_ids=[groups["lb-health-mgr-sec-grp"].id], binding_host_id="devcloud")
    made["flavor"] = conn.compute.create_flavor(name=f"{prefix_of(stack)}amphora", vcpus=1, ram=1024, disk=5,
                                                is_public=False)
    conn.compute.flavor_add_tenant_access(made["flavor"], project.id)
    made["keypair_name"], made["octavia"] = f"octavia_ssh_key-{suffix}", octavia
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stacks.tmp / "kolla-key")], check=True)
    conn.compute.create_keypair(name=made["keypair_name"], user_id=octavia.id,
                                public_key=(stacks.tmp / "kolla-key.pub").read_text().strip())
    yield stack, conn, made
    pulumi_cli(stack, "state", "unprotect", "--all", "--yes", check=False)  # after a failure
    engine(stack.destroy)
    conn.compute.delete_keypair(made["keypair_name"], user_id=octavia.id, ignore_missing=True)
    conn.compute.delete_flavor(made["flavor"], ignore_missing=True)
    conn.network.delete_port(made["port"], ignore_missing=True)
    for group in groups.values():
        conn.network.delete_security_group(group, ignore_missing=True)
    conn.network.delete_network(network, ignore_missing=True)


def test_kolla_objects_are_adopted_then_the_adoption_is_backed_out(kolla_objects):
    """The health-manager group and port too; backing out before the first up (`pulumi state delete
    --all --force`) leaves every object in the cloud as it was."""
    stack, conn, made = kolla_objects
    suffix, groups = made["suffix"], made["groups"]
    write_config(stack, {"mgmt_network_id": made["network"].id, "mgmt_subnet_id": made["subnet"].id,
                         "mgmt_subnet_cidr": CIDR})
    names = {"amphora_secgroup": groups["lb-mgmt-sec-grp"].name, "health_manager_secgroup": groups["lb-health-mgr-sec-grp"].name,
             "flavor": made["flavor"].name, "keypair": made["keypair_name"],
             "health_manager_port": f"octavia-listen-port-{{host}}-{suffix}", "image": "-"}
    adopt = subprocess.run(
        [sys.executable, "-m", "tools.adopt", "--stack", stack.name, "--from", "kolla",
         "--project-dir", stack.workspace.work_dir, *(f"--name={k}={v}" for k, v in names.items())],
        cwd=ROOT, env={**os.environ, **stack.workspace.env_vars}, capture_output=True, text=True, timeout=300)
    print(adopt.stdout, adopt.stderr)
    assert adopt.returncode == 0, adopt.stdout[-3000:] + adopt.stderr[-3000:]
    # kolla's rules admit any source: kept as they are, unmanaged; the stack adds its own from the CIDR.
    assert adopt.stdout.count("not declared by the program") == 4
    assert "Neutron cannot change" not in adopt.stdout
    assert "device owner '' -> 'Octavia:health-mgr', set in Neutron" in adopt.stdout

    adopted = protected(stack)
    assert adopted == {"octavia-secgroups-amphora": True, "octavia-secgroups-health-manager": True,
                       "octavia-health-manager-devcloud": True, "octavia-amp-flavor-flavor": True,
                       "octavia-amp-flavor-service-access": True}
    preview = steps(stack)
    ops = {name: preview[name]["op"] for name in adopted}
    assert set(ops.values()) <= {"same", "update"}, ops
    assert ops["octavia-health-manager-devcloud"] == "update"  # renamed
    assert not [name for name, step in preview.items() if step["op"] not in ("same", "update", "create")]

    runbook.run(stack, "adopt-back-out")
    assert not stack.export_stack().deployment.get("resources")
    port = conn.network.get_port(made["port"].id)  # as kolla made it but for the device owner set at adoption
    assert (port.name, port.device_owner, port.binding_host_id) == (made["port"].name, "Octavia:health-mgr", "devcloud")
    assert conn.network.get_security_group(groups["lb-mgmt-sec-grp"].id).name == groups["lb-mgmt-sec-grp"].name
    assert conn.compute.get_flavor(made["flavor"].id).name == made["flavor"].name
