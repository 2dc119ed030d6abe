"""The output contract and the program entry point: __main__ exports exactly OUTPUT_NAMES and
turns a bad config into one clean error."""

import json
import runpy
from pathlib import Path

import pulumi
import pytest

from render.outputs import OUTPUT_NAMES
from octavia_support import FAST_PKI, RecordingMocks, Run
from testbed.stacks import make_test_image

MAIN = Path(__file__).resolve().parents[2] / "__main__.py"


def run_main(monkeypatch, config, other_namespaces=None):
    exported = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    pulumi.runtime.set_mocks(RecordingMocks(Run()), project="octavia-infra", stack="unit", preview=False)
    project_config = {f"octavia-infra:{key}": value for key, value in config.items()}
    pulumi.runtime.set_all_config({**project_config, **(other_namespaces or {})})
    try:
        pulumi.runtime.test(lambda: runpy.run_path(str(MAIN), run_name="__main__") and None)()
    finally:
        pulumi.runtime.set_all_config({})
    return exported


def engine_config(image):
    """Config as the engine hands it over: strings, with arrays and objects as JSON."""
    return {
        "mgmt_subnet_cidr": "172.29.232.0/24",
        "mgmt_allocation_pools": json.dumps([{"start": "172.29.232.50", "end": "172.29.232.250"}]),
        "health_managers": json.dumps([{"host": "ctl1"}]),
        "amp_images": json.dumps([{"version": "v1", "source": image}]),
        "expected_loadbalancers": "10",
        "ssh_enabled": "false",
        "pki": json.dumps(FAST_PKI),
    }


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "amphora.qcow2"
    make_test_image(path, "1M")
    return str(path)


def test_output_names_are_unique():
    assert len(set(OUTPUT_NAMES)) == len(OUTPUT_NAMES)


def test_main_exports_exactly_the_contract(monkeypatch, image):
    exported = run_main(monkeypatch, engine_config(image))
    assert list(exported) == list(OUTPUT_NAMES)


def test_bad_config_stops_with_one_run_error_naming_the_key(monkeypatch, image):
    config = {**engine_config(image), "spare_amphora_pool_size": "2"}
    with pytest.raises(pulumi.RunError) as caught:
        run_main(monkeypatch, config)
    assert "spare_amphora_pool_size" in str(caught.value) and "Xena" in str(caught.value)


def test_config_of_other_namespaces_is_ignored(monkeypatch, image):
    exported = run_main(monkeypatch, engine_config(image), {"openstack:cloud": "devcloud"})
    assert list(exported) == list(OUTPUT_NAMES)
