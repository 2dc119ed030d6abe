"""The stack's output contract: the one list of output names other stacks may rely on.

Adding a name is a compatible change; renaming or removing one breaks consumers (StackReference,
deployment tools), so tests/unit/test_contract.py pins this list against what the stack exports.
"""

# Certificates and secrets, named as components.pki.OctaviaPki names them (private parts are secrets).
CERTIFICATE_OUTPUTS = (
    "ca_certificate",
    "ca_private_key",
    "ca_private_key_passphrase",
    "server_ca",
    "client_ca",
    "client_cert",
    "server_certs_key_passphrase",
    "heartbeat_key",
    "server_ca_expires_at",
    "client_ca_expires_at",
    "client_cert_expires_at",
)

OUTPUT_NAMES = (
    # management network
    "mgmt_network_id",
    "mgmt_subnet_id",
    "mgmt_subnet_cidr",
    # {zone: {compute_zone, management_network_id, subnet_id, subnet_cidr, profile_id}}
    "availability_zones",
    # security groups
    "amphora_secgroup_id",
    "health_manager_secgroup_id",
    # compute
    "amp_flavor_id",
    "amp_ssh_key_name",  # "" when SSH is disabled
    "amp_ssh_private_key",  # secret; "" unless Nova generated the key
    # image
    "amp_image_id",
    "amp_image_tag",
    "amp_image_owner_id",
    # health managers
    "health_manager_ports",  # {host: port id}
    "health_manager_ips",  # {host: ip}
    "controller_ip_port_list",
    "health_manager_firewall",  # {host: {interface, nftables, iptables, ip6tables}}
    "health_manager_plugs",  # {host: {interface, port_id, mac_address, ip_address, ..., ovs}}
    # Octavia flavors
    "octavia_flavor_ids",  # {topology: flavor id}
    "octavia_flavor_profile_ids",  # {topology: flavor profile id}
    "loadbalancer_topology",
    *CERTIFICATE_OUTPUTS,
    # rendered configuration (secret: they carry passphrases and the heartbeat key)
    "octavia_conf",
    "openstack_ansible_user_variables",
    "kolla_ansible_globals",
    "kolla_ansible_octavia_conf",
)
