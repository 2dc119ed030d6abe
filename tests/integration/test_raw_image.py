"""A raw amphora image (disk_format raw, as Ceph-backed Glance wants), on the real engine against
the devcloud: a file made with `qemu-img create -f raw` is uploaded as a raw image, Glance reports
it raw, a preview afterwards has no changes, and giving that version another format and file is
previewed as the image's replacement. A file whose format is not its disk_format is refused
before any resource is declared (Glance would refuse it mid-`up`, 415)."""

import subprocess
from pathlib import Path

import pytest
from pulumi import automation as auto

from testbed.stacks import engine, make_test_image, write_config

TAG = "octavia-amphora-image"
RAW = ".state/amphora-raw.img"
IMAGE_TYPE = "openstack:images/image:Image"


def image_ops(events):
    """{resource name: the ops of its steps} of the image steps an engine run announced."""
    ops = {}
    for event in events:
        step = event.resource_pre_event
        if step is not None and step.metadata.type == IMAGE_TYPE:
            ops.setdefault(step.metadata.urn.rsplit("::", 1)[-1], set()).add(step.metadata.op)
    return ops


def test_a_raw_image_uploads_as_raw_and_another_format_is_a_replacement(stacks, glance):
    raw_entry = {"version": "raw1", "source": RAW, "disk_format": "raw"}
    stack = stacks.create("local", {"amp_images": [raw_entry]})
    work_dir = Path(stack.workspace.work_dir)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(work_dir / RAW), "32M"], check=True)

    result = engine(stack.up)
    (image,) = [i for i in glance.image.images() if i.name == f"{stack.name}-amphora-x64-haproxy-raw1"]
    assert (image.disk_format, image.container_format, image.status) == ("raw", "bare", "active")
    assert image.tags == [TAG] and image.size == (work_dir / RAW).stat().st_size
    assert result.outputs["amp_image_id"].value == image.id
    assert set(engine(stack.preview).change_summary) == {"same"}

    # The same version as a qcow2 is another Glance image: previewed as a replacement, nothing else.
    make_test_image(work_dir / ".state" / "amphora-raw1.qcow2", "32M")
    write_config(stack, {"amp_images": [{"version": "raw1", "source": ".state/amphora-raw1.qcow2"}]})
    events = []
    summary = engine(stack.preview, on_event=events.append).change_summary
    assert set(summary) == {"same", "replace"} and summary["replace"] == 1, summary
    replaced = {auto.OpType.CREATE_REPLACEMENT, auto.OpType.REPLACE, auto.OpType.DELETE_REPLACED}
    assert image_ops(events) == {"octavia-amp-image-raw1": replaced}, image_ops(events)

    # A raw file declared qcow2 (the default) stops the preview before any resource, naming the key.
    write_config(stack, {"amp_images": [{"version": "raw1", "source": RAW}]})
    with pytest.raises(auto.errors.CommandError) as refused:
        stack.preview()
    assert "amp_images[0].disk_format='qcow2'" in str(refused.value)
    assert f"{RAW} is raw (qemu-img info)" in str(refused.value)
    assert glance.image.get_image(image.id).disk_format == "raw"  # untouched
