"""Nova resources for amphorae: the private flavor (shared with the service project) and the SSH keypair."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from config.names import ResourceNames
from config.settings import FlavorSettings



@dataclass(frozen=True)
class AmphoraFlavorArgs:
    flavor: FlavorSettings
    service_project_id: pulumi.Input[str]
    names: ResourceNames


class AmphoraFlavor(pulumi.ComponentResource):
    """A private Nova flavor only the service project can boot. Output: flavor_id."""

    def __init__(self, name: str, args: AmphoraFlavorArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:compute:AmphoraFlavor", name, None, opts)
        settings = args.flavor
        flavor = openstack.compute.Flavor(
            f"{name}-flavor",
            name=args.names.flavor,
            vcpus=settings.vcpus,
            ram=settings.ram_mb,
            disk=settings.disk_gb,
            is_public=False,
            extra_specs=dict(settings.extra_specs),
            description="Octavia amphora",
            # Nova flavor names are unique: the old flavor must go before its replacement exists.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        access = openstack.compute.FlavorAccess(
            f"{name}-service-access",
            flavor_id=flavor.id,
            tenant_id=args.service_project_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Consumers (Octavia flavor profiles, octavia.conf) need the flavor bootable by the
        # service project, so the ID resolves only once access is granted.
        self.flavor_id = pulumi.Output.all(flavor.id, access.id).apply(lambda ids: ids[0])
        self.register_outputs({"flavor_id": self.flavor_id})


@dataclass(frozen=True)
class AmphoraKeypairArgs:
    public_key: Optional[str]  # None: Nova generates the pair
    names: ResourceNames
    user_id: pulumi.Input[str]  # Octavia's service user, who boots amphorae with the key


class AmphoraKeypair(pulumi.ComponentResource):
    """The SSH keypair amphorae boot with. Outputs: key_name, private_key (secret, "" if imported).

    Nova keypairs belong to a user and only their owner can boot with them, so the pair is created
    for Octavia's service user, not for the caller (an admin; Nova API microversion 2.10+).
    """

    def __init__(self, name: str, args: AmphoraKeypairArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:compute:AmphoraKeypair", name, None, opts)
        keypair = openstack.compute.Keypair(
            f"{name}-keypair",
            name=args.names.keypair,
            public_key=args.public_key,
            user_id=args.user_id,
            # Keypair names are unique per user.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.key_name = keypair.name
        # Generated once by Nova and kept in state, so it is stable across updates.
        self.private_key = pulumi.Output.secret(keypair.private_key.apply(lambda key: key or ""))
        self.register_outputs({"key_name": self.key_name, "private_key": self.private_key})
