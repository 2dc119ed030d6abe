"""tools/adopt.py without a cloud: the names it looks for, and an import file that names each object
as the program declares it (type, name, parent), checked against the program under mocks so a
renamed component or resource breaks this test rather than an adoption."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace as NS

import pytest
import yaml

from config.settings import parse_settings
from octavia_support import SSH_PUBLIC_KEY, declare
from tools.adopt import Adoption, AdoptError, file_digests, import_file, tool_names

PROJECT, OCTAVIA = "service-project-uuid", "octavia-user-uuid"
CIDR = "172.29.232.0/24"


def rule(rule_id, protocol, port, prefix=CIDR, description="", direction="ingress"):
    return NS(id=rule_id, direction=direction, ether_type="IPv4", protocol=protocol, port_range_min=port,
              port_range_max=port, remote_ip_prefix=prefix, remote_group_id=None, description=description)


DEFAULT_EGRESS = [NS(id=f"egress-{v}", direction="egress", ether_type=f"IPv{v}", protocol=None, port_range_min=None,
                     port_range_max=None, remote_ip_prefix=None, remote_group_id=None, description="") for v in (4, 6)]


class FakeCloud:
    """openstacksdk's calls tools/adopt.py makes, on the objects kolla-ansible makes."""

    def __init__(self, image_file: str, public: bool = False):
        checksum, hash_value = file_digests(Path(image_file))
        self.groups = {"lb-mgmt-sec-grp": NS(id="sg-amp", name="lb-mgmt-sec-grp", description=""),
                       "lb-health-mgr-sec-grp": NS(id="sg-hm", name="lb-health-mgr-sec-grp", description="")}
        self.rules = {"sg-amp": [rule("r-agent", "tcp", 9443, description="agent-api from the management network"),
                                 rule("r-ssh", "tcp", 22), rule("r-any", "tcp", 9443, prefix=None), *DEFAULT_EGRESS],
                      "sg-hm": [rule("r-hb", "udp", 5555), *DEFAULT_EGRESS]}
        self.ports = {"octavia-listen-port-ctl1": NS(id="port-ctl1", name="octavia-listen-port-ctl1", device_owner="",
                                                     fixed_ips=[{"ip_address": "172.29.232.11"}], binding_host_id="ctl1")}
        self.flavor = NS(id="flavor-id", name="amphora", is_public=public, vcpus=1, ram=1024, disk=5)
        self.image = NS(id="image-id", name="amphora-x64-haproxy", disk_format="qcow2", checksum=checksum,
                        hash_value=hash_value, tags=["amphora"], properties={}, visibility="private")
        self.identity = NS(find_project=lambda *a, **k: NS(id=PROJECT, name="service"),
                           find_user=lambda *a, **k: NS(id=OCTAVIA))
        self.network = NS(security_groups=lambda name, project_id: [g for g in self.groups.values() if g.name == name],
                          security_group_rules=lambda security_group_id: self.rules[security_group_id],
                          ports=lambda name, project_id: [p for p in self.ports.values() if p.name == name])
        self.compute = NS(flavors=lambda is_public: [self.flavor], get_keypair=self.get_keypair,
                          get_flavor_access=lambda flavor: [{"flavor_id": flavor.id, "tenant_id": PROJECT}])
        self.image_service = NS(images=lambda name, owner: [self.image] if name == self.image.name else [])

    def get_keypair(self, name, user_id=None):
        if name != "octavia_ssh_key" or user_id != OCTAVIA:
            raise LookupError(name)
        return NS(public_key=SSH_PUBLIC_KEY)


@pytest.fixture
def settings(config):
    return parse_settings({**config, "ssh_enabled": True, "amp_images": [{"version": "v1", "source": config["amp_images"][0]["source"]}],
                           "health_managers": [{"host": "ctl1", "ip": "172.29.232.11"}]})


def plan_for(settings, image_file, tool="kolla", **kwargs):
    fake = FakeCloud(image_file, **kwargs)
    conn = NS(identity=fake.identity, network=fake.network, compute=fake.compute, image=fake.image_service)
    return Adoption(conn, settings, tool, tool_names(tool, [], []), Path("/")).run(), fake


def test_the_tools_default_names():
    assert tool_names("osa", [], []) == {
        "amphora_secgroup": "octavia_sec_grp", "health_manager_secgroup": None, "flavor": "m1.amphora",
        "keypair": "octavia_key", "image": "amphora-x64-haproxy", "health_manager_port": None}
    assert tool_names("kolla", [], [])["health_manager_port"] == "octavia-listen-port-{host}"


def test_names_from_the_tools_variables_then_the_command_line(tmp_path):
    osa = tmp_path / "user_variables.yml"
    osa.write_text(yaml.safe_dump({"octavia_security_group_name": "amp_sg", "octavia_ssh_key_name": "{{ x }}",
                                   "octavia_amp_image_resource": [{"name": "amp-img", "url": "http://x"}]}))
    found = tool_names("osa", [osa], ["flavor=amp.flavor", "keypair=-"])
    assert (found["amphora_secgroup"], found["image"], found["flavor"], found["keypair"]) == \
        ("amp_sg", "amp-img", "amp.flavor", None)  # a Jinja expression is not a name: the default, then '-'
    kolla = tmp_path / "globals.yml"
    kolla.write_text(yaml.safe_dump({"octavia_amp_security_groups": {"health-mgr-sec-grp": {"name": "hm"}},
                                     "octavia_amp_flavor": {"name": "amp"}}))
    assert tool_names("kolla", [kolla], [])["health_manager_secgroup"] == "hm"
    with pytest.raises(AdoptError, match="KIND=NAME"):
        tool_names("osa", [], ["network=x"])


def test_the_import_file_names_each_object_as_the_program_declares_it(config, settings, image):
    plan, _ = plan_for(settings, image)
    spec = import_file(plan)["resources"]
    declared_config = {**config, "ssh_enabled": True, "health_managers": [{"host": "ctl1", "ip": "172.29.232.11"}]}
    run = declare(declared_config)
    program = {r.name: (r.type, r.opts.parent._name if r.opts and r.opts.parent else None) for r in run.resources}
    by_name = {entry["name"]: entry for entry in spec}
    # components: declared by the file, with their parents, before their children
    assert [e["name"] for e in spec if e.get("component")] == [
        "octavia", "octavia-secgroups", "octavia-health-manager", "octavia-amp-flavor", "octavia-amp-image"]
    for entry in spec:
        if entry.get("component"):
            continue
        assert program[entry["name"]][0] == entry["type"], entry
        assert by_name[entry["parent"]]["component"]
        assert entry["version"]
    imported = {e["name"] for e in spec if not e.get("component")}
    assert imported == {"octavia-secgroups-amphora", "octavia-secgroups-amphora-agent-api", "octavia-secgroups-amphora-ssh",
                        "octavia-secgroups-health-manager", "octavia-secgroups-health-manager-heartbeat",
                        "octavia-health-manager-ctl1", "octavia-amp-flavor-flavor", "octavia-amp-flavor-service-access",
                        "octavia-amp-image-v1"}
    assert by_name["octavia-amp-flavor-service-access"]["id"] == f"flavor-id/{PROJECT}"
    for component in ("octavia-secgroups", "octavia-health-manager", "octavia-amp-flavor", "octavia-amp-image"):
        assert component in {parent for _, parent in program.values()}


def test_what_would_force_a_replacement_is_mended_or_set_in_config(settings, image):
    plan, _ = plan_for(settings, image)
    mends = [what for what, _ in plan.mends]
    assert any("rule r-ssh" in m and "deleted and created again" in m for m in mends)
    assert not any("r-agent" in m for m in mends)  # already described as the program does
    assert any("device owner" in m for m in mends) and any("renamed" in m for m in mends)
    assert plan.config == {"amp_flavor_disk_gb": 5, "ssh_public_key": SSH_PUBLIC_KEY}  # amphora, 1 vCPU, 1024 MB: defaults
    assert plan.state["octavia-secgroups-amphora"] == {"deleteDefaultRules": False}
    assert plan.state["octavia-amp-image-v1"] == {"localFilePath": settings.image.current.source}
    assert any("r-any" in note and "not declared by the program" in note for note in plan.notes)


def test_what_cannot_be_adopted_is_said(settings, image, tmp_path):
    with pytest.raises(AdoptError, match="public and has the stack's flavor name"):
        plan_for(settings, image, public=True)
    other = tmp_path / "other.qcow2"
    other.write_bytes(b"not the image")
    fake = FakeCloud(image)
    fake.image.checksum = file_digests(other)[0]
    conn = NS(identity=fake.identity, network=fake.network, compute=fake.compute, image=fake.image_service)
    with pytest.raises(AdoptError, match="checksums differ"):
        Adoption(conn, settings, "kolla", tool_names("kolla", [], []), Path("/")).run()

