"""tools/env.sh never overrides OpenStack credentials the user has (issue 15, "devcloud defaults
reach production commands"): with OS_CLOUD, OS_AUTH_URL or OS_CLIENT_CONFIG_FILE set it leaves
every OS_* alone; only without any, and only once the devcloud's clouds.yaml exists, it points at
the devcloud's service-project cloud.

Each test sources a copy of env.sh in a scratch project root, so the checkout's .devcloud and
.state are not involved.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed.stacks import ROOT

OS_CREDENTIALS = ("OS_CLOUD", "OS_AUTH_URL", "OS_CLIENT_CONFIG_FILE")


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "env.sh", tmp_path / "tools" / "env.sh")
    return tmp_path


def with_devcloud(project: Path) -> Path:
    clouds = project / ".devcloud" / "clouds.yaml"
    clouds.parent.mkdir()
    clouds.write_text("clouds: {}\n")
    return clouds


def sourced(project: Path, **variables: str) -> dict:
    """The OS_* variables after `source tools/env.sh` in a shell with only `variables` of them set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    out = subprocess.run(["bash", "-euc", "source tools/env.sh && env -0"], cwd=project, env={**env, **variables},
                         capture_output=True, check=True)
    pairs = (item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return {key: value for key, value in pairs if key.startswith("OS_")}


OPENRC = {
    "OS_AUTH_URL": "https://keystone.example.net:5000/v3", "OS_USERNAME": "admin", "OS_PASSWORD": "secret",
    "OS_PROJECT_NAME": "service", "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
}


def test_openrc_variables_are_left_alone(project):
    with_devcloud(project)
    assert sourced(project, **OPENRC) == OPENRC  # no OS_CLOUD, no OS_CLIENT_CONFIG_FILE added


@pytest.mark.parametrize("variable", OS_CREDENTIALS)
def test_any_credential_of_the_user_leaves_every_os_variable_alone(project, variable):
    with_devcloud(project)
    mine = {variable: "/etc/openstack/clouds.yaml" if variable == "OS_CLIENT_CONFIG_FILE" else "mine",
            "OS_REGION_NAME": "RegionOne"}
    assert sourced(project, **mine) == mine


def test_without_credentials_it_points_at_the_devcloud(project):
    clouds = with_devcloud(project)
    assert sourced(project) == {"OS_CLIENT_CONFIG_FILE": str(clouds), "OS_CLOUD": "devcloud-service"}


def test_without_credentials_or_a_devcloud_it_sets_none(project):
    assert sourced(project) == {}
