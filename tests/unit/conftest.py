"""Fixtures shared by the unit tests of the stack program (Pulumi mocks, no cloud)."""

import pytest

from octavia_support import base_config


@pytest.fixture
def image(tmp_path):
    """A file for amp_images: the settings model only checks that it exists."""
    path = tmp_path / "amphora.qcow2"
    path.write_bytes(b"QFI\xfb")
    return str(path)


@pytest.fixture
def config(image):
    return base_config(image)
