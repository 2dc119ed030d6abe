"""An OpenStack-Ansible deployment's user_variables, converted by tools/from_osa, deploys.

The flat SINGLE fixture is converted as an operator would (health managers named on the command
line); only what the devcloud cannot have is overridden: its project is `service`, the image is a
local file, and names and the physical network are unique to the stack on the shared devcloud.
"""

from __future__ import annotations

import subprocess
import sys

import yaml

from testbed.devcloud_support import connect
from testbed.stacks import LOCAL_TEST_IMAGE, ROOT, engine, stack_config_file

FIXTURE = ROOT / "tests" / "fixtures" / "osa" / "flat" / "user_variables.yml"


def test_a_converted_openstack_ansible_file_deploys(stacks, tmp_path, devcloud_env):
    converted = tmp_path / "Pulumi.osa.yaml"
    subprocess.run([sys.executable, "-m", "tools.from_osa", str(FIXTURE), "--health-manager", "ctl1=10.50.0.11",
                    "--health-manager", "ctl2", "--output", str(converted)], cwd=ROOT, check=True, capture_output=True)
    config = yaml.safe_load(converted.read_text())["config"]

    stack = stacks.create("local")
    settings = yaml.safe_load(stack_config_file(stack).read_text())
    unique = {key: value for key, value in settings["config"].items() if key.endswith((":name_prefix", ":mgmt_physical_network", ":amp_image_tag_shared"))}
    devcloud = {"octavia-infra:service_project": "service",
                "octavia-infra:amp_images": [{"version": "osa", "source": LOCAL_TEST_IMAGE}]}
    stack_config_file(stack).write_text(yaml.safe_dump({**settings, "config": {**config, **unique, **devcloud}}))

    out = {key: value.value for key, value in engine(stack.up).outputs.items()}
    assert out["mgmt_subnet_cidr"] == "10.50.0.0/24" and out["loadbalancer_topology"] == "SINGLE"
    assert out["health_manager_ips"] == {"ctl1": "10.50.0.11", "ctl2": out["health_manager_ips"]["ctl2"]}
    conn = connect(devcloud_env, "devcloud-service")
    subnet = conn.network.get_subnet(out["mgmt_subnet_id"])
    assert subnet.allocation_pools == [{"start": "10.50.0.100", "end": "10.50.0.250"}] and subnet.gateway_ip == "10.50.0.1"
    assert conn.network.get_network(out["mgmt_network_id"]).mtu == 1450
    flavor = conn.compute.get_flavor(out["amp_flavor_id"])
    assert (flavor.vcpus, flavor.ram, flavor.disk) == (1, 1024, 5)
    assert set(engine(stack.preview).change_summary) == {"same"}
