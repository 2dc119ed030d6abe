"""Image disk formats (qcow2, raw): the settings model checks a local current file's format with
qemu-img before anything is declared, and the Glance image is declared with it (no cloud)."""

import subprocess

import pytest

from config.errors import ConfigError
from config.image_manifest import file_sha256, write_manifest
from config.settings import parse_settings
from octavia_support import declare
from testbed.stacks import make_test_image

IMAGE = "openstack:images/image:Image"


def parse(config):
    return parse_settings(config, pki_parser=lambda section: section)


def raw_image(path):
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(path), "1M"], check=True)
    return str(path)


def test_disk_format_is_qcow2_unless_raw_is_given(config, tmp_path):
    assert parse(config).image.current.disk_format == "qcow2"
    raw = raw_image(tmp_path / "amphora.raw")
    config = {**config, "amp_images": [{"version": "v1", "source": raw, "disk_format": "raw"}]}
    assert parse(config).image.current.disk_format == "raw"


@pytest.mark.parametrize("declared, made", [("raw", "qcow2"), ("qcow2", "raw")])
def test_a_disk_format_that_is_not_the_files_is_refused_with_its_key(config, image, tmp_path, declared, made):
    source = image if made == "qcow2" else raw_image(tmp_path / "amphora.raw")
    entry = {"version": "v1", "source": source, **({"disk_format": declared} if declared != "qcow2" else {})}
    with pytest.raises(ConfigError) as refused:
        parse({**config, "amp_images": [entry]})
    assert refused.value.key == "amp_images[0].disk_format" and refused.value.value == declared
    assert f"{source} is {made} (qemu-img info)" in str(refused.value)


def test_an_unknown_disk_format_is_refused(config, image):
    with pytest.raises(ConfigError) as refused:
        parse({**config, "amp_images": [{"version": "v1", "source": image, "disk_format": "vmdk"}]})
    assert refused.value.key == "amp_images[0].disk_format" and refused.value.value == "vmdk"
    assert "one of qcow2, raw" in str(refused.value)


def test_urls_and_kept_versions_are_not_read_for_their_format(config, monkeypatch):
    kept = {"version": "v1", "source": "/gone/amphora.raw", "disk_format": "raw"}
    url = {"version": "v2", "source": "https://example.com/amphora.raw", "disk_format": "raw"}
    monkeypatch.setattr("config.settings.shutil.which", lambda name: None)  # no qemu-img: none is needed
    versions = parse({**config, "amp_images": [kept, url]}).image.versions
    assert [(v.version, v.disk_format) for v in versions] == [("v1", "raw"), ("v2", "raw")]


def test_without_qemu_img_a_local_image_is_refused_naming_it(config, tmp_path, monkeypatch):
    fresh = raw_image(tmp_path / "fresh.raw")  # never read before, so not in the cache of formats
    monkeypatch.setattr("config.settings.shutil.which", lambda name: None)
    with pytest.raises(ConfigError) as refused:
        parse({**config, "amp_images": [{"version": "v1", "source": fresh, "disk_format": "raw"}]})
    assert refused.value.key == "amp_images[0].disk_format" and "qemu-img on PATH" in str(refused.value)


@pytest.mark.parametrize("recorded, made", [(None, "qcow2"), ("raw", "raw")])
def test_a_manifest_entry_takes_its_disk_format_from_the_manifest(config, tmp_path, recorded, made):
    image = raw_image(tmp_path / "a.img") if made == "raw" else str(make_test_image(tmp_path / "a.img", "1M"))
    fields = {"manifest_format": 1, "version": "m1", "image": "a.img", "sha256": file_sha256(image),
              "architecture": "x86_64", "octavia_version": "19.0.0", "base_os": "ubuntu-minimal",
              "built_at": "2026-03-01T12:00:00+00:00", **({"disk_format": recorded} if recorded else {})}  # fmt: skip
    manifest = str(tmp_path / "a.manifest.json")
    write_manifest(manifest, fields)
    assert parse({**config, "amp_images": [{"manifest": manifest}]}).image.current.disk_format == made
    write_manifest(manifest, {**fields, "disk_format": "qcow2" if made == "raw" else "raw"})
    with pytest.raises(ConfigError) as refused:
        parse({**config, "amp_images": [{"manifest": manifest}]})
    assert refused.value.key == "amp_images[0].manifest" and f"{image} is {made}" in str(refused.value)


def test_a_raw_image_is_declared_raw_and_another_format_replaces_it(config, tmp_path):
    raw = raw_image(tmp_path / "amphora.raw")
    run = declare({**config, "amp_images": [{"version": "r1", "source": raw, "disk_format": "raw"}]})
    (current,) = run.of_type(IMAGE)
    assert (current.inputs["containerFormat"], current.inputs["diskFormat"]) == ("bare", "raw")
    assert current.inputs["localFilePath"] == raw
    assert current.opts.replace_on_changes == ["diskFormat"]  # another format is another image
