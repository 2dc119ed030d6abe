"""tools/from_osa.py: OpenStack-Ansible user_variables (os_octavia role) to a stack file.

The fixtures under tests/fixtures/osa/ are user_variables files written from the role's documented
variables (defaults/main.yml and doc/source/configure-octavia.rst): a VLAN deployment with
ACTIVE_STANDBY load balancers (two user_variables files and an openstack_user_config.yml), a flat
one with SINGLE load balancers and its user_secrets.yml, and one whose values cannot be converted.
os_octavia_variables.txt lists the role's variables at the pinned commit.
"""

from pathlib import Path

import pytest
import yaml

from tools import from_osa
from testbed.stacks import make_test_image
from tools.from_osa import (
    HEALTH_MANAGER_PLACEHOLDER,
    IGNORED,
    IMAGE_VARIABLES,
    MAPPINGS,
    NOT_IN_ROLE,
    ROLE_COMMIT,
    HealthManager,
    Options,
    Refused,
    convert,
    render,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "osa"
VLAN = [FIXTURES / "vlan" / "user_variables.yml", FIXTURES / "vlan" / "user_variables_octavia.yml"]
VLAN_USER_CONFIG = FIXTURES / "vlan" / "openstack_user_config.yml"
FLAT = [FIXTURES / "flat" / "user_variables.yml", FIXTURES / "flat" / "user_secrets.yml"]
UNMAPPABLE = [FIXTURES / "unmappable" / "user_variables.yml"]
HEALTH_MANAGERS = (
    HealthManager("infra1", "172.29.232.11"), HealthManager("infra2", "172.29.232.12"), HealthManager("infra3")
)


def role_variables() -> tuple[list[str], list[str], str]:
    """(defined in defaults/main.yml, read but optional, first line) of os_octavia_variables.txt."""
    lines = (FIXTURES / "os_octavia_variables.txt").read_text().splitlines()
    sections: dict[str, list[str]] = {"defined": [], "optional": []}
    current = None
    for line in lines:
        if line.startswith("# ["):
            current = line[3:].split("]")[0]
        elif line and not line.startswith("#"):
            sections[current].append(line)
    return sections["defined"], sections["optional"], lines[0]


def stack_file(conversion, stack=None) -> dict:
    return yaml.safe_load(render(conversion, stack))["config"]


# --- the role's variables ---------------------------------------------------------------------------


def test_variable_list_names_the_pinned_commit():
    defined, optional, first = role_variables()
    assert first.startswith("# ") and ROLE_COMMIT in first and "openstack-ansible-os_octavia" in first
    assert len(defined) > 200 and len(set(defined)) == len(defined)
    assert not set(defined) & set(optional)


def test_every_mapped_variable_is_a_role_variable():
    defined, optional, _ = role_variables()
    for rule in MAPPINGS:
        assert rule.osa in defined + optional, rule.osa
        # in_role_defaults says honestly which ones the role only reads (commented out in its defaults).
        assert rule.in_role_defaults == (rule.osa in defined), rule.osa
    for name in IMAGE_VARIABLES:
        assert name in defined


def test_ignore_reasons_name_role_variables_or_say_they_are_not():
    defined, optional, _ = role_variables()
    for name in IGNORED:
        assert name in defined + optional, name
    for name, reason in NOT_IN_ROLE.items():
        assert name not in defined + optional, name
        assert reason.startswith(("removed from the role", "kolla-ansible's name")), name


@pytest.mark.parametrize("name", role_variables()[0] + role_variables()[1])
def test_every_role_variable_is_mapped_or_ignored_for_a_reason(name):
    """No role variable falls through to "not a variable of os_octavia"."""
    if name in from_osa.RULES or name in IMAGE_VARIABLES:
        return
    value = {"octavia_security_group_additional_rules": [], "octavia_agent_port": 9443,
             "octavia_security_group_rule_cidr": from_osa.OSA_DEFAULT_CIDR}.get(name, "x")
    converter = from_osa._Converter({name: from_osa._Value(value, "user_variables.yml")}, Options())
    converter.ignored(name)
    reason = converter.result.ignored[name]
    assert reason and "not a variable of os_octavia" not in reason and "not an os_octavia variable" not in reason


def test_the_openstack_ansible_rendering_uses_role_variable_names():
    """The stack's openstack_ansible_user_variables output names only variables the role reads."""
    from render.rendering import OPENSTACK_ANSIBLE_CONSTANTS, OPENSTACK_ANSIBLE_VARS

    defined, optional, _ = role_variables()
    rendered = [name for name, _ in OPENSTACK_ANSIBLE_VARS] + list(OPENSTACK_ANSIBLE_CONSTANTS)
    rendered.append("octavia_octavia_conf_overrides")
    assert [name for name in rendered if name not in defined + optional] == []


# --- VLAN, ACTIVE_STANDBY ----------------------------------------------------------------------------


@pytest.fixture
def vlan():
    return convert(VLAN, [VLAN_USER_CONFIG], Options(health_managers=HEALTH_MANAGERS))


def test_vlan_active_standby_key_by_key(vlan):
    assert stack_file(vlan) == {
        "octavia-infra:mgmt_network_name": "lbaas-mgmt",
        "octavia-infra:mgmt_network_type": "vlan",
        "octavia-infra:mgmt_physical_network": "lbaas",
        "octavia-infra:mgmt_segmentation_id": 3101,  # "{{ lbaas_vlan }}" resolved from user_variables.yml
        "octavia-infra:mgmt_subnet_cidr": "172.29.232.0/22",
        "octavia-infra:mgmt_allocation_pools": [{"start": "172.29.232.100", "end": "172.29.235.200"}],
        # used_ips on the lbaas segment outside the pool; the pool's own used_ips entry is not reserved.
        "octavia-infra:mgmt_reserved_ranges": [{"start": "172.29.232.1", "end": "172.29.232.10"}],
        "octavia-infra:mgmt_used_ips": ["172.29.232.50"],
        "octavia-infra:mgmt_enable_dhcp": True,
        "octavia-infra:health_managers": [
            {"host": "infra1", "ip": "172.29.232.11"},
            {"host": "infra2", "ip": "172.29.232.12"},
            {"host": "infra3"},
        ],
        "octavia-infra:health_manager_port": 5555,
        "octavia-infra:health_manager_interface": "eth14",  # the lbaas provider network's container_interface
        "octavia-infra:ssh_enabled": True,
        "octavia-infra:debug": False,
        "octavia-infra:amp_flavor_name": "m1.amphora",
        "octavia-infra:amp_flavor_vcpus": 2,
        "octavia-infra:amp_flavor_ram_mb": 2048,
        "octavia-infra:amp_flavor_disk_gb": 10,
        "octavia-infra:amp_flavor_extra_specs": {"hw_rng:allowed": "True", "hw:cpu_policy": "dedicated"},
        "octavia-infra:loadbalancer_topology": "ACTIVE_STANDBY",
        "octavia-infra:enable_anti_affinity": True,
        "octavia-infra:amp_images": [
            {"version": "2025.1", "source": "https://images.example.com/octavia/amphora-x64-haproxy-2025.1.qcow2"}
        ],
        "octavia-infra:amp_image_tag": "octavia-amphora-image",
        "octavia-infra:octavia_cert_dir": "/etc/octavia/certs",
        "octavia-infra:pki": {
            "server_ca": {"validity_days": 1825, "subject": {"country": "DE", "organization": "Example Cloud GmbH"}},
            "client_ca": {"validity_days": 1825, "subject": {"country": "DE", "organization": "Example Cloud GmbH"}},
            "client_cert": {"subject": {"common_name": "octavia-controller.example.com"}},
        },
    }
    assert vlan.todo == []


def test_vlan_lists_what_it_mapped_and_ignored(vlan):
    assert vlan.mapped["octavia_provider_segmentation_id (via lbaas_vlan)"] == ("mgmt_segmentation_id",)
    assert vlan.mapped["octavia_cert_validity_days"] == ("pki.server_ca.validity_days", "pki.client_ca.validity_days")
    assert vlan.mapped["used_ips (openstack_user_config.yml)"] == ("mgmt_reserved_ranges", "mgmt_used_ips")
    assert vlan.mapped["--health-manager"] == ("health_managers",)
    ignored = vlan.ignored
    assert ignored["lbaas_vlan"] == "not an os_octavia variable; its value reached octavia_provider_segmentation_id"
    assert ignored["neutron_plugin_type"].startswith("not an os_octavia variable")
    assert ignored["octavia_security_group_rule_cidr"] == IGNORED["octavia_security_group_rule_cidr"]  # a Jinja default
    assert "mgmt_extra_sources" not in vlan.config
    assert "octavia_sec_grp" not in render(vlan)  # the role's group name is not carried over
    assert ignored["octavia_ssh_key_name"].startswith("the stack creates the amphora keypair")
    assert ignored["octavia_ip_tables_fw"].startswith("the controllers' host firewall")
    assert ignored["octavia_octavia_conf_overrides"].startswith("the stack's rendered user_variables set")
    assert ignored["octavia_cert_client_req_locality_name"].startswith(
        "the stack's certificate subjects have no locality"
    )
    assert ignored["octavia_galera_use_ssl"] == "the Octavia database: owned by the role"
    assert ignored["octavia_agent_port"] == "the stack's amphora agent port is the same (9443)"
    # Every variable of both files is accounted for exactly once.
    names = set()
    for path in VLAN:
        names |= set(yaml.safe_load(path.read_text()))
    sources = {source.split(" ")[0] for source in vlan.mapped} | set(vlan.ignored)
    assert names <= sources
    assert not {source.split(" ")[0] for source in vlan.mapped} & set(vlan.ignored)


def test_vlan_rendering_lists_ignored_variables_in_the_header(vlan):
    text = render(vlan, "prod")
    header = text.split("\nconfig:\n")[0].splitlines()
    assert all(line.startswith("#") for line in header)
    assert f"#   octavia_wsgi_processes: {vlan.ignored['octavia_wsgi_processes']}" in header
    assert "#   octavia_provider_network_type -> mgmt_network_type" in header
    assert any("2025.1" in line and "octavia_git_install_branch" in line for line in header)
    assert ROLE_COMMIT[:12] in text


def test_later_file_wins(tmp_path):
    override = tmp_path / "user_variables_zz_override.yml"
    override.write_text("octavia_loadbalancer_topology: SINGLE\nlbaas_vlan: 3102\n")
    conversion = convert([*VLAN, override])
    assert conversion.config["loadbalancer_topology"] == "SINGLE"
    assert conversion.config["mgmt_segmentation_id"] == 3102  # the reference resolves to the later value
    assert "octavia_loadbalancer_topology" in conversion.mapped


# --- flat, SINGLE -------------------------------------------------------------------------------------


@pytest.fixture
def flat():
    return convert(FLAT)


def test_flat_single_key_by_key(flat):
    assert stack_file(flat) == {
        "octavia-infra:service_project": "lbaas-service",
        "octavia-infra:mgmt_network_name": "lbaas-mgmt",
        "octavia-infra:mgmt_network_type": "flat",
        "octavia-infra:mgmt_physical_network": "lbaas",
        "octavia-infra:mgmt_mtu": 1450,
        "octavia-infra:mgmt_subnet_cidr": "10.50.0.0/24",
        "octavia-infra:mgmt_allocation_pools": [{"start": "10.50.0.100", "end": "10.50.0.250"}],
        "octavia-infra:mgmt_gateway_ip": "10.50.0.1",
        "octavia-infra:mgmt_enable_dhcp": True,
        "octavia-infra:health_managers": [{"host": HEALTH_MANAGER_PLACEHOLDER}],
        "octavia-infra:health_manager_port": 5555,
        "octavia-infra:ssh_enabled": False,
        "octavia-infra:amp_flavor_vcpus": 1,
        "octavia-infra:amp_flavor_ram_mb": 1024,
        "octavia-infra:amp_flavor_disk_gb": 5,
        "octavia-infra:loadbalancer_topology": "SINGLE",
        "octavia-infra:enable_anti_affinity": False,
        "octavia-infra:amp_images": [{"version": "<image version>", "source": "<amphora image file or http(s) URL>"}],
        # octavia_security_group_rule_cidr: the controllers' segment, admitted besides the management subnet
        "octavia-infra:mgmt_extra_sources": ["10.60.0.0/24"],
    }
    assert flat.mapped["octavia_security_group_rule_cidr"] == ("mgmt_extra_sources",)


def test_flat_placeholders_are_marked_and_refused_by_the_stack(flat):
    assert flat.todo[0].startswith("health_managers: placeholder")
    assert "--health-manager HOST[=IP]" in flat.todo[0]
    assert flat.todo[1].startswith("amp_images: placeholder (octavia_download_artefact is false")
    text = render(flat)
    assert "# TO DO before `pulumi preview`" in text
    # Not an RFC 1123 host name, not an image version: the stack's validation stops at both.
    assert not from_osa._HOSTNAME.match(HEALTH_MANAGER_PLACEHOLDER)
    assert not from_osa._VERSION.match(from_osa.IMAGE_VERSION_PLACEHOLDER)


def test_flat_ignores_secrets_removed_and_unknown_variables(flat):
    ignored = flat.ignored
    assert ignored["octavia_service_password"] == (
        "owned by the role: a service password of the Octavia services (user_secrets.yml)"
    )
    assert "pki.heartbeat_key" in ignored["octavia_health_hmac_key"]
    assert ignored["octavia_spare_amphora_pool_size"].startswith("removed from the role (1be636c, 2020)")
    assert ignored["octavia_legacy_policy"].startswith("removed from the role (90f522c, 2025)")
    assert ignored["octavia_amp_image_tag"].startswith("kolla-ansible's name, not os_octavia's")
    assert ignored["octavia_artefact_url"] == "not used by the role: octavia_download_artefact is false"
    assert ignored["octavia_hm_hosts"].startswith("addresses without host names")
    assert ignored["octavia_security_group_additional_rules"] == "empty: nothing to carry over"
    text = render(flat)
    for value in yaml.safe_load((FIXTURES / "flat" / "user_secrets.yml").read_text()).values():
        assert value not in text


def test_flat_notes_role_defaults_that_differ(flat):
    note = "octavia_amp_flavor_name is not set, so the role used m1.amphora; the stack's amp_flavor_name is amphora"
    assert note in flat.notes
    assert not any(note.startswith("octavia_management_net_dhcp") for note in flat.notes)  # set in the file


def test_misspelt_variable_gets_a_guess(tmp_path):
    path = tmp_path / "user_variables.yml"
    path.write_text("octavia_loadbalancer_topolgy: SINGLE\n")
    ignored = convert([path]).ignored["octavia_loadbalancer_topolgy"]
    assert ignored.startswith(f"not a variable of os_octavia at {ROLE_COMMIT[:10]}: nothing reads it")
    assert ignored.endswith("did you mean octavia_loadbalancer_topology?")


def test_image_resource_with_the_roles_url_reference(tmp_path):
    path = tmp_path / "user_variables.yml"
    path.write_text(
        "octavia_artefact_url: https://images.example.com/amphora.qcow2\n"
        "octavia_amp_image_resource:\n"
        "  - name: amphora-x64-haproxy\n"
        '    url: "{{ octavia_artefact_url }}"\n'
        "    checksum: sha256:0123abcd\n"
        "    disk_format: qcow2\n"
    )
    conversion = convert([path], options=Options(image_version="v7"))
    assert conversion.config["amp_images"] == [{"version": "v7", "source": "https://images.example.com/amphora.qcow2"}]
    assert conversion.mapped["octavia_amp_image_resource (via octavia_artefact_url)"] == ("amp_images",)
    reason = "its value reached amp_images through octavia_amp_image_resource"
    assert conversion.ignored["octavia_artefact_url"] == reason


def test_role_default_image_is_not_carried_over(tmp_path):
    path = tmp_path / "user_variables.yml"
    path.write_text("octavia_loadbalancer_topology: SINGLE\n")
    conversion = convert([path])
    placeholder = {"version": "<image version>", "source": "<amphora image file or http(s) URL>"}
    assert conversion.config["amp_images"] == [placeholder]
    assert "Octavia's test-only image, which is not for production" in conversion.todo[1]


def test_overlay_network_has_no_physical_network(tmp_path):
    path = tmp_path / "user_variables.yml"
    path.write_text("octavia_provider_network_type: vxlan\noctavia_provider_network_name: lbaas\n"
                    "octavia_provider_segmentation_id: 5000\n")  # fmt: skip
    conversion = convert([path])
    assert conversion.config["mgmt_network_type"] == "vxlan"
    assert conversion.config["mgmt_physical_network"] == ""
    assert conversion.config["mgmt_segmentation_id"] == 5000
    assert conversion.ignored["octavia_provider_network_name"].startswith("vxlan is an overlay")


def test_jinja_with_a_safe_default_is_ignored_not_refused(tmp_path):
    path = tmp_path / "user_variables.yml"
    path.write_text('octavia_amp_ram: "{{ 2048 if big else 1024 }}"\noctavia_ssh_enabled: !unsafe "{{ literal }}"\n')
    with pytest.raises(Refused) as refused:
        convert([path])
    # !unsafe braces are literal text, so the boolean check refuses it; the Jinja RAM is left to the default.
    assert refused.value.lines == [
        "octavia_ssh_enabled='{{ literal }}' (user_variables.yml): ssh_enabled: a boolean "
        '(true/false, yes/no, "True"/"False")'
    ]
    path.write_text('octavia_amp_ram: "{{ 2048 if big else 1024 }}"\n')
    conversion = convert([path])
    assert "amp_flavor_ram_mb" not in conversion.config
    assert conversion.ignored["octavia_amp_ram"] == (
        "Jinja expression, not a value: set amp_flavor_ram_mb by hand (the stack's default stays)"
    )


# --- refused values -----------------------------------------------------------------------------------


def test_unmappable_values_are_refused_one_line_each():
    with pytest.raises(Refused) as refused:
        convert(UNMAPPABLE)
    assert refused.value.lines == [
        "octavia_provider_network_type='gre' (user_variables.yml): mgmt_network_type: one of flat, vlan, vxlan, "
        "geneve (the stack has no other)",
        "octavia_management_net_subnet_cidr=\"{{ lbaas_cidr | ansible.utils.ipaddr('network/prefix') }}\" "
        "(user_variables.yml): a Jinja expression, not a value; mgmt_subnet_cidr needs the literal value and has no "
        "safe default: write the value itself",
        "octavia_management_net_subnet_allocation_pools=['172.29.232.10-172.29.232.200'] (user_variables.yml): "
        'mgmt_allocation_pools: the role takes one "start-end" string (it splits it on "-")',
        "octavia_amp_disk=0 (user_variables.yml): amp_flavor_disk_gb: 0 means the amphora boots from a Cinder volume "
        "(octavia_cinder_enabled); the stack's flavor needs a root disk of 1-1024 GiB",
        "octavia_cert_client_req_country_name='Germany' (user_variables.yml): pki.server_ca.subject.country, "
        "pki.client_ca.subject.country: two upper-case letters (ISO 3166), e.g. DE",
        "octavia_health_manager_port=<!vault encrypted> (user_variables.yml): encrypted with ansible-vault: write the "
        "plain value of health_manager_port by hand",
        "octavia_security_group_additional_rules=[{'protocol': 'tcp', 'port_range_min': 8443, 'port_range_max': 8443, "
        "'remote_ip_prefix': '10.0.0.0/8'}] (user_variables.yml): the stack's security groups are built from its own "
        "rule table: another source for its rules is mgmt_extra_sources; add other rules outside the stack, then "
        "convert with --ignore octavia_security_group_additional_rules",
        "octavia_agent_port=9444 (user_variables.yml): the stack's amphora security group opens the agent on 9443 only",
        "octavia_security_group_rule_cidr='0.0.0.0/0' (user_variables.yml): mgmt_extra_sources: 0.0.0.0/0 admits every "
        "address (the role's default before it scoped rules to the management subnet); the stack refuses it unless it "
        "is in mgmt_allowed_open_prefixes and in the policy pack's allowed_open_prefixes: set those and "
        "mgmt_extra_sources by hand to keep it, or convert with --ignore octavia_security_group_rule_cidr to admit the "
        "management subnet only",
        "octavia_artefact_url='{{ artefact_mirror }}/amphora-x64-haproxy.qcow2' (user_variables.yml): a Jinja "
        "expression, not a value; amp_images needs the image's literal URL or file and has no safe default: write the "
        "value itself",
    ]


def test_ignore_option_drops_a_refused_variable(tmp_path):
    path = tmp_path / "user_variables.yml"
    path.write_text("octavia_agent_port: 9444\noctavia_amp_disk: 0\n")
    conversion = convert([path], options=Options(ignore=("octavia_agent_port", "octavia_amp_disk")))
    assert conversion.ignored["octavia_agent_port"] == (
        "dropped on request (--ignore): the stack's amphora security group opens the agent on 9443 only"
    )
    assert conversion.ignored["octavia_amp_disk"].startswith(
        "dropped on request (--ignore): amp_flavor_disk_gb: 0 means"
    )
    assert "amp_flavor_disk_gb" not in conversion.config


@pytest.mark.parametrize("rule_cidr, written", [
    ("172.29.232.0/22", None),  # the management subnet: every rule admits it already
    ("10.20.0.0/16", ["10.20.0.0/16"]),
    ("10.20.0.1/16", ["10.20.0.0/16"]),  # Neutron keeps the network of a prefix with host bits
])
def test_rule_cidr_becomes_an_extra_source_unless_it_is_the_management_subnet(tmp_path, rule_cidr, written):
    path = tmp_path / "user_variables.yml"
    path.write_text(f"octavia_security_group_rule_cidr: {rule_cidr}\n")
    conversion = convert([path])
    assert conversion.config.get("mgmt_extra_sources") == written
    if written is None:
        assert conversion.ignored["octavia_security_group_rule_cidr"] == IGNORED["octavia_security_group_rule_cidr"]


@pytest.mark.parametrize("rule_cidr, why", [
    ("::/0", "mgmt_extra_sources: ::/0 admits every address"),
    ("fd00:20::/64", "mgmt_extra_sources: an IPv4 network outside mgmt_subnet_cidr 172.29.232.0/22"),
    ("172.29.232.0/24", "mgmt_extra_sources: an IPv4 network outside mgmt_subnet_cidr 172.29.232.0/22"),
    ("lbaas", "mgmt_extra_sources: a network in CIDR form"),
])
def test_rule_cidr_the_stack_would_refuse_is_refused(tmp_path, rule_cidr, why):
    path = tmp_path / "user_variables.yml"
    path.write_text(f"octavia_security_group_rule_cidr: \"{rule_cidr}\"\n")
    with pytest.raises(Refused) as refused:
        convert([path])
    assert len(refused.value.lines) == 1 and why in refused.value.lines[0], refused.value.lines


def test_flat_network_with_a_segmentation_id_is_refused(tmp_path):
    path = tmp_path / "user_variables.yml"
    path.write_text("octavia_provider_network_type: flat\noctavia_provider_segmentation_id: 300\n")
    with pytest.raises(Refused) as refused:
        convert([path])
    assert refused.value.lines == [
        "octavia_provider_segmentation_id=300 (user_variables.yml): a flat network has no segmentation id "
        "(mgmt_segmentation_id must be 0): remove it or use vlan"
    ]


# --- the command ----------------------------------------------------------------------------------------


def test_command_writes_the_stack_file(tmp_path, capsys):
    output = tmp_path / "Pulumi.prod.yaml"
    args = [*map(str, VLAN), "--user-config", str(VLAN_USER_CONFIG), "--output", str(output), "--stack", "prod",
            "--health-manager", "infra1=172.29.232.11", "--health-manager", "infra2"]  # fmt: skip
    assert from_osa.main(args) == 0
    config = yaml.safe_load(output.read_text())["config"]
    assert config["octavia-infra:health_managers"] == [{"host": "infra1", "ip": "172.29.232.11"}, {"host": "infra2"}]
    assert f"wrote {output}" in capsys.readouterr().err
    # A second run does not replace config (the stack's secrets may be in it) without --force.
    assert from_osa.main(args) == 2
    assert "already has config" in capsys.readouterr().err
    assert from_osa.main([*args, "--force"]) == 0


def test_command_completes_a_file_from_stack_init(tmp_path, capsys):
    output = tmp_path / "Pulumi.prod.yaml"
    output.write_text("secretsprovider: passphrase\nencryptionsalt: v1:abc:v1:def:ghi\n")
    assert from_osa.main([*map(str, FLAT), "--output", str(output), "--health-manager", "ctl1=10.50.0.11"]) == 0
    written = yaml.safe_load(output.read_text())
    assert written["encryptionsalt"] == "v1:abc:v1:def:ghi" and written["secretsprovider"] == "passphrase"
    assert written["config"]["octavia-infra:health_managers"] == [{"host": "ctl1", "ip": "10.50.0.11"}]
    err = capsys.readouterr().err
    assert "kept its secretsprovider, encryptionsalt" in err
    assert "to do: amp_images: placeholder" in err


def test_command_refuses_with_one_line_per_variable(capsys):
    assert from_osa.main([str(path) for path in UNMAPPABLE]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 10 and all(line.startswith("from_osa: refused: octavia_") for line in err)


@pytest.mark.parametrize("value", ["bad_host=172.29.232.11", "infra1=172.29.232.300", "-infra1"])
def test_command_checks_health_manager_options(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        from_osa.main([str(FLAT[0]), f"--health-manager={value}"])
    assert exit_.value.code == 2
    assert "--health-manager" in capsys.readouterr().err


def test_the_stack_accepts_the_conversion_and_refuses_the_placeholders(tmp_path):
    from config.errors import ConfigError
    from config.settings import parse_settings

    settings = parse_settings(convert(VLAN, [VLAN_USER_CONFIG], Options(health_managers=HEALTH_MANAGERS)).config)
    assert settings.network.segmentation_id == 3101 and settings.topology.default == "ACTIVE_STANDBY"
    assert [(h.name, str(h.ip) if h.ip else None, h.interface) for h in settings.health_managers] == [
        ("infra1", "172.29.232.11", "eth14"), ("infra2", "172.29.232.12", "eth14"), ("infra3", None, "eth14")
    ]

    config = convert(FLAT).config
    with pytest.raises(ConfigError) as refused:
        parse_settings(config)
    assert refused.value.key == "health_managers[0].host"
    config["health_managers"] = [{"host": "ctl1", "ip": "10.50.0.11"}]
    with pytest.raises(ConfigError) as refused:
        parse_settings(config)
    assert refused.value.key == "amp_images[0].version"
    image = tmp_path / "amphora.qcow2"
    make_test_image(image, "1M")
    config["amp_images"] = [{"version": "2025.1", "source": str(image)}]
    assert parse_settings(config).topology.default == "SINGLE"


def test_output_keys_are_keys_of_the_project_config():
    """Every key written is declared in Pulumi.yaml (pki: in the default object it merges into)."""
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    conversion = convert(VLAN, [VLAN_USER_CONFIG], Options(health_managers=HEALTH_MANAGERS))
    for key in conversion.config:
        assert key in declared, key

    def paths(tree, prefix=""):
        for name, value in tree.items():
            if isinstance(value, dict):
                yield from paths(value, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    pki_default = declared["pki"].get("default") or {}
    for path in paths(conversion.config["pki"]):
        node = pki_default
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, f"pki.{path}"
            node = node[part]
