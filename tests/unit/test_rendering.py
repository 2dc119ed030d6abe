"""octavia.conf, OpenStack-Ansible and kolla-ansible renderings of the stack's results."""

import configparser

import pytest
import yaml

from components.health_manager import ip_port, log_target
from render.rendering import CERT_FILES, render_octavia_conf
from octavia_support import base_config, declare

SECTIONS = {"controller_worker", "health_manager", "certificates", "haproxy_amphora", "nova"}


@pytest.fixture
def run(image):
    return declare({**base_config(image), "ssh_enabled": True, "octavia_cert_dir": "/srv/octavia/certs/"})


def conf(run):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(run.outputs["octavia_conf"])
    return parser


def test_octavia_conf_has_exactly_the_fed_sections(run):
    assert set(conf(run).sections()) == SECTIONS


def test_controller_worker_points_at_the_stack_resources(run):
    worker, out = conf(run)["controller_worker"], run.outputs
    assert worker["amp_boot_network_list"] == out["mgmt_network_id"]
    assert worker["amp_secgroup_list"] == out["amphora_secgroup_id"]
    assert worker["amp_flavor_id"] == out["amp_flavor_id"]
    assert worker["amp_image_tag"] == out["amp_image_tag"] == "octavia-amphora-image"
    assert worker["amp_image_owner_id"] == out["amp_image_owner_id"]
    assert worker["amp_ssh_key_name"] == out["amp_ssh_key_name"] == "octavia-ssh-key"
    assert worker["loadbalancer_topology"] == "ACTIVE_STANDBY"
    assert worker["client_ca"] == "/srv/octavia/certs/client_ca.cert.pem"


def test_health_manager_section(run):
    section = conf(run)["health_manager"]
    assert section["bind_ip"] == "0.0.0.0" and section["bind_port"] == "5555"
    assert section["controller_ip_port_list"] == run.outputs["controller_ip_port_list"]
    assert section["heartbeat_key"] == run.outputs["heartbeat_key"] and len(section["heartbeat_key"]) >= 32


def test_certificate_sections_use_files_and_the_pki_secrets(run):
    parser = conf(run)
    certificates, haproxy = parser["certificates"], parser["haproxy_amphora"]
    assert certificates["ca_certificate"] == "/srv/octavia/certs/" + CERT_FILES["ca_certificate"]
    assert certificates["ca_private_key"] == "/srv/octavia/certs/" + CERT_FILES["ca_private_key"]
    assert certificates["ca_private_key_passphrase"] == run.outputs["ca_private_key_passphrase"]
    assert certificates["server_certs_key_passphrase"] == run.outputs["server_certs_key_passphrase"]
    assert len(certificates["server_certs_key_passphrase"]) == 32
    assert haproxy["client_cert"] == "/srv/octavia/certs/" + CERT_FILES["client_cert"]
    assert haproxy["server_ca"] == "/srv/octavia/certs/" + CERT_FILES["server_ca"]
    assert "BEGIN" not in run.outputs["octavia_conf"]  # certificates travel as files, not inline


def test_nova_section(image):
    run = declare({**base_config(image), "anti_affinity_policy": "soft-anti-affinity", "enable_anti_affinity": False})
    nova = conf(run)["nova"]
    assert (nova["enable_anti_affinity"], nova["anti_affinity_policy"]) == ("False", "soft-anti-affinity")


def test_ssh_key_name_is_left_out_without_ssh(image):
    run = declare(base_config(image))
    assert "amp_ssh_key_name" not in conf(run)["controller_worker"]


def test_ipv6_health_managers_bind_all_ipv6_addresses(image):
    config = {
        **base_config(image),
        "mgmt_subnet_cidr": "fd00:29::/64",
        "mgmt_allocation_pools": [],
        "health_managers": [{"host": "ctl1"}],
    }
    assert conf(declare(config))["health_manager"]["bind_ip"] == "::"


SECRET_OUTPUTS = {
    "octavia_conf",
    "kolla_ansible_octavia_conf",
    "openstack_ansible_user_variables",
    "ca_private_key",
    "ca_private_key_passphrase",
    "client_cert",
    "server_certs_key_passphrase",
    "heartbeat_key",
    "amp_ssh_private_key",
}


def test_exactly_the_secret_outputs_are_secret(run):
    assert run.secret_outputs == SECRET_OUTPUTS


def test_secret_renderings_are_secret_and_public_ones_are_not(run):
    assert {"octavia_conf", "openstack_ansible_user_variables"} <= run.secret_outputs
    assert "kolla_ansible_globals" not in run.secret_outputs
    for secret in ("heartbeat_key", "ca_private_key_passphrase", "server_certs_key_passphrase"):
        assert run.outputs[secret] not in run.outputs["kolla_ansible_globals"]


def osa_variables(run):
    return yaml.safe_load(run.outputs["openstack_ansible_user_variables"])


def test_openstack_ansible_variables(run):
    variables = osa_variables(run)
    out = run.outputs
    assert variables["octavia_service_net_setup"] is False  # the stack owns the network
    assert variables["octavia_amp_image_upload_enabled"] is False
    assert variables["octavia_download_artefact"] is False
    assert variables["octavia_ssh_key_manage"] is False  # the stack owns the keypair
    assert variables["octavia_service_user_name"] == "octavia"  # who the keypair belongs to
    assert variables["octavia_service_project_name"] == "service"
    assert variables["octavia_service_project_domain_id"] == "default"
    assert variables["octavia_service_user_domain_id"] == "default"
    assert variables["octavia_neutron_management_network_uuid"] == out["mgmt_network_id"]
    assert variables["octavia_neutron_management_network_name"] == "lbaas-mgmt"
    assert variables["octavia_security_group_name"] == out["amphora_secgroup_id"]
    assert variables["octavia_nova_flavor_uuid"] == out["amp_flavor_id"]
    assert variables["octavia_amp_flavor_name"] == "amphora"
    assert variables["octavia_glance_image_tag"] == out["amp_image_tag"]
    assert variables["octavia_amp_image_owner_id"] == out["amp_image_owner_id"]
    assert variables["octavia_ssh_enabled"] is True and variables["octavia_ssh_key_name"] == out["amp_ssh_key_name"]
    assert variables["octavia_health_manager_port"] == 5555
    assert variables["octavia_hm_hosts"] == ",".join(out["health_manager_ips"].values())
    assert variables["octavia_loadbalancer_topology"] == "ACTIVE_STANDBY"
    assert variables["octavia_enable_anti_affinity"] is True
    assert variables["octavia_ca_private_key_passphrase"] == out["ca_private_key_passphrase"]
    overrides = variables["octavia_octavia_conf_overrides"]
    parsed = conf(run)
    assert {s: dict(parsed[s]) for s in parsed.sections()} == overrides


def test_openstack_ansible_uses_the_stacks_certificates(run):
    variables = osa_variables(run)
    assert variables["octavia_generate_certs"] is False
    assert variables["octavia_generate_ca"] is False
    # Still issues the API and OVN certificates, which the stack does not make.
    assert "octavia_generate_client_cert" not in variables
    assert variables["octavia_cert_dest_dir"] == "/srv/octavia/certs"
    # The role's template hard-codes /etc/octavia/certs/*.pem; the overrides point at the stack's files.
    overrides = variables["octavia_octavia_conf_overrides"]
    assert overrides["certificates"]["ca_certificate"] == "/srv/octavia/certs/server_ca.cert.pem"
    assert overrides["haproxy_amphora"]["client_cert"] == "/srv/octavia/certs/client.cert-and-key.pem"
    assert overrides["controller_worker"]["client_ca"] == "/srv/octavia/certs/client_ca.cert.pem"


def test_openstack_ansible_security_group_reaches_amp_secgroup_list(run):
    """No variable stops the role managing its group; the ID reaches octavia.conf both ways."""
    variables = osa_variables(run)
    assert variables["octavia_security_group_name"] == run.outputs["amphora_secgroup_id"]
    assert variables["octavia_octavia_conf_overrides"]["controller_worker"]["amp_secgroup_list"] == (
        run.outputs["amphora_secgroup_id"]
    )


def test_openstack_ansible_leaves_the_host_firewall_to_the_stack(run):
    assert osa_variables(run)["octavia_ip_tables_fw"] is False  # its rules would block UDP 10514/20514
    assert "octavia_iptables_rules" not in osa_variables(run)


def test_openstack_ansible_service_project_from_settings(image):
    run = declare({**base_config(image), "service_project": "services", "service_project_domain": "ops"})
    variables = osa_variables(run)
    assert variables["octavia_service_project_name"] == "services"
    assert variables["octavia_service_project_domain_id"] == "ops"
    assert variables["octavia_service_user_domain_id"] == "ops"


# Read only to create the network or the security group rules, which the stack owns.
OSA_DROPPED = (
    "octavia_management_net_subnet_allocation_pools",
    "octavia_management_net_subnet_cidr",
    "octavia_management_net_dhcp",
    "octavia_management_net_subnet_gateway",
    "octavia_provider_network_name",
    "octavia_provider_network_type",
    "octavia_provider_segmentation_id",
    "octavia_provider_network_mtu",
    "octavia_security_group_rule_cidr",
)


@pytest.mark.parametrize("name", OSA_DROPPED)
def test_openstack_ansible_network_creation_variables_are_not_rendered(run, name):
    assert name not in osa_variables(run)


def test_openstack_ansible_vlan_network_renders_no_segmentation(image):
    config = {**base_config(image), "mgmt_network_type": "vlan", "mgmt_physical_network": "lbaas",
              "mgmt_segmentation_id": 3101}
    variables = osa_variables(declare(config))
    assert not set(OSA_DROPPED) & set(variables)


def test_openstack_ansible_header_states_what_the_deployment_must_do(run):
    text = run.outputs["openstack_ansible_user_variables"]
    header = text.split("\n")[: text.split("\n").index("octavia_service_net_setup: false")]
    header = "\n".join(header)
    assert header.startswith("---\n#")
    assert "--skip-tags octavia-resources" in header
    for output, file in CERT_FILES.items():
        assert f"#   {output} -> {file}" in header
    assert "/srv/octavia/certs" in header
    assert "health_manager_firewall" in header
    assert all(line.startswith("#") for line in header.splitlines()[1:])


def test_kolla_ansible_globals(run):
    variables = yaml.safe_load(run.outputs["kolla_ansible_globals"])
    out = run.outputs
    assert variables["octavia_auto_configure"] == "no"
    assert variables["octavia_amp_boot_network_list"] == out["mgmt_network_id"]
    assert variables["octavia_amp_secgroup_list"] == out["amphora_secgroup_id"]
    assert variables["octavia_amp_flavor_id"] == out["amp_flavor_id"]
    assert variables["octavia_amp_image_owner_id"] == out["amp_image_owner_id"]


def test_octavia_service_user_reaches_both_deployment_tools(image):
    """The user the keypair was created for is the one the tools configure Octavia to run as."""
    run = declare({**base_config(image), "ssh_enabled": True, "octavia_service_user": "lbaas"})
    assert osa_variables(run)["octavia_service_user_name"] == "lbaas"
    assert yaml.safe_load(run.outputs["kolla_ansible_globals"])["octavia_keystone_user"] == "lbaas"


def test_tenant_quota_defaults_are_octavias_quotas_options_for_the_keys_set(image):
    quotas = {"load_balancer": 20, "listener": 100, "member": -1, "l7policy": 0}
    run = declare({**base_config(image), "octavia_tenant_quotas": quotas})
    # Option names of Octavia's quota_opts, [quotas] group (octavia/common/config.py).
    assert dict(conf(run)["quotas"]) == {
        "default_load_balancer_quota": "20",
        "default_listener_quota": "100",
        "default_member_quota": "-1",
        "default_l7policy_quota": "0",
    }
    overrides = yaml.safe_load(run.outputs["openstack_ansible_user_variables"])["octavia_octavia_conf_overrides"]
    assert overrides["quotas"] == dict(conf(run)["quotas"])


def test_render_skips_unset_options():
    text = render_octavia_conf({"mgmt_network_id": "net", "amp_ssh_key_name": "", "mgmt_segmentation_id": None})
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert dict(parser["controller_worker"]) == {"amp_boot_network_list": "net"}
    assert parser.sections() == ["controller_worker"]  # no empty sections, e.g. [quotas] without quotas


def test_log_offload_sends_amphora_logs_to_every_controller(image):
    run = declare({**base_config(image), "log_offload": True})
    agent, ips = conf(run)["amphora_agent"], list(run.outputs["health_manager_ips"].values())
    assert agent["admin_log_targets"] == ",".join(f"{ip}:10514" for ip in ips)
    assert agent["tenant_log_targets"] == ",".join(f"{ip}:20514" for ip in ips)
    assert len(ips) == 2


def test_ipv6_log_targets_have_no_brackets():
    """Octavia splits a log target at its last colon and rsyslog cannot resolve "[fd00:29::11]";
    controller_ip_port_list keeps its brackets (Octavia strips them there)."""
    assert log_target("fd00:29::11", 10514) == "fd00:29::11:10514"
    assert ip_port("fd00:29::11", 5555) == "[fd00:29::11]:5555"
    assert log_target("172.29.232.11", 10514) == "172.29.232.11:10514"


def test_no_log_targets_without_log_offload(run):
    assert "amphora_agent" not in conf(run)
