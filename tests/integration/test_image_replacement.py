"""Replacing the current amphora image, on the real engine against the devcloud.

One stack, with a tag of its own and amp_image_tag_shared false (the default): a respelled path
previews as no change; a new source Glance refuses during `up` (a qcow2 with a backing file, which
qemu-img reads as qcow2 and Glance's safety checks refuse) fails the `up` and leaves the old image
active, tagged and in the state; a good new source then replaces the image create-before-delete
(the new image active and tagged before the old one is deleted), leaving one image of that
version. A second stack with the same tag in the same service project is refused at preview,
naming the first stack's image, and previews once amp_image_tag_shared says so.
"""

import subprocess
import uuid
from pathlib import Path

import pytest
from pulumi import automation as auto

from testbed.stacks import LOCAL_TEST_IMAGE, engine, make_test_image, write_config

IMAGE_TYPE = "openstack:images/image:Image"
RESOURCE = "octavia-amp-image-v1"


def steps(events):
    """(event kind, op, resource name) of the image steps, in the order the engine reported them."""
    order = []
    for event in events:
        for kind in ("resource_pre_event", "res_outputs_event"):
            step = getattr(event, kind, None)
            if step is not None and step.metadata.type == IMAGE_TYPE:
                order.append((kind, step.metadata.op.value, step.metadata.urn.rsplit("::", 1)[-1]))
    return order


def images_named(glance, name):
    return [image for image in glance.image.images() if image.name == name]


def test_a_changed_source_is_replaced_create_before_delete_and_a_failed_upload_keeps_the_old(stacks, glance):
    tag = f"amphora-test-{uuid.uuid4().hex[:8]}"  # no other stack's images carry it
    config = {"amp_image_tag": tag, "amp_image_tag_shared": False, "amp_image_keep_previous": 0}
    stack = stacks.create("local", {**config, "amp_images": [{"version": "v1", "source": LOCAL_TEST_IMAGE}]})
    work_dir = Path(stack.workspace.work_dir)
    name = f"{stack.name}-amphora-x64-haproxy-v1"

    engine(stack.up)
    (old,) = images_named(glance, name)
    assert (old.status, old.tags) == ("active", [tag])

    # Another spelling of the same file is the same source.
    for spelling in (f"./{LOCAL_TEST_IMAGE}", f"{LOCAL_TEST_IMAGE}/", f"stacks/../{LOCAL_TEST_IMAGE}"):
        write_config(stack, {"amp_images": [{"version": "v1", "source": spelling}]})
        preview = engine(stack.preview, diff=True)
        assert set(preview.change_summary) == {"same"}, (spelling, preview.stdout)

    # A new source that Glance refuses mid-upload: qemu-img reads a qcow2, Glance's safety checks refuse it.
    base = make_test_image(work_dir / ".state" / "base.qcow2", "1M")
    refused = work_dir / ".state" / "backed.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(refused)], check=True)
    write_config(stack, {"amp_images": [{"version": "v1", "source": ".state/backed.qcow2"}]})
    with pytest.raises(auto.errors.CommandError) as failed:
        stack.up()
    assert RESOURCE in str(failed.value), str(failed.value)
    kept = glance.image.get_image(old.id)
    assert (kept.status, kept.tags) == ("active", [tag])  # Octavia still has its image
    assert [image.id for image in images_named(glance, name) if image.status == "active"] == [old.id]

    # A good new file: the new image is active and tagged before the old one is deleted.
    make_test_image(work_dir / ".state" / "amphora-v1b.qcow2", "65M")
    write_config(stack, {"amp_images": [{"version": "v1", "source": "./.state/amphora-v1b.qcow2"}]})
    events = []
    result = engine(stack.up, on_event=events.append)
    order = steps(events)
    created = order.index(("res_outputs_event", "create-replacement", RESOURCE))
    deleted = order.index(("resource_pre_event", "delete-replaced", RESOURCE))
    assert created < deleted, order
    (new,) = images_named(glance, name)  # the old one and the failed upload are gone
    assert new.id != old.id and (new.status, new.tags) == ("active", [tag])
    assert new.size == (work_dir / ".state" / "amphora-v1b.qcow2").stat().st_size
    assert result.outputs["amp_image_id"].value == new.id
    assert set(engine(stack.preview).change_summary) == {"same"}

    # A second stack with the same tag in the same service project: refused at preview, before anything.
    other = stacks.create("local", {**config, "amp_images": [{"version": "v1", "source": LOCAL_TEST_IMAGE}]})
    with pytest.raises(auto.errors.CommandError) as conflict:
        other.preview()
    message = str(conflict.value)
    assert f"amp_image_tag='{tag}'" in message and new.id in message, message
    assert "amp_image_tag_shared: true" in message and "Traceback" not in message, message
    write_config(other, {"amp_image_tag_shared": True})
    assert engine(other.preview).change_summary.get("create")
