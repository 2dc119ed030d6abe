"""The amphora image build manifest: a JSON file written next to each built image.

tools/amphora_image writes it (for its own builds, or with `manifest --from-existing` for an image
built elsewhere); the settings model reads it when an `amp_images` entry is a manifest path, so the
Glance image's version, file and checksum come from the build instead of being typed by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

FORMAT = 1
SUFFIX = ".manifest.json"
# Keys every manifest carries; tools/amphora_image adds the build's details beside them.
REQUIRED = ("manifest_format", "version", "image", "sha256", "architecture", "octavia_version", "base_os", "built_at")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Manifest:
    path: str  # the manifest file, as given
    version: str
    image_path: str  # the image file: the manifest's directory joined with its `image` name
    sha256: str
    architecture: str
    fields: Mapping[str, Any]


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_path_for(image_path: str) -> str:
    """amphora-x.qcow2 -> amphora-x.manifest.json, in the same directory."""
    stem, _ = os.path.splitext(image_path)
    return stem + SUFFIX


def write_manifest(path: str, fields: Mapping[str, Any]) -> None:
    missing = [key for key in REQUIRED if key not in fields]
    if missing:
        raise ValueError(f"manifest fields missing: {', '.join(missing)}")
    with open(path, "w") as handle:
        json.dump(dict(fields), handle, indent=2, sort_keys=True)
        handle.write("\n")


def read_manifest(path: str) -> Manifest:
    """The manifest at path; ValueError saying what is wrong with it."""
    try:
        with open(path) as handle:
            fields = json.load(handle)
    except FileNotFoundError:
        raise ValueError("no such manifest file (keep the manifests of kept image versions)") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"not a readable JSON manifest ({err})") from None
    if not isinstance(fields, dict) or any(key not in fields for key in REQUIRED):
        raise ValueError(f"a manifest needs the keys {', '.join(REQUIRED)}")
    if fields["manifest_format"] != FORMAT:
        raise ValueError(f"manifest_format {fields['manifest_format']!r} (this stack reads format {FORMAT})")
    version, image, sha256 = fields["version"], fields["image"], fields["sha256"]
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ValueError(f"version {version!r}: letters, digits, '.', '_', '+', '-'")
    if not isinstance(image, str) or not image or os.path.basename(image) != image:
        raise ValueError(f"image {image!r}: the image's file name, in the manifest's directory")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ValueError(f"sha256 {sha256!r}: 64 lowercase hex digits")
    image_path = os.path.join(os.path.dirname(path), image)
    return Manifest(path, version, image_path, sha256, str(fields["architecture"]), fields)
