"""Fixtures shared by every test directory; the plumbing behind them is testbed.stacks."""

import pytest

from testbed.stacks import ROOT, stack_factory


@pytest.fixture(scope="session")
def devcloud_env() -> dict:
    """Starts the devcloud if it is not up (idempotent) and returns its OS_* variables."""
    from devcloud.devcloud import ensure_devcloud

    return ensure_devcloud()


@pytest.fixture
def stacks(tmp_path, devcloud_env):
    """Factory of devcloud stacks; destroys whatever a test left behind."""
    factory = stack_factory(tmp_path, devcloud_env)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="module")
def module_stacks(tmp_path_factory, devcloud_env):
    """Like `stacks`, for one stack that the ordered tests of a module share (deploy once)."""
    factory = stack_factory(tmp_path_factory.mktemp("stacks"), devcloud_env)
    yield factory
    factory.cleanup()


def pytest_report_header(config):
    return f"engine: {ROOT / 'bin'} (state backends are per test, under pytest's tmp_path)"


@pytest.fixture
def glance(devcloud_env, monkeypatch):
    """openstacksdk on the devcloud's admin cloud, for reading images back."""
    import openstack

    for key, value in devcloud_env.items():
        monkeypatch.setenv(key, value)
    conn = openstack.connect(cloud="devcloud")
    yield conn
    conn.close()
