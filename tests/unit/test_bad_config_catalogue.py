"""Bad configs the issue lists that tests/unit/test_settings.py's table does not already cover.

test_settings.BAD_CONFIGS holds most of the catalogue (bad CIDRs, overlapping pools, the gateway
or a health-manager IP in a pool, duplicate hosts, unknown topology or network type, removed
options, wrong types, missing image file ...) and test_pki_settings.py the imported PEMs that do
not parse. The cases here complete it: an IPv4 pool in an IPv6 subnet, SSH public keys that do
not decode, zero or negative sizes of other keys, a PEM with valid markers around a broken body,
and a structured key of the wrong type. Each runs the real settings model (the PKI parser
included), which needs no cloud; tests/integration/test_faults.py runs a few of them through the
real engine to show that nothing reaches the cloud.
"""

import pytest

from config.errors import ConfigError
from config.settings import parse_settings
from octavia_support import SSH_PUBLIC_KEY, base_config
from testbed.stacks import make_test_image

# A well-formed key and the same key damaged in ways an operator's copy-paste produces.
BROKEN_PEM = "-----BEGIN CERTIFICATE-----\nMIIB!!this is not base64!!\n-----END CERTIFICATE-----\n"
IPV6 = {"mgmt_subnet_cidr": "fd00:29::/64", "health_managers": [{"host": "ctl1"}]}
SSH = {"ssh_enabled": True}

# fmt: off
CATALOGUE = [
    # (case id, overrides, key named in the error, value shown in the error, words of what is valid)
    ("ipv4-pool-in-ipv6-subnet", {**IPV6, "mgmt_allocation_pools": [{"start": "172.29.232.50", "end": "172.29.232.250"}]},
     "mgmt_allocation_pools[0]", "172.29.232.250", "inside fd00:29::/64"),
    ("ipv6-pool-in-ipv4-subnet", {"mgmt_allocation_pools": [{"start": "fd00:29::10", "end": "fd00:29::ff"}]},
     "mgmt_allocation_pools[0]", "fd00:29::ff", "inside 172.29.232.0/24"),
    ("ssh-key-body-not-base64", {**SSH, "ssh_public_key": "ssh-ed25519 !!!notbase64!!! operator"},
     "ssh_public_key", "!!!notbase64!!!", "decodes"),
    ("ssh-key-truncated", {**SSH, "ssh_public_key": SSH_PUBLIC_KEY[:40]},
     "ssh_public_key", SSH_PUBLIC_KEY[:40], "decodes"),
    ("ssh-key-type-only", {**SSH, "ssh_public_key": "ssh-ed25519"},
     "ssh_public_key", "ssh-ed25519", "decodes"),
    ("ssh-key-type-mismatch", {**SSH, "ssh_public_key": SSH_PUBLIC_KEY.replace("ssh-ed25519", "ssh-rsa", 1)},
     "ssh_public_key", "ssh-rsa AAAAC3Nza", "decodes"),
    ("ssh-key-is-a-file-path", {**SSH, "ssh_public_key": "~/.ssh/id_ed25519.pub"},
     "ssh_public_key", "~/.ssh/id_ed25519.pub", "OpenSSH public key line"),
    ("ssh-private-key-given", {**SSH, "ssh_public_key": "-----BEGIN OPENSSH PRIVATE KEY-----"},
     "ssh_public_key", "BEGIN OPENSSH PRIVATE KEY", "OpenSSH public key line"),
    ("flavor-disk-zero", {"amp_flavor_disk_gb": 0}, "amp_flavor_disk_gb", "0", "from 1 to"),
    ("flavor-ram-negative", {"amp_flavor_ram_mb": -1024}, "amp_flavor_ram_mb", "-1024", "from 512 to"),
    ("flavor-vcpus-negative", {"amp_flavor_vcpus": -2}, "amp_flavor_vcpus", "-2", "from 1 to"),
    ("mtu-negative", {"mgmt_mtu": -1}, "mgmt_mtu", "-1", "0 (Neutron's value) or 68-9216"),
    ("headroom-negative", {"quota_headroom_percent": -5}, "quota_headroom_percent", "-5", "from 0 to"),
    ("listeners-zero", {"listeners_per_loadbalancer": 0}, "listeners_per_loadbalancer", "0", "from 1 to"),
    ("members-per-pool-removed", {"members_per_pool": 10}, "members_per_pool", "10",
     "octavia_tenant_quotas.member"),
    ("octavia-service-user-blank", {"octavia_service_user": "  "}, "octavia_service_user", "'  '", "non-empty"),
    ("tenant-quota-unknown-name", {"octavia_tenant_quotas": {"loadbalancer": 10}},
     "octavia_tenant_quotas.loadbalancer", "10", "valid: load_balancer, listener, pool, health_monitor, member, "
     "l7policy, l7rule"),
    ("tenant-quota-below-unlimited", {"octavia_tenant_quotas": {"member": -5}},
     "octavia_tenant_quotas.member", "-5", "-1 (unlimited) or 0 to 2000000000"),
    ("tenant-quota-above-octavias-maximum", {"octavia_tenant_quotas": {"listener": 2000000001}},
     "octavia_tenant_quotas.listener", "2000000001", "-1 (unlimited) or 0 to 2000000000"),
    ("tenant-quota-as-text", {"octavia_tenant_quotas": {"pool": "100"}},
     "octavia_tenant_quotas.pool", "'100'", "an integer"),
    ("tenant-quota-boolean", {"octavia_tenant_quotas": {"l7rule": True}},
     "octavia_tenant_quotas.l7rule", "True", "an integer"),
    ("tenant-quotas-not-an-object", {"octavia_tenant_quotas": ["member=10"]},
     "octavia_tenant_quotas", "member=10", "type object"),
    ("load-balancers-negative", {"expected_loadbalancers": -1}, "expected_loadbalancers", "-1", "from 1 to"),
    ("pem-markers-around-garbage",
     {"pki": {"server_ca": {"existing": {"certificate_pem": BROKEN_PEM, "private_key_pem": BROKEN_PEM}}}},
     "pki.server_ca.existing.certificate_pem", "<PEM>", "not a PEM certificate"),
    ("pki-not-a-mapping", {"pki": "server_ca"}, "pki", "server_ca", "type object"),
    ("string-for-topology-list", {"octavia_flavor_topologies": "SINGLE"},
     "octavia_flavor_topologies", "SINGLE", "type array"),
    ("string-for-integer", {"mgmt_segmentation_id": "100"}, "mgmt_segmentation_id", "100", "type integer"),
]
# fmt: on


@pytest.fixture
def config(tmp_path):
    image = tmp_path / "amphora.qcow2"
    make_test_image(image, "1M")
    return base_config(str(image))


@pytest.mark.parametrize(
    "overrides, key, shown, valid", [case[1:] for case in CATALOGUE], ids=[case[0] for case in CATALOGUE]
)
def test_bad_config_is_one_message_with_key_value_and_what_is_valid(config, overrides, key, shown, valid):
    with pytest.raises(ConfigError) as caught:
        parse_settings({**config, **overrides})  # the real PKI parser too
    message = str(caught.value)
    assert caught.value.key == key
    assert message.startswith(f"config {key}=") and shown in message
    assert valid in caught.value.valid
    assert "\n" not in message  # one line, as the engine prints it


def test_a_well_formed_public_key_is_accepted(config):
    assert parse_settings({**config, **SSH, "ssh_public_key": SSH_PUBLIC_KEY}).access.ssh_public_key == SSH_PUBLIC_KEY


def test_catalogue_ids_are_unique_and_new():
    from test_settings import BAD_CONFIGS

    ids = [case[0] for case in CATALOGUE]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {case[0] for case in BAD_CONFIGS}
    assert len(ids) + len(BAD_CONFIGS) >= 30
