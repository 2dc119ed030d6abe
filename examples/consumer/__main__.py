"""Example consumer of octavia-infra: reads the foundation's outputs through a StackReference and
uses them. Only names of the documented output contract (render/outputs.py in octavia-infra,
docs/configuration.md "Outputs") are read, each with require_output, so a renamed or removed
output stops this program with the name instead of deploying something half-configured.

What it declares:
- octavia.conf and the certificate files, written where a deployment tool would put them on a
  controller (output_dir/octavia.conf, output_dir/certs/...);
- a probe port on the amphora management network (network, subnet, health-manager security
  group from the foundation), e.g. for a monitoring host that receives amphora heartbeats;
- access to the private amphora flavor for a canary project, so smoke-test amphorae can boot with
  the same flavor in a project of their own.
"""

from pathlib import Path

import pulumi
import pulumi_openstack as openstack

from local_file import LocalFile

config = pulumi.Config()
prefix = config.get("name_prefix") or ""
output_dir = Path(config.get("output_dir") or "rendered")
if not output_dir.is_absolute():
    output_dir = Path.cwd() / output_dir
foundation = pulumi.StackReference(config.require("foundation_stack"))

# Certificate outputs -> file names Octavia's guide (and kolla-ansible) use; octavia.conf refers to
# them under the foundation's octavia_cert_dir.
CERT_FILES = {
    "ca_certificate": "server_ca.cert.pem",
    "ca_private_key": "server_ca.key.pem",
    "server_ca": "server_ca-chain.cert.pem",
    "client_ca": "client_ca.cert.pem",
    "client_cert": "client.cert-and-key.pem",
}

octavia_conf = LocalFile("octavia-conf", str(output_dir / "octavia.conf"), foundation.require_output("octavia_conf"))
for output_name, file_name in CERT_FILES.items():
    LocalFile(f"cert-{output_name}", str(output_dir / "certs" / file_name), foundation.require_output(output_name))

network_id = foundation.require_output("mgmt_network_id")
probe = openstack.networking.Port(
    "probe-port",
    name=f"{prefix}octavia-probe",
    network_id=network_id,
    fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=foundation.require_output("mgmt_subnet_id"))],
    security_group_ids=[foundation.require_output("health_manager_secgroup_id")],
    description="monitoring probe on the Octavia management network",
)

canary_project = openstack.identity.Project(
    "canary-project", name=f"{prefix}octavia-canary", description="Octavia canary load balancers"
)
canary_flavor_access = openstack.compute.FlavorAccess(
    "canary-amp-flavor-access", flavor_id=foundation.require_output("amp_flavor_id"), tenant_id=canary_project.id
)

pulumi.export("octavia_conf_path", octavia_conf.path)
pulumi.export("probe_port_id", probe.id)
pulumi.export("probe_port_network_id", probe.network_id)
pulumi.export("probe_port_ip", probe.all_fixed_ips.apply(lambda ips: ips[0] if ips else ""))
pulumi.export("canary_project_id", canary_project.id)
pulumi.export("canary_flavor_access_id", canary_flavor_access.id)
