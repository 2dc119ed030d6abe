"""Amphora images in Glance, with safe rotation.

Octavia picks the image by tag, filtered to status active and sorted by created_at descending
(octavia/image/drivers/glance_driver.py). So:
- the current version is created with the tag; while it uploads/imports it is not active and
  Octavia keeps using the previous one;
- previous versions depend on the current one, so their tag is removed only after the current
  image is active (the provider waits for that on create); in between Octavia sees two tagged
  active images and takes the newest, which is the new one;
- kept previous versions stay, untagged, for rollback; versions past amp_image_keep_previous
  leave the config and Pulumi deletes them last, after everything else is in place;
- a version whose image must be replaced (another source, another disk_format) is replaced
  create-before-delete: the new image is created with the tag and the old one, still tagged,
  is deleted only once the new one is active. A failed upload leaves the old image as it was.
  (The provider asks for delete-first because the name stays the same; Glance names need not
  be unique, so the program says otherwise.)
- Octavia looks at every image of the owner project with the tag, so an image with the tag
  that another stack or tool made stops preview and up unless amp_image_tag_shared says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_openstack as openstack

from config.names import ResourceNames
from config.settings import ImageSettings, ImageVersion



@dataclass(frozen=True)
class AmphoraImagesArgs:
    image: ImageSettings
    service_project_id: pulumi.Input[str]
    names: ResourceNames


def image_properties(settings: ImageSettings, version: ImageVersion) -> dict[str, str]:
    return {
        "hw_architecture": settings.architecture,
        "hw_rng_model": "virtio",
        "octavia_amphora_version": version.version,
    }


def source_args(version: ImageVersion) -> dict:
    if version.is_url:
        # Glance's web-download import: Glance fetches the URL itself, nothing passes through here.
        return {"image_source_url": version.source, "web_download": True}
    return {"local_file_path": version.source}


class AmphoraImages(pulumi.ComponentResource):
    """Outputs: current_id, owner_id, tag, ids {version: image id}; `current` is the tagged Image."""

    def __init__(self, name: str, args: AmphoraImagesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("octavia-infra:image:AmphoraImages", name, None, opts)
        settings = args.image
        current = self._image(name, args, settings.current, tags=[settings.tag], depends_on=[])
        previous = {
            version.version: self._image(name, args, version, tags=[], depends_on=[current])
            for version in settings.previous
        }
        self.current = current  # the tagged image, for resources that must wait for it
        self.current_id = current.id
        # Glance makes the caller's project the owner; Octavia filters on it (amp_image_owner_id).
        # The tag check gates it: the program's outputs wait for it, in preview as in up.
        self.owner_id = pulumi.Output.all(current.owner, self._tag_not_shared(args)).apply(lambda values: values[0])
        self.tag = settings.tag
        self.ids = {**{v: image.id for v, image in previous.items()}, settings.current.version: current.id}
        self._warn_unless_owned_by(args.service_project_id)
        self.register_outputs(
            {"current_id": self.current_id, "owner_id": self.owner_id, "tag": self.tag, "ids": self.ids}
        )

    def _tag_not_shared(self, args: AmphoraImagesArgs) -> pulumi.Output:
        """None, once Glance holds no image with the tag in the service project but this stack's
        (named with its prefix); otherwise the program stops in one line, naming those images.
        Unless amp_image_tag_shared, when nothing is looked up."""
        settings = args.image
        if settings.tag_shared:
            return pulumi.Output.from_input(None)
        lookup = dict(tags=[settings.tag], owner=args.service_project_id, opts=pulumi.InvokeOptions(parent=self))
        tagged = openstack.images.get_image_ids_output(**lookup).ids
        ours = openstack.images.get_image_ids_output(name_regex=own_image_names(args.names), **lookup).ids

        def check(ids: list) -> None:
            owner, tagged_ids, our_ids = ids
            foreign = sorted(set(tagged_ids or ()) - set(our_ids or ()))
            if foreign:
                raise pulumi.RunError(
                    f"amp_image_tag={settings.tag!r}: project {owner} already has images with this tag that this "
                    f"stack did not make ({', '.join(foreign)}), and Octavia boots the newest of them whichever stack "
                    "made it; give this stack another amp_image_tag (and Octavia the same), or set "
                    "amp_image_tag_shared: true if the images are meant to be shared"
                )

        return pulumi.Output.all(args.service_project_id, tagged, ours).apply(check)

    def _warn_unless_owned_by(self, service_project_id: pulumi.Input[str]) -> None:
        def check(ids: list) -> None:
            owner, service = ids
            if owner and service and owner != service:
                pulumi.log.warn(
                    f"the amphora image belongs to project {owner}, not the service project {service}: "
                    "run the stack with credentials scoped to the service project",
                    resource=self,
                )

        pulumi.Output.all(self.owner_id, service_project_id).apply(check)

    def _image(self, name, args, version: ImageVersion, tags, depends_on) -> openstack.images.Image:
        return openstack.images.Image(
            f"{name}-{version.version}",
            name=args.names.image(version.version),
            container_format="bare",
            disk_format=version.disk_format,
            visibility="private",
            tags=tags,
            properties=image_properties(args.image, version),
            **source_args(version),
            # Another disk format is another image (Glance cannot change it once data is uploaded):
            # said here too, so the preview shows a replacement whatever the provider's schema says.
            # Replaced create-before-delete, whatever the provider asks: the tagged image goes only
            # once its successor is active (module docstring).
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=depends_on, replace_on_changes=["diskFormat"], delete_before_replace=False
            ),
        )


def own_image_names(names: ResourceNames) -> str:
    """The Glance name_regex of this stack's images (names.image(version) for any version)."""
    return "^" + re.escape(names.image("")) + "[A-Za-z0-9._+-]+$"
