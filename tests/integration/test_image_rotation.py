"""A new amphora image build rolls out through the stack, on the real engine against the devcloud.

Three real (small, empty) qcow2 "builds" get manifests from tools/amphora_image, and the stack's
amp_images lists them as `{manifest: PATH}` entries, as an operator does after `make
amphora-image`. With amp_image_keep_previous 1: v1 is uploaded and tagged; adding v2 makes it
active and tagged and leaves v1 untagged, the tag moving off v1 only after v2's creation finished;
adding v3 deletes v1.
Glance is checked directly (openstacksdk): names carry the manifest version, images are private,
owned by the service project, and exactly one carries the tag.
"""

import os

import pytest

from config.image_manifest import read_manifest
from testbed.stacks import make_test_image, write_config
from tools.amphora_image.cli import main as amphora_image

TAG = "octavia-amphora-image"


@pytest.fixture
def builds(tmp_path):
    """Manifests of three builds, as `make amphora-image` leaves them (one directory each)."""
    manifests = {}
    for version, size in (("v1", "64M"), ("v2", "65M"), ("v3", "66M")):
        image = make_test_image(tmp_path / "builds" / version / "amphora-x64-haproxy.qcow2", size)
        assert amphora_image(["manifest", "--from-existing", str(image), "--version", version]) == 0
        manifests[version] = str(image.with_name("amphora-x64-haproxy.manifest.json"))
    return manifests


def images_of(glance, stack):
    prefix = f"{stack.name}-amphora-x64-haproxy-"
    return {image.name[len(prefix) :]: image for image in glance.image.images() if image.name.startswith(prefix)}


def up(stack, manifests):
    write_config(stack, {"amp_images": [{"manifest": path} for path in manifests]})
    events = []
    result = stack.up(on_event=events.append)
    return result, events


def step_order(events):
    """(op, resource name) in the order the engine started (pre) and finished (outputs) steps."""
    order = []
    for event in events:
        for kind in ("resource_pre_event", "res_outputs_event"):
            step = getattr(event, kind, None)
            if step is not None and step.metadata.type == "openstack:images/image:Image":
                order.append((kind, step.metadata.op.value, step.metadata.urn.rsplit("::", 1)[-1]))
    return order


def test_new_builds_rotate_through_manifests(stacks, builds, glance):
    stack = stacks.create("local", {"amp_images": [{"manifest": builds["v1"]}], "amp_image_keep_previous": 1})
    service_project = glance.identity.find_project("service", ignore_missing=False).id

    result, _ = up(stack, [builds["v1"]])
    images = images_of(glance, stack)
    assert set(images) == {"v1"}
    v1 = images["v1"]
    assert (v1.status, v1.visibility, v1.owner, v1.tags) == ("active", "private", service_project, [TAG])
    assert (v1.disk_format, v1.container_format) == ("qcow2", "bare")
    assert v1.properties["octavia_amphora_version"] == "v1"
    assert result.outputs["amp_image_id"].value == v1.id
    assert result.outputs["amp_image_owner_id"].value == service_project

    result, events = up(stack, [builds["v1"], builds["v2"]])
    images = images_of(glance, stack)
    assert set(images) == {"v1", "v2"} and images["v1"].id == v1.id  # v1 kept, not replaced
    assert (images["v2"].status, images["v2"].tags, images["v2"].owner) == ("active", [TAG], service_project)
    assert images["v1"].tags == [] and images["v2"].visibility == "private"
    assert images["v2"].checksum and images["v2"].size == os.path.getsize(read_manifest(builds["v2"]).image_path)
    assert result.outputs["amp_image_id"].value == images["v2"].id
    order = step_order(events)
    v2_created = order.index(("res_outputs_event", "create", "octavia-amp-image-v2"))
    v1_untagged = order.index(("resource_pre_event", "update", "octavia-amp-image-v1"))
    assert v2_created < v1_untagged, order  # the tag leaves v1 only once v2 is active

    result, _ = up(stack, [builds["v1"], builds["v2"], builds["v3"]])
    images = images_of(glance, stack)
    assert set(images) == {"v2", "v3"}  # v1 is past amp_image_keep_previous: deleted from Glance
    assert (images["v3"].status, images["v3"].tags) == ("active", [TAG]) and images["v2"].tags == []
    tagged = [image for image in glance.image.images(tag=[TAG]) if image.name.startswith(f"{stack.name}-")]
    assert [image.id for image in tagged] == [images["v3"].id]
    assert result.outputs["amp_image_id"].value == images["v3"].id
