"""Fixtures for tests against the devcloud (a real local OpenStack, see devcloud/README.md).

`devcloud_env` (tests/conftest.py) starts the devcloud once per session (a no-op when it is
already up) and gives the environment that selects it: {OS_CLIENT_CONFIG_FILE, OS_CLOUD}.
"""

from __future__ import annotations

import uuid

import pytest

from testbed.stacks import connect


@pytest.fixture(scope="session")
def conn(devcloud_env):
    connection = connect(devcloud_env)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def service_project(conn):
    return conn.identity.find_project("service", ignore_missing=False)


@pytest.fixture
def unique() -> str:
    """A name suffix no other run uses."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def cleanup():
    """Register deletions with cleanup(func, *args); they run in reverse order after the test."""
    actions = []
    yield lambda func, *args, **kwargs: actions.append((func, args, kwargs))
    errors = []
    for func, args, kwargs in reversed(actions):
        try:
            func(*args, **kwargs)
        except Exception as exc:  # keep cleaning up, then report
            errors.append(f"{func.__name__}{args}: {exc}")
    assert not errors, "cleanup failed: " + "; ".join(errors)
