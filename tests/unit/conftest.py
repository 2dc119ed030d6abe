"""Fixtures shared by the unit tests of the stack program (Pulumi mocks, no cloud)."""

import pytest

from octavia_support import base_config
from testbed.stacks import make_test_image


@pytest.fixture
def image(tmp_path):
    """A file for amp_images: a real (empty) qcow2, the format the settings model checks it against."""
    path = tmp_path / "amphora.qcow2"
    make_test_image(path, "1M")
    return str(path)


@pytest.fixture
def config(image):
    return base_config(image)
