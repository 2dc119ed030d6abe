"""Render the stack's results for the tools that configure Octavia: octavia.conf, OpenStack-Ansible
user variables, kolla-ansible globals and kolla-ansible octavia.conf overrides. Pure functions over
resolved values, one table each.

`values` is a plain dict with the keys named in the tables (the foundation resolves the outputs).
Certificates appear in octavia.conf as file paths: the deployment tool writes the certificate
outputs to CERT_FILES under the configured directory.
"""

from __future__ import annotations

import configparser
import io
from typing import Any, Mapping

import yaml

# Certificate output -> file name under octavia_cert_dir (names from Octavia's certificate guide;
# kolla-ansible expects the same names in /etc/kolla/config/octavia/).
CERT_FILES = {
    "ca_certificate": "server_ca.cert.pem",
    "ca_private_key": "server_ca.key.pem",
    "server_ca": "server_ca-chain.cert.pem",
    "client_ca": "client_ca.cert.pem",
    "client_cert": "client.cert-and-key.pem",
}

# Octavia's defaults for tenant projects' quotas (octavia_tenant_quotas; value keys are its dotted
# config keys). Load balancers belong to tenants, so these limit them; per-project quotas override.
TENANT_QUOTA_OPTIONS = (
    ("quotas", "default_load_balancer_quota", "octavia_tenant_quotas.load_balancer"),
    ("quotas", "default_listener_quota", "octavia_tenant_quotas.listener"),
    ("quotas", "default_pool_quota", "octavia_tenant_quotas.pool"),
    ("quotas", "default_health_monitor_quota", "octavia_tenant_quotas.health_monitor"),
    ("quotas", "default_member_quota", "octavia_tenant_quotas.member"),
    ("quotas", "default_l7policy_quota", "octavia_tenant_quotas.l7policy"),
    ("quotas", "default_l7rule_quota", "octavia_tenant_quotas.l7rule"),
)

# (section, option, value key). A value of None leaves the option out (Octavia's default applies).
OCTAVIA_CONF = (
    ("controller_worker", "amp_boot_network_list", "mgmt_network_id"),
    ("controller_worker", "amp_secgroup_list", "amphora_secgroup_id"),
    ("controller_worker", "amp_flavor_id", "amp_flavor_id"),
    ("controller_worker", "amp_image_tag", "amp_image_tag"),
    ("controller_worker", "amp_image_owner_id", "amp_image_owner_id"),
    ("controller_worker", "amp_ssh_key_name", "amp_ssh_key_name"),
    ("controller_worker", "loadbalancer_topology", "loadbalancer_topology"),
    ("controller_worker", "client_ca", "client_ca_path"),
    ("health_manager", "bind_ip", "bind_ip"),
    ("health_manager", "bind_port", "health_manager_port"),
    ("health_manager", "controller_ip_port_list", "controller_ip_port_list"),
    ("health_manager", "heartbeat_key", "heartbeat_key"),
    ("amphora_agent", "admin_log_targets", "admin_log_targets"),  # log_offload only
    ("amphora_agent", "tenant_log_targets", "tenant_log_targets"),
    ("certificates", "ca_certificate", "ca_certificate_path"),
    ("certificates", "ca_private_key", "ca_private_key_path"),
    ("certificates", "ca_private_key_passphrase", "ca_private_key_passphrase"),
    ("certificates", "server_certs_key_passphrase", "server_certs_key_passphrase"),
    ("haproxy_amphora", "client_cert", "client_cert_path"),
    ("haproxy_amphora", "server_ca", "server_ca_path"),
    ("nova", "enable_anti_affinity", "enable_anti_affinity"),
    ("nova", "anti_affinity_policy", "anti_affinity_policy"),
    ("nova", "availability_zone", "amp_availability_zone"),
    *TENANT_QUOTA_OPTIONS,
)

# OpenStack-Ansible os_octavia role variable -> value key (role checked at
# openstack/openstack-ansible-os_octavia a2017a507ab1ef0734a2f5e34e8fb5faa6d6aa5e). The stack owns
# the network, security group, flavor, image, keypair and certificates: the role gets their IDs,
# and the playbook runs with --skip-tags octavia-resources (OPENSTACK_ANSIBLE_HEADER). The
# network-creation variables (provider network, type, segmentation ID, CIDR, allocation pools,
# DHCP, rule CIDR) are left out: with octavia_service_net_setup false and the network's UUID given
# the role reads none of them, and its pool format ("start-end", split on "-") is not ours.
OPENSTACK_ANSIBLE_VARS = (
    ("octavia_service_user_name", "octavia_service_user"),
    ("octavia_service_project_name", "service_project"),
    ("octavia_service_project_domain_id", "service_project_domain"),
    ("octavia_service_user_domain_id", "service_project_domain"),  # the user is in that domain too
    # Given the UUID, the role looks nothing up by name (an old lbaas-mgmt would match) and never
    # creates the network; the name stays for readers of the file.
    ("octavia_neutron_management_network_uuid", "mgmt_network_id"),
    ("octavia_neutron_management_network_name", "mgmt_network_name"),
    # The role writes this into [controller_worker] amp_secgroup_list (the override sets the same).
    ("octavia_security_group_name", "amphora_secgroup_id"),
    # Given the UUID, the role neither creates a flavor of octavia_amp_flavor_name nor looks it up.
    ("octavia_nova_flavor_uuid", "amp_flavor_id"),
    ("octavia_amp_flavor_name", "amp_flavor_name"),
    ("octavia_glance_image_tag", "amp_image_tag"),
    ("octavia_amp_image_owner_id", "amp_image_owner_id"),
    ("octavia_ssh_enabled", "ssh_enabled"),
    ("octavia_ssh_key_name", "amp_ssh_key_name"),
    ("octavia_health_manager_port", "health_manager_port"),
    ("octavia_hm_hosts", "health_manager_ip_list"),
    ("octavia_loadbalancer_topology", "loadbalancer_topology"),
    ("octavia_enable_anti_affinity", "enable_anti_affinity"),
    ("octavia_amp_availability_zone", "amp_availability_zone"),
    ("octavia_ca_private_key_passphrase", "ca_private_key_passphrase"),
    # Where the deployment tool puts the stack's certificate files (CERT_FILES) on Octavia hosts.
    ("octavia_cert_dest_dir", "octavia_cert_dir"),
)
OPENSTACK_ANSIBLE_CONSTANTS = {
    "octavia_service_net_setup": False,
    "octavia_amp_image_upload_enabled": False,
    "octavia_download_artefact": False,
    # Else, with SSH on, the role manages a keypair named octavia_ssh_key_name for
    # octavia_service_user_name with a key of its own: the one the stack created for that user.
    "octavia_ssh_key_manage": False,
    # The stack's CAs and client certificate are used: the role generates and installs none of its
    # own. octavia_generate_client_cert stays on: it also issues the API (octavia_backend_ssl) and
    # OVN certificates, which the stack does not make.
    "octavia_generate_certs": False,
    "octavia_generate_ca": False,
    # The role's iptables rules reject everything on the management interface but heartbeats, which
    # blocks log offload (UDP 10514/20514); the host firewall is the output health_manager_firewall.
    "octavia_ip_tables_fw": False,
}
OPENSTACK_ANSIBLE_HEADER = """\
# /etc/openstack_deploy/user_variables_octavia.yml, rendered by octavia-infra.
# Run the os_octavia playbook with --skip-tags octavia-resources: those tasks manage the amphora
# image, management network, security group, flavor and keypair, and no variable turns the security
# group off (they would delete the stack's rules missing from the role's own list).
# Before the playbook, copy the stack's certificate outputs (output -> file) to {cert_dir}
# on every Octavia host; octavia.conf reads them there:
{cert_files}
# The role's iptables rules are off: apply the output health_manager_firewall on each controller.
"""

# kolla-ansible globals.yml variable -> value key (octavia_auto_configure off: the stack made them).
# octavia_keystone_user is a default of kolla's octavia role, which globals.yml overrides.
KOLLA_ANSIBLE_GLOBALS = (
    ("octavia_keystone_user", "octavia_service_user"),
    ("octavia_amp_boot_network_list", "mgmt_network_id"),
    ("octavia_amp_secgroup_list", "amphora_secgroup_id"),
    ("octavia_amp_flavor_id", "amp_flavor_id"),
    ("octavia_amp_image_tag", "amp_image_tag"),
    ("octavia_amp_image_owner_id", "amp_image_owner_id"),
    ("octavia_amp_ssh_key_name", "amp_ssh_key_name"),
    ("octavia_health_manager_port", "health_manager_port"),
    ("octavia_loadbalancer_topology", "loadbalancer_topology"),
)
KOLLA_ANSIBLE_CONSTANTS = {"enable_octavia": "yes", "octavia_auto_configure": "no", "octavia_network_type": "provider"}

# kolla-ansible merges {{ node_custom_config }}/octavia.conf (default /etc/kolla/config/octavia.conf)
# over its own template (ansible/roles/octavia/tasks/config.yml, merge_configs). These are the
# options its template gets wrong for this stack: heartbeat_key is hard-coded to "insecure",
# server_certs_key_passphrase is left at Octavia's well-known default, bind_ip and
# controller_ip_port_list are derived from octavia_network_interface (the API interface on a
# provider network) instead of the health-manager ports, amp_ssh_key_name defaults to a keypair
# this stack does not create, and [nova] anti-affinity and [quotas] are not set at all (kolla has
# no variables for them). Everything else reaches kolla through globals (KOLLA_ANSIBLE_GLOBALS) and
# the certificate files (KOLLA_CERT_FILES).
KOLLA_OCTAVIA_CONF = (
    ("controller_worker", "amp_ssh_key_name", "amp_ssh_key_name"),
    ("health_manager", "bind_ip", "bind_ip"),
    ("health_manager", "bind_port", "health_manager_port"),
    ("health_manager", "controller_ip_port_list", "controller_ip_port_list"),
    ("health_manager", "heartbeat_key", "heartbeat_key"),
    ("certificates", "ca_private_key_passphrase", "ca_private_key_passphrase"),
    ("certificates", "server_certs_key_passphrase", "server_certs_key_passphrase"),
    ("nova", "enable_anti_affinity", "enable_anti_affinity"),
    ("nova", "anti_affinity_policy", "anti_affinity_policy"),
    ("nova", "availability_zone", "amp_availability_zone"),
    *TENANT_QUOTA_OPTIONS,
)
# Written even when empty: an empty amp_ssh_key_name means "no keypair" to Octavia, while leaving
# it out would keep kolla's default name, a keypair that does not exist.
KOLLA_KEEP_EMPTY = {("controller_worker", "amp_ssh_key_name")}
KOLLA_CONFIG_DIR = "/etc/kolla/config"  # kolla-ansible's node_custom_config
# kolla-ansible copies exactly these four files from {{ node_custom_config }}/octavia/ into the
# worker, health-manager and housekeeping containers' /etc/octavia/certs/, and its template points
# [certificates] ca_certificate and [haproxy_amphora] server_ca at the same server_ca.cert.pem. So
# that file gets the server CA trust bundle (the `server_ca` output): the current CA comes first,
# which is the certificate Octavia loads to sign with (ca_certificate reads the first PEM), and
# during a rollover overlap the previous CA follows, which keeps old amphorae trusted.
KOLLA_CERT_FILES = {
    "server_ca": "server_ca.cert.pem",
    "ca_private_key": "server_ca.key.pem",
    "client_ca": "client_ca.cert.pem",
    "client_cert": "client.cert-and-key.pem",
}


def with_cert_paths(values: Mapping[str, Any], cert_dir: str) -> dict[str, Any]:
    """values plus octavia_cert_dir and <certificate>_path for every certificate file."""
    directory = cert_dir.rstrip("/") or "/"
    paths = {f"{name}_path": f"{directory.rstrip('/')}/{file}" for name, file in CERT_FILES.items()}
    return {**values, **paths, "octavia_cert_dir": directory}


def octavia_conf_sections(values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """{section: {option: value}} of the options set; a section with none is left out."""
    sections: dict[str, dict[str, str]] = {}
    for section, option, key in OCTAVIA_CONF:
        value = values.get(key)
        if value not in (None, ""):
            sections.setdefault(section, {})[option] = _conf_value(value)
    return sections


def _conf_value(value: Any) -> str:
    return str(value) if not isinstance(value, bool) else ("True" if value else "False")


def render_octavia_conf(values: Mapping[str, Any]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep option names as written
    parser.read_dict(octavia_conf_sections(values))
    buffer = io.StringIO()
    parser.write(buffer)
    return buffer.getvalue()


def _mapped(table, values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: values[key] for name, key in table if values.get(key) not in (None, "")}


def render_openstack_ansible(values: Mapping[str, Any]) -> str:
    variables = {
        **OPENSTACK_ANSIBLE_CONSTANTS,
        **_mapped(OPENSTACK_ANSIBLE_VARS, values),
        # Options the role has no variable for reach octavia.conf through its override hook.
        "octavia_octavia_conf_overrides": octavia_conf_sections(values),
    }
    header = OPENSTACK_ANSIBLE_HEADER.format(
        cert_dir=values.get("octavia_cert_dir", "octavia_cert_dir"),
        cert_files="\n".join(f"#   {output} -> {file}" for output, file in CERT_FILES.items()).rstrip(),
    )
    return "---\n" + header + yaml.safe_dump(variables, sort_keys=False, default_flow_style=False)


def render_kolla_ansible(values: Mapping[str, Any]) -> str:
    variables = {**KOLLA_ANSIBLE_CONSTANTS, **_mapped(KOLLA_ANSIBLE_GLOBALS, values)}
    return "---\n" + yaml.safe_dump(variables, sort_keys=False, default_flow_style=False)


def kolla_octavia_conf_sections(values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    for section, option, key in KOLLA_OCTAVIA_CONF:
        value = values.get(key)
        if value not in (None, ""):
            sections.setdefault(section, {})[option] = _conf_value(value)
        elif (section, option) in KOLLA_KEEP_EMPTY:
            sections.setdefault(section, {})[option] = ""
    return sections


def render_kolla_octavia_conf(values: Mapping[str, Any]) -> str:
    """/etc/kolla/config/octavia.conf: merged by kolla-ansible over its own octavia.conf."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_dict(kolla_octavia_conf_sections(values))
    buffer = io.StringIO()
    buffer.write(f"# {KOLLA_CONFIG_DIR}/octavia.conf, rendered by octavia-infra; certificates go to "
                 f"{KOLLA_CONFIG_DIR}/octavia/ ({', '.join(KOLLA_CERT_FILES.values())})\n")
    parser.write(buffer)
    return buffer.getvalue()


def kolla_certificate_files(values: Mapping[str, Any], config_dir: str = KOLLA_CONFIG_DIR) -> dict[str, str]:
    """{path on the deployment host: PEM} for the certificate files kolla-ansible copies."""
    return {f"{config_dir.rstrip('/')}/octavia/{file}": values[output] for output, file in KOLLA_CERT_FILES.items()}
