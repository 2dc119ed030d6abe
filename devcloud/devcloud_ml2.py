"""devcloud only: an ML2 mechanism driver that binds every port, on any host, to its first segment.

Nova refuses to boot a server on a port whose binding failed, and Neutron's in-tree drivers bind
only for hosts where their agent reports alive (no agent runs here: the computes are Nova's fake
driver, nothing is wired). This driver stands in for them so that Octavia's controller worker can
boot amphorae. Never use it outside the devcloud: it claims ports are wired when nothing is.
devcloud.py registers it as `devcloud_bind_all` in Neutron's `neutron.ml2.mechanism_drivers`.
"""

from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindAllMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: True}, status="ACTIVE")
            return
