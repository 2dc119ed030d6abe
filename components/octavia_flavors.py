"""Octavia flavors and flavor profiles: one per topology offered to users."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from config.names import ResourceNames

PROVIDER = "amphora"


@dataclass(frozen=True)
class OctaviaFlavorsArgs:
    topologies: tuple[str, ...]
    compute_flavor_id: pulumi.Input[str]
    image_tag: str
    tagged_image: pulumi.Resource  # the current image, which carries image_tag
    names: ResourceNames


def flavor_data(topology: str, compute_flavor_id: pulumi.Input[str], image_tag: str) -> pulumi.Output[str]:
    """The amphora provider's flavor profile JSON.

    The text is in the provider's normal form (sorted keys, no spaces): Octavia stores it as sent
    and the provider compares it normalized, so any other spelling shows as a change on every
    preview. The tagged image is not part of it: Octavia validates the image tag when a profile is
    created, so the profile depends on the image (depends_on), but an output of the image here
    would be unknown in the preview of every image rotation, which would then show the profiles
    and flavors as replaced although `up` leaves them alone.
    """

    def render(flavor_id: str) -> str:
        data = {"loadbalancer_topology": topology, "compute_flavor": flavor_id, "amp_image_tag": image_tag}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    return pulumi.Output.from_input(compute_flavor_id).apply(render)


class OctaviaFlavors(pulumi.ComponentResource):
    """Outputs: flavor_ids and profile_ids, keyed by topology."""

    def __init__(self, name: str, args: OctaviaFlavorsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:octavia:OctaviaFlavors", name, None, opts)
        self.profile_ids, self.flavor_ids = {}, {}
        for topology in args.topologies:
            key = topology.lower().replace("_", "-")
            profile = openstack.loadbalancer.FlavorprofileV2(
                f"{name}-{key}-profile",
                name=args.names.octavia_flavor(topology),
                provider_name=PROVIDER,
                flavor_data=flavor_data(topology, args.compute_flavor_id, args.image_tag),
                # Octavia refuses to modify a profile a flavor uses: replace it (and so its flavor).
                opts=pulumi.ResourceOptions(
                    parent=self, replace_on_changes=["flavor_data"], depends_on=[args.tagged_image]
                ),
            )
            flavor = openstack.loadbalancer.FlavorV2(
                f"{name}-{key}",
                name=args.names.octavia_flavor(topology),
                description=f"Amphora load balancer, {topology} topology",
                flavor_profile_id=profile.id,
                enabled=True,
                # Octavia flavor names are unique.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            self.profile_ids[topology], self.flavor_ids[topology] = profile.id, flavor.id
        self.register_outputs({"flavor_ids": self.flavor_ids, "profile_ids": self.profile_ids})
