"""benchmarks/run.py's own logic: what it reads from each tool's output and from the services' request
logs, and that the resource set handed to the script and the playbook is the one this project declares.

The output excerpts are from real runs of the three tools on the devcloud.
"""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from config.settings import decode_config
from octavia_support import FAST_PKI, ROOT, SSH_PUBLIC_KEY, declare, engine_string, user_id

sys.path.insert(0, str(ROOT / "benchmarks"))
import run as bench  # noqa: E402
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


@pytest.mark.parametrize("hosts", [1, 3])
def test_the_spec_for_the_script_and_the_playbook_is_the_set_this_project_declares(tmp_path, hosts):
    image = tmp_path / "amphora.qcow2"
    make_test_image(image, "1M")
    config = bench.stack_config("b-", "phys-b", hosts, SSH_PUBLIC_KEY, str(image), [])
    spec = bench.spec_for(config, ROOT)
    typed = decode_config({key: engine_string(value) for key, value in {**config, "pki": FAST_PKI}.items()})
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
