"""Management networks whose segmentation id Neutron chooses, on the real engine and devcloud.

The id Neutron picked is not a change: after `up`, the preview is empty (given as a segment, the
chosen id used to read back as an update on every preview).
"""

from __future__ import annotations

import pytest

from testbed.devcloud_support import connect
from testbed.stacks import engine


@pytest.mark.parametrize("network_type, physical_network", [("vxlan", ""), ("vlan", "lbaas")])
def test_a_segmentation_id_chosen_by_neutron_previews_without_changes(stacks, devcloud_env, network_type, physical_network):
    stack = stacks.create("local", {"mgmt_network_type": network_type, "mgmt_physical_network": physical_network,
                                    "mgmt_segmentation_id": 0})
    out = {key: value.value for key, value in engine(stack.up).outputs.items()}
    network = connect(devcloud_env, "devcloud-service").network.get_network(out["mgmt_network_id"])
    assert network.provider_network_type == network_type and network.provider_segmentation_id
    assert set(engine(stack.preview).change_summary) == {"same"}
