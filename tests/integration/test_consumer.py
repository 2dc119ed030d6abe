"""examples/consumer: another Pulumi project that reads this stack's outputs through a
StackReference, end to end on the devcloud; and the output contract it relies on.

The foundation (a local stack) is deployed once; the consumer stack in the same backend writes
octavia.conf and the certificates, declares a port on the management network and shares the
amphora flavor with a canary project; the files and cloud objects are checked against the
foundation's outputs and against Neutron and Nova, then the consumer is destroyed.
"""

import re
import shutil
import stat
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

from render.outputs import OUTPUT_NAMES

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = ROOT / "examples" / "consumer"

# The published contract (docs/configuration.md, "Outputs"). Consumers rely on every one of these
# names: adding an output is fine, removing or renaming one of these must fail here first.
CONTRACT = (
    "mgmt_network_id", "mgmt_subnet_id", "mgmt_subnet_cidr",
    "amphora_secgroup_id", "health_manager_secgroup_id",
    "amp_flavor_id", "amp_ssh_key_name", "amp_ssh_private_key",
    "amp_image_id", "amp_image_tag", "amp_image_owner_id",
    "health_manager_ports", "health_manager_ips", "controller_ip_port_list",
    "octavia_flavor_ids", "octavia_flavor_profile_ids", "loadbalancer_topology",
    "ca_certificate", "ca_private_key", "ca_private_key_passphrase", "server_ca", "client_ca", "client_cert",
    "server_certs_key_passphrase", "heartbeat_key",
    "server_ca_expires_at", "client_ca_expires_at", "client_cert_expires_at",
    "octavia_conf", "openstack_ansible_user_variables", "kolla_ansible_globals", "kolla_ansible_octavia_conf",
)
CERT_FILES = {
    "ca_certificate": "server_ca.cert.pem",
    "ca_private_key": "server_ca.key.pem",
    "server_ca": "server_ca-chain.cert.pem",
    "client_ca": "client_ca.cert.pem",
    "client_cert": "client.cert-and-key.pem",
}


def consumer_output_names() -> set[str]:
    return set(re.findall(r'require_output\("([a-z_]+)"\)', (CONSUMER / "__main__.py").read_text()))


# --- the contract (no engine) -------------------------------------------------------------------


def test_no_contract_output_disappears_or_is_renamed():
    missing = [name for name in CONTRACT if name not in OUTPUT_NAMES]
    assert not missing, f"outputs other stacks rely on were removed or renamed: {missing}"


def test_every_contract_output_is_documented():
    documented = (ROOT / "docs" / "configuration.md").read_text().split("## Outputs", 1)[1]
    assert [name for name in CONTRACT if f"`{name}`" not in documented] == []


def test_consumer_reads_only_contract_outputs():
    used = consumer_output_names()
    assert used and used <= set(CONTRACT), used - set(CONTRACT)


# --- end to end on the devcloud -----------------------------------------------------------------


@pytest.fixture(scope="module")
def foundation(module_stacks):
    stack = module_stacks.create("local")
    stack.up()
    return stack


@pytest.fixture
def consumer(foundation, tmp_path):
    work_dir = tmp_path / "consumer"
    shutil.copytree(CONSUMER, work_dir, ignore=shutil.ignore_patterns("__pycache__", "rendered", "Pulumi.*.yaml"))
    project = yaml.safe_load((work_dir / "Pulumi.yaml").read_text())
    project["runtime"]["options"]["virtualenv"] = str(ROOT / ".venv")  # the copy lives elsewhere
    (work_dir / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    options = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), env_vars=foundation.workspace.env_vars,  # same backend and cloud
        pulumi_command=auto.PulumiCommand(root=str(ROOT), skip_version_check=True),
    )
    stack = auto.create_stack(f"consumer-{foundation.name}", work_dir=str(work_dir), opts=options)
    stack.set_all_config({
        "foundation_stack": auto.ConfigValue(f"organization/octavia-infra/{foundation.name}"),
        "name_prefix": auto.ConfigValue(f"{foundation.name}-"),
        "output_dir": auto.ConfigValue(str(tmp_path / "controller")),
    })
    yield stack
    stack.destroy()
    stack.workspace.remove_stack(stack.name)


def connection(env):
    import openstack.config

    config = openstack.config.OpenStackConfig(config_files=[env["OS_CLIENT_CONFIG_FILE"]])
    return openstack.connection.Connection(config=config.get_one(cloud=env["OS_CLOUD"]))


def test_consumer_uses_the_foundation_outputs(foundation, consumer, tmp_path):
    result = consumer.up()
    outputs = {name: value.value for name, value in result.outputs.items()}
    provided = {name: value.value for name, value in foundation.outputs().items()}
    controller = tmp_path / "controller"

    conf = controller / "octavia.conf"
    assert outputs["octavia_conf_path"] == str(conf)
    assert conf.read_text() == provided["octavia_conf"]
    assert f"amp_boot_network_list = {provided['mgmt_network_id']}" in conf.read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    for output_name, file_name in CERT_FILES.items():
        assert (controller / "certs" / file_name).read_text() == provided[output_name]
    assert result.outputs["octavia_conf_path"].secret is False

    with connection(foundation.workspace.env_vars) as cloud:
        port = cloud.network.get_port(outputs["probe_port_id"])
        assert port.network_id == provided["mgmt_network_id"]
        assert port.security_group_ids == [provided["health_manager_secgroup_id"]]
        assert port.fixed_ips[0]["subnet_id"] == provided["mgmt_subnet_id"]
        assert outputs["probe_port_ip"] == port.fixed_ips[0]["ip_address"]
        access = cloud.compute.get(f"/flavors/{provided['amp_flavor_id']}/os-flavor-access").json()
        tenants = {entry["tenant_id"] for entry in access["flavor_access"]}
        assert outputs["canary_project_id"] in tenants

        # A second up changes nothing; destroy removes what the consumer made, not the foundation's.
        summary = consumer.preview().change_summary
        assert summary.get("same") == sum(summary.values()), summary
        consumer.destroy()
        assert not conf.exists() and not list((controller / "certs").glob("*.pem"))
        assert cloud.network.find_port(outputs["probe_port_id"]) is None
        assert cloud.network.get_network(provided["mgmt_network_id"]).id == provided["mgmt_network_id"]


def test_consumer_stops_on_a_missing_output(foundation, consumer):
    """A consumer of a renamed output fails with the name, before declaring anything."""
    main = Path(consumer.workspace.work_dir) / "__main__.py"
    main.write_text(main.read_text().replace('require_output("mgmt_network_id")', 'require_output("mgmt_net_id")'))
    with pytest.raises(auto.errors.CommandError) as failed:
        consumer.preview()
    assert "mgmt_net_id" in str(failed.value)
