"""kolla-ansible renderings: globals.yml variables, the /etc/kolla/config/octavia.conf overrides
and the certificate files under /etc/kolla/config/octavia/, checked against what kolla-ansible's
octavia role does with them (merge_configs over its template; the four files it copies)."""

import configparser
import datetime

import pytest
import yaml
from cryptography import x509

from components import pki_crypto as crypto
from render.rendering import (
    KOLLA_CERT_FILES,
    KOLLA_OCTAVIA_CONF,
    kolla_certificate_files,
    kolla_octavia_conf_sections,
    render_kolla_octavia_conf,
    render_octavia_conf,
    with_cert_paths,
)
from config.settings import OCTAVIA_TENANT_QUOTA_NAMES
from octavia_support import base_config, declare
from testbed.stacks import make_test_image

VALUES = with_cert_paths({
    "mgmt_network_id": "net-id", "amphora_secgroup_id": "sg-id", "amp_flavor_id": "flavor-id",
    "amp_image_tag": "octavia-amphora-image", "amp_image_owner_id": "service-id", "amp_ssh_key_name": "octavia-ssh-key",
    "loadbalancer_topology": "ACTIVE_STANDBY", "bind_ip": "0.0.0.0", "health_manager_port": 5555,
    "controller_ip_port_list": "172.29.232.11:5555,172.29.232.12:5555", "heartbeat_key": "hb-key-from-state",
    "ca_private_key_passphrase": "ca-passphrase", "server_certs_key_passphrase": "A" * 32,
    "enable_anti_affinity": True, "anti_affinity_policy": "anti-affinity", "amp_availability_zone": "az1",
    **{f"octavia_tenant_quotas.{name}": 100 for name in OCTAVIA_TENANT_QUOTA_NAMES},
}, "/etc/octavia/certs")

# The parts of kolla-ansible's ansible/roles/octavia/templates/octavia.conf.j2 (master, 2026-08)
# that the overrides must win over, rendered with kolla's defaults on a provider network.
KOLLA_TEMPLATE = """
[certificates]
ca_private_key_passphrase = from-passwords-yml
ca_private_key = /etc/octavia/certs/server_ca.key.pem
ca_certificate = /etc/octavia/certs/server_ca.cert.pem

[haproxy_amphora]
server_ca = /etc/octavia/certs/server_ca.cert.pem
client_cert = /etc/octavia/certs/client.cert-and-key.pem

[health_manager]
bind_port = 5555
bind_ip = 10.0.0.5
heartbeat_key = insecure
controller_ip_port_list = 10.0.0.5:5555

[controller_worker]
amp_ssh_key_name = octavia_ssh_key
amp_image_tag = octavia-amphora-image
client_ca = /etc/octavia/certs/client_ca.cert.pem

[nova]
"""
# kolla-ansible's ansible/roles/octavia/tasks/config.yml, octavia_amphora_keys: the only files it copies.
KOLLA_COPIED_FILES = {"client.cert-and-key.pem", "client_ca.cert.pem", "server_ca.cert.pem", "server_ca.key.pem"}


def parse(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return parser


def merged(*sources):
    """kolla's merge_configs: later sources win per option."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    for source in sources:
        parser.read_string(source)
    return parser


def test_overrides_fix_what_kollas_template_gets_wrong():
    final = merged(KOLLA_TEMPLATE, render_kolla_octavia_conf(VALUES))
    assert final["health_manager"]["heartbeat_key"] == "hb-key-from-state"  # not "insecure"
    assert final["health_manager"]["controller_ip_port_list"] == "172.29.232.11:5555,172.29.232.12:5555"
    assert final["health_manager"]["bind_ip"] == "0.0.0.0"
    assert final["certificates"]["ca_private_key_passphrase"] == "ca-passphrase"
    assert final["certificates"]["server_certs_key_passphrase"] == "A" * 32
    assert final["controller_worker"]["amp_ssh_key_name"] == "octavia-ssh-key"
    assert final["nova"]["enable_anti_affinity"] == "True" and final["nova"]["anti_affinity_policy"] == "anti-affinity"
    # kolla's own certificate paths stay: they are where it copies KOLLA_CERT_FILES
    assert final["certificates"]["ca_certificate"] == "/etc/octavia/certs/server_ca.cert.pem"


def test_overrides_agree_with_the_stacks_octavia_conf():
    octavia_conf = parse(render_octavia_conf(VALUES))
    overrides = kolla_octavia_conf_sections(VALUES)
    for section, option, _key in KOLLA_OCTAVIA_CONF:
        assert overrides[section][option] == octavia_conf[section][option], (section, option)


def test_without_ssh_the_key_name_is_emptied_not_left_to_kollas_default():
    final = merged(KOLLA_TEMPLATE, render_kolla_octavia_conf({**VALUES, "amp_ssh_key_name": ""}))
    assert final["controller_worker"]["amp_ssh_key_name"] == ""


def test_certificate_files_are_exactly_the_ones_kolla_copies():
    assert set(KOLLA_CERT_FILES.values()) == KOLLA_COPIED_FILES
    values = {output: f"PEM of {output}" for output in KOLLA_CERT_FILES}
    files = kolla_certificate_files(values)
    assert files == {
        "/etc/kolla/config/octavia/server_ca.cert.pem": "PEM of server_ca",
        "/etc/kolla/config/octavia/server_ca.key.pem": "PEM of ca_private_key",
        "/etc/kolla/config/octavia/client_ca.cert.pem": "PEM of client_ca",
        "/etc/kolla/config/octavia/client.cert-and-key.pem": "PEM of client_cert",
    }
    assert list(kolla_certificate_files(values, "/srv/kolla/"))[0].startswith("/srv/kolla/octavia/")


def test_one_server_ca_file_signs_with_the_current_ca_and_trusts_both_during_rollover():
    """kolla points ca_certificate and server_ca at one file: the trust bundle, current CA first."""
    now = datetime.datetime.now(datetime.timezone.utc)
    current = crypto.certificate_pem(crypto.build_ca_certificate(
        crypto.generate_private_key("ec", 256), crypto.Subject(common_name="server CA gen 2"), 30, now))
    previous = crypto.certificate_pem(crypto.build_ca_certificate(
        crypto.generate_private_key("ec", 256), crypto.Subject(common_name="server CA gen 1"), 30, now))
    bundle = crypto.pem_bundle(current, previous)  # how OctaviaPki builds the server_ca output
    signing = x509.load_pem_x509_certificate(bundle.encode())  # what Octavia loads as ca_certificate
    assert signing.subject.rfc4514_string() == "CN=server CA gen 2"
    assert len(x509.load_pem_x509_certificates(bundle.encode())) == 2  # what the TLS trust store reads


def test_rendering_has_a_header_naming_where_files_go_and_parses():
    text = render_kolla_octavia_conf(VALUES)
    assert text.startswith("# /etc/kolla/config/octavia.conf")
    assert set(parse(text).sections()) == {"controller_worker", "health_manager", "certificates", "nova", "quotas"}


def test_tenant_quota_defaults_reach_kollas_octavia_conf_only_when_set():
    # kolla-ansible has no variables for Octavia's [quotas]: the overrides file is the only way in.
    final = merged(KOLLA_TEMPLATE, render_kolla_octavia_conf(VALUES))
    assert final["quotas"]["default_load_balancer_quota"] == "100"
    assert final["quotas"]["default_l7rule_quota"] == "100"
    unset = {key: value for key, value in VALUES.items() if not key.startswith("octavia_tenant_quotas.")}
    assert "quotas" not in parse(render_kolla_octavia_conf(unset)).sections()


@pytest.fixture
def run(tmp_path):
    image = tmp_path / "amphora.qcow2"
    make_test_image(image, "1M")
    return declare({**base_config(str(image)), "ssh_enabled": True})


def test_kolla_globals_carry_key_name_its_owner_and_heartbeat_port(run):
    variables = yaml.safe_load(run.outputs["kolla_ansible_globals"])
    assert variables["octavia_amp_ssh_key_name"] == run.outputs["amp_ssh_key_name"] == "octavia-ssh-key"
    # The keypair's owner: kolla's octavia role runs Octavia as octavia_keystone_user (its default
    # in ansible/roles/octavia/defaults/main.yml, overridden by globals.yml).
    assert variables["octavia_keystone_user"] == "octavia"
    assert variables["octavia_health_manager_port"] == 5555
    assert variables["octavia_amp_image_tag"] == run.outputs["amp_image_tag"]
    assert variables["octavia_loadbalancer_topology"] == "ACTIVE_STANDBY"
