"""A bad config stops `pulumi preview` on the real engine with the settings model's one message."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from tests.integration.live_cloud import engine

POOLS = ["172.29.232.50-172.29.232.60"]  # 11 addresses; the local stack plans 25 amphorae + 2 DHCP ports


def test_preview_of_a_too_small_pool_fails_with_the_settings_message(stacks):
    stack = stacks.create("local", {"mgmt_allocation_pools": POOLS})
    with pytest.raises(auto.errors.CommandError) as raised:
        engine(stack.preview)
    message = str(raised.value)
    # components.settings: key, value and what would be valid, in one line
    assert (
        "config mgmt_allocation_pools=['172.29.232.50-172.29.232.60']: pools with at least 27 addresses (have 11): "
        "20 amphorae for 10 load balancers + 25% headroom, health-manager and DHCP ports; "
        "or lower expected_loadbalancers"
    ) in message
    assert "Traceback" not in message  # the message, not a Python stack trace
    assert stack.export_stack().deployment.get("resources", []) == []


def test_preview_of_a_removed_option_names_it(stacks):
    stack = stacks.create("local", {"spare_amphora_pool_size": 2})
    with pytest.raises(auto.errors.CommandError) as raised:
        engine(stack.preview)
    assert "config spare_amphora_pool_size=2: the spare amphora pool was removed from Octavia in Xena" in str(raised.value)
