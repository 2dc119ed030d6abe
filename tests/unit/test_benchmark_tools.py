"""benchmarks/run.py's own logic: what it reads from each tool's output and from the services' request
logs, and that the resource set handed to the script, the playbook and OpenTofu is the one this project
declares.

The output excerpts are from real runs of the tools on the devcloud.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

import pytest

from config.settings import decode_config
from octavia_support import FAST_PKI, ROOT, SSH_PUBLIC_KEY, declare, engine_string, user_id

sys.path.insert(0, str(ROOT / "benchmarks"))
import run as bench  # noqa: E402
from benchmarks import tofu_config  # noqa: E402
from testbed.stacks import make_test_image  # noqa: E402

PULUMI_UPDATE = """\
Updating (b8c2b-p3r1):
 ~  openstack:networking:Subnet octavia-mgmt-subnet updating (0s) [diff: +dnsNameservers]
 ~  openstack:networking:Subnet octavia-mgmt-subnet updated (0.18s) [diff: +dnsNameservers]
    pulumi:pulumi:Stack octavia-infra-b8c2b-p3r1  
Resources:
    ~ 1 updated
    39 unchanged
"""

PULUMI_DESTROY = """\
 -  openstack:loadbalancer:FlavorV2 octavia-octavia-flavors-single deleting (0s) 
 -  openstack:loadbalancer:FlavorV2 octavia-octavia-flavors-single deleted (0.14s) 
 -  pulumi-python:dynamic/pki:CertificateAuthority octavia-pki-server-ca deleted (0.01s) 
 -  pulumi:pulumi:Stack octavia-infra-b8c2b-p3r1 deleted (0.03s) 
Resources:
    - 40 deleted
"""

ANSIBLE_RERUN = """\
TASK [Management network] ******************************************************
ok: [localhost]

TASK [Amphora image] ***********************************************************
changed: [localhost]

TASK [Octavia flavor profiles] *************************************************
ok: [localhost] => (item={'name': 'b8c2b-a3r1-amphora-single', 'flavor_data': {'changed': True}})

TASK [Health-manager ports] ****************************************************
changed: [localhost] => (item={'name': 'b8c2b-a3r1-octavia-health-manager-ctl1-listen-port'})
ok: [localhost] => (item={'name': 'b8c2b-a3r1-octavia-health-manager-ctl2-listen-port'})

PLAY RECAP *********************************************************************
localhost                  : ok=12   changed=2    unreachable=0    failed=0    skipped=9
"""


def test_pulumi_changes_are_the_finished_resource_operations_without_the_stack():
    assert bench.pulumi_changed(PULUMI_UPDATE) == ["Subnet octavia-mgmt-subnet"]
    assert bench.pulumi_changed(PULUMI_DESTROY) == ["FlavorV2 octavia-octavia-flavors-single",
                                                    "CertificateAuthority octavia-pki-server-ca"]


def test_ansible_changes_are_the_tasks_with_a_changed_result_as_the_recap_counts_them():
    assert bench.ansible_changed(ANSIBLE_RERUN) == ["Amphora image", "Health-manager ports"]


def test_script_changes_are_its_last_line():
    assert bench.sdk_changed('connecting\n{"changed": ["subnet dns_nameservers"]}\n') == ["subnet dns_nameservers"]


def test_request_logs_count_only_what_was_logged_after_the_mark(tmp_path):
    keystone, nova = tmp_path / "keystone-requests.log", tmp_path / "nova-requests.log"
    keystone.write_text("1795654509085 POST /v3/auth/tokens 201 29ms\n")
    nova.write_text("")
    logs = bench.RequestLogs([keystone, nova])
    mark = logs.mark()
    with keystone.open("a") as f:
        f.write("1795654509795 GET /v3/auth/tokens 200 15ms\n")
    nova.write_text("1795654509800 POST /v2.1/flavors 200 1250ms\n")
    seen = logs.since(mark)
    assert seen["requests"] == 2
    assert seen["server_s"] == pytest.approx(1.265)
    assert seen["calls"] == ["keystone 1795654509795 GET /v3/auth/tokens 200 15ms",
                             "nova 1795654509800 POST /v2.1/flavors 200 1250ms"]


def bench_case(tmp_path, hosts):
    """A benchmark stack's config, the spec the other tools get from it, and the config as the program reads it."""
    image = tmp_path / "amphora.qcow2"
    make_test_image(image, "1M")
    config = bench.stack_config("b-", "phys-b", hosts, SSH_PUBLIC_KEY, str(image), [])
    typed = decode_config({key: engine_string(value) for key, value in {**config, "pki": FAST_PKI}.items()})
    return config, bench.spec_for(config, ROOT), typed


@pytest.mark.parametrize("hosts", [1, 3])
def test_the_spec_for_the_script_and_the_playbook_is_the_set_this_project_declares(tmp_path, hosts):
    config, spec, typed = bench_case(tmp_path, hosts)
    run = declare(typed)
    declared = Counter(r.type for r in run.resources if r.type.startswith("openstack:"))
    assert bench.resource_count(spec) == sum(declared.values())
    assert len(spec["ports"]) == declared["openstack:networking/port:Port"] == hosts
    assert (sum(len(g["rules"]) for g in spec["security_groups"])
            == declared["openstack:networking/secGroupRule:SecGroupRule"])
    assert len(spec["octavia_flavors"]) == declared["openstack:loadbalancer/flavorV2:FlavorV2"]
    # Octavia's service user owns the keypair (it boots amphorae with it), not the caller.
    (keypair,) = (r for r in run.resources if r.type == "openstack:compute/keypair:Keypair")
    assert keypair.inputs["userId"] == user_id(spec["keypair"]["user"], spec["keypair"]["user_domain"])
    # The service project's quotas, one resource per service; none of Octavia's (the tenants' own).
    quota_types = {r.type for r in run.resources if r.type.startswith("openstack:") and "quota" in r.type.lower()}
    assert quota_types == {"openstack:compute/quotaSetV2:QuotaSetV2", "openstack:networking/quotaV2:QuotaV2"}
    assert set(spec["quotas"]) == {"nova", "neutron"}
    # The same OpenStack names: the script and the playbook find what they made by name.
    named = {r.inputs["name"] for r in run.resources if r.type.startswith("openstack:") and r.inputs.get("name")}
    in_spec = {spec[kind]["name"] for kind in ("network", "subnet", "flavor", "keypair", "image")}
    in_spec |= {item["name"] for kind in ("security_groups", "ports", "octavia_flavors") for item in spec[kind]}
    assert named == in_spec


# The OpenTofu configuration's resource types and the program's Pulumi types for the same objects.
TOFU_TYPES = {
    "openstack_networking_network_v2": "openstack:networking/network:Network",
    "openstack_networking_subnet_v2": "openstack:networking/subnet:Subnet",
    "openstack_networking_secgroup_v2": "openstack:networking/secGroup:SecGroup",
    "openstack_networking_secgroup_rule_v2": "openstack:networking/secGroupRule:SecGroupRule",
    "openstack_networking_port_v2": "openstack:networking/port:Port",
    "openstack_compute_flavor_v2": "openstack:compute/flavor:Flavor",
    "openstack_compute_flavor_access_v2": "openstack:compute/flavorAccess:FlavorAccess",
    "openstack_compute_keypair_v2": "openstack:compute/keypair:Keypair",
    "openstack_images_image_v2": "openstack:images/image:Image",
    "openstack_lb_flavorprofile_v2": "openstack:loadbalancer/flavorprofileV2:FlavorprofileV2",
    "openstack_lb_flavor_v2": "openstack:loadbalancer/flavorV2:FlavorV2",
    "openstack_compute_quotaset_v2": "openstack:compute/quotaSetV2:QuotaSetV2",
    "openstack_networking_quota_v2": "openstack:networking/quotaV2:QuotaV2",
}


@pytest.mark.parametrize("hosts", [1, 3])
def test_the_opentofu_configuration_declares_the_objects_this_project_declares(tmp_path, hosts):
    config, spec, typed = bench_case(tmp_path, hosts)
    tofu = tofu_config.tofu_config(spec, "3.4.0")
    run = declare(typed)
    ours = [r for r in run.resources if r.type.startswith("openstack:")]
    resources = tofu["resource"]
    assert set(resources) == set(TOFU_TYPES)
    assert Counter({TOFU_TYPES[kind]: len(blocks) for kind, blocks in resources.items()}) == Counter(r.type for r in ours)
    # The same OpenStack names.
    assert ({block["name"] for blocks in resources.values() for block in blocks.values() if "name" in block}
            == {r.inputs["name"] for r in ours if r.inputs.get("name")})
    # The same rules, and the keypair for Octavia's service user (looked up by name, as the program does).
    rules = {(r.inputs["protocol"], r.inputs.get("portRangeMin"), r.inputs["remoteIpPrefix"])
             for r in ours if r.type == TOFU_TYPES["openstack_networking_secgroup_rule_v2"]}
    assert rules == {(b["protocol"], b["port_range_min"], b["remote_ip_prefix"])
                     for b in resources["openstack_networking_secgroup_rule_v2"].values()}
    assert resources["openstack_compute_keypair_v2"]["amphora"]["user_id"] == "${data.openstack_identity_user_v3.octavia.id}"
    assert tofu["data"]["openstack_identity_user_v3"]["octavia"] == {"name": spec["keypair"]["user"],
                                                                    "domain_id": spec["keypair"]["user_domain"]}
    # Every reference names a block the configuration declares.
    declared = {f"{kind}.{name}" for kind, blocks in resources.items() for name in blocks}
    declared |= {f"data.{kind}.{name}" for kind, blocks in tofu["data"].items() for name in blocks}
    text = json.dumps(tofu)
    assert set(re.findall(r"\b((?:data\.)?openstack_\w+\.\w+)\.id\b", text)) <= declared
    assert all(dep in declared for blocks in resources.values() for b in blocks.values() for dep in b.get("depends_on", []))


TOFU_APPLY = """\
OpenTofu will perform the following actions:

  # openstack_networking_subnet_v2.mgmt will be updated in-place
  ~ resource "openstack_networking_subnet_v2" "mgmt" {
Plan: 0 to add, 1 to change, 0 to destroy.
openstack_networking_subnet_v2.mgmt: Modifying... [id=5b0e]
openstack_networking_subnet_v2.mgmt: Modifications complete after 1s [id=5b0e]

Apply complete! Resources: 0 added, 1 changed, 0 destroyed.
"""

TOFU_PLAN = """\
  # openstack_networking_subnet_v2.mgmt will be updated in-place
  ~ resource "openstack_networking_subnet_v2" "mgmt" {
Plan: 0 to add, 1 to change, 0 to destroy.
"""


def test_opentofu_changes_are_the_finished_operations_or_the_planned_ones():
    assert bench.tofu_changed(TOFU_APPLY) == ["openstack_networking_subnet_v2.mgmt"]
    assert bench.tofu_changed(TOFU_PLAN) == ["openstack_networking_subnet_v2.mgmt"]
    assert bench.tofu_changed("No changes. Your infrastructure matches the configuration.\n") == []


# A real `pulumi preview -v=9 --logflow --logtostderr` of a benchmark stack, cut to the lines the
# timeline reads (and the first two).
ENGINE_LOG = ROOT / "tests/fixtures/preview/engine-log-v9.jsonl"


def _logged_at(log: str, *texts: str) -> float:
    return next(at for at, msg in bench.engine_log(log) if all(t in msg for t in texts))


def _phase(phases: list, words: str) -> float:
    return phases[next(i for i, (label, _, _) in enumerate(bench.TIMELINE) if words in label)]


def test_a_preview_timeline_splits_the_whole_preview_at_the_engines_log_lines():
    log = ENGINE_LOG.read_text()
    first = _logged_at(log, "OTLP receiver started")
    started, ended = first - 0.4, _logged_at(log, "Update(preview=true) complete") + 0.05
    phases = bench.timeline_phases(log, started, ended)

    assert len(phases) == len(bench.TIMELINE) and min(phases) >= 0
    assert sum(phases) == pytest.approx(ended - started)
    assert _phase(phases, "CLI start-up") == pytest.approx(0.4)
    assert _phase(phases, "dynamic provider process start") == pytest.approx(
        _logged_at(log, "CheckConfig(", "pulumi-python::default") - _logged_at(log, "Launching plugin 'pulumi-python"))
    assert _phase(phases, "interpreter exit") == pytest.approx(
        _logged_at(log, "langhost[python].Run(", "success") - _logged_at(log, "run_pulumi_func completed"))


def test_a_preview_timeline_names_the_engine_log_line_it_misses():
    log = "\n".join(line for line in ENGINE_LOG.read_text().splitlines() if "run_pulumi_func" not in line)
    with pytest.raises(RuntimeError, match="run_pulumi_func completed.*update TIMELINE"):
        bench.timeline_phases(log, 0, 2e9)
