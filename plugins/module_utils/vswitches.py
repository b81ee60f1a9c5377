"""The one table of what distinguishes the virtual switches from each other.

Every other part of the collection asks this table; none names a switch. Adding a switch is
one row here and one role ``vswitch_<name>`` (with ``-`` as ``_``); another program of a
switch is one row naming that switch's role (``variant_of``) and the program.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

# How a container reaches the switch.
ATTACH_VETH = "veth"  # a veth pair, the host end enslaved to a kernel bridge
ATTACH_VHOST_USER = "vhost-user"  # a vhost-user socket, virtio_user in the container
ATTACH_VF_NETDEV = "vf-netdev"  # an SR-IOV VF moved into the container as a netdev
ATTACH_VF_PCI = "vf-pci"  # an SR-IOV VF's PCI device driven by DPDK in the container
ATTACHMENTS = (ATTACH_VETH, ATTACH_VHOST_USER, ATTACH_VF_NETDEV, ATTACH_VF_PCI)

# Which counters of the wire NIC (the cable to the other host) see a test's frames.
WIRE_NETDEV = "netdev"
# The port's own: a VF's frames leave through the PF's port but never cross the PF's
# queues, whose counters are all its kernel interface reports (igb, ixgbe).
WIRE_PORT = "port"

# Which applets the containers run: the kernel's sockets or DPDK (the dpdk- twins).
APPLETS_SOCKET = "socket"
APPLETS_DPDK = "dpdk"


@dataclass(frozen=True)
class SwitchTraits:
    """What a test needs to know about one virtual switch."""

    name: str
    # Kernel path (frames cross the kernel's network stack) or kernel bypass.
    kernel_path: bool
    # The switch polls host cores of its own (switch_cores applies to it).
    polls: bool
    applets: str
    attach: str
    # Appended to the containers' net_virtio_user vdev (vhost-user attachments only).
    vdev_options: str = ""
    # EAL arguments of the containers' dpdk- applets beyond the common ones.
    eal_args: tuple[str, ...] = ()
    # Why the switch cannot join containers on two hosts; empty when it can.
    no_remote: str = ""
    # The row whose role runs this one: a switch measured under another program.
    variant_of: str = ""
    # What the role runs for this row (given to its start as icperf_vswitch_program);
    # empty: the role's own default.
    program: str = ""
    # Which counters of the NIC cabled to the other host count the test's frames:
    # WIRE_NETDEV, the counters of its kernel interface (or of the switch driving it), or
    # WIRE_PORT, the port's own (ethtool -S), where frames bypass the host's queues of it.
    wire_counters: str = WIRE_NETDEV

    @property
    def role(self) -> str:
        """The role that installs, starts and stops the switch."""
        return "vswitch_" + (self.variant_of or self.name).replace("-", "_")

    @property
    def hugepages(self) -> bool:
        """DPDK in the containers (and in a bypass switch) needs hugepages."""
        return self.applets == APPLETS_DPDK or not self.kernel_path

    def as_dict(self) -> dict[str, object]:
        """The row as plain data for playbooks and test.json."""
        row = asdict(self)
        row["eal_args"] = list(self.eal_args)
        row["role"] = self.role
        row["hugepages"] = self.hugepages
        return row


# virtio_user hands virtual addresses to the switch anyway, and in physical-address mode
# the port's ring allocation failed now and then inside the containers.
_VIRTIO_EAL = ("--iova-mode=va",)
# Why the thesis left these switches out of its tests across two hosts (sections 4.3.1
# and 5.3.2), in its words.
_SNABB_NO_REMOTE = (
    "Snabb does not implement the driver for the NIC connecting the two hosts (each driver "
    "is written from scratch in Lua; thesis sections 4.3.1, 5.3.2)"
)

_TABLE = (
    SwitchTraits(
        name="linux-bridge", kernel_path=True, polls=False,
        applets=APPLETS_SOCKET, attach=ATTACH_VETH,
    ),
    SwitchTraits(
        name="basicfwd", kernel_path=False, polls=True,
        applets=APPLETS_DPDK, attach=ATTACH_VHOST_USER, eal_args=_VIRTIO_EAL,
        no_remote="the Basic Forwarding Sample Application connects one port to one other "
        "port and cannot multiplex traffic from several input ports into one output port, "
        "so at most one container could reach the other host (thesis sections 4.3.1, 5.3.2)",
    ),
    # OVS connects to the containers' sockets as a vhost-user client (dpdkvhostuserclient),
    # so the containers' virtio_user ports are the servers.
    SwitchTraits(
        name="ovs", kernel_path=False, polls=True,
        applets=APPLETS_DPDK, attach=ATTACH_VHOST_USER,
        vdev_options=",server=1", eal_args=_VIRTIO_EAL,
    ),
    # VPP (vswitch_vpp) and Snabb (vswitch_snabb) create the sockets as vhost-user servers;
    # the containers' virtio_user ports connect to them.
    SwitchTraits(
        name="vpp", kernel_path=False, polls=True,
        applets=APPLETS_DPDK, attach=ATTACH_VHOST_USER, eal_args=_VIRTIO_EAL,
    ),
    SwitchTraits(
        name="snabb", kernel_path=False, polls=True,
        applets=APPLETS_DPDK, attach=ATTACH_VHOST_USER, eal_args=_VIRTIO_EAL,
        no_remote=_SNABB_NO_REMOTE, program="learning",
    ),
    # Snabb without its bridge: each container's port patched to its peer's (the thesis
    # notes it is much faster than the learning switch).
    SwitchTraits(
        name="snabb-wire", kernel_path=False, polls=True,
        applets=APPLETS_DPDK, attach=ATTACH_VHOST_USER, eal_args=_VIRTIO_EAL,
        no_remote=_SNABB_NO_REMOTE, variant_of="snabb", program="wire",
    ),
    # The NIC's embedded switch: no host cores. The thesis' way: each container drives its
    # VF's PCI device with DPDK (vfio-pci; the dpdk- applets with -a VF_PCI).
    SwitchTraits(
        name="sriov", kernel_path=False, polls=False,
        applets=APPLETS_DPDK, attach=ATTACH_VF_PCI, wire_counters=WIRE_PORT,
    ),
    # The same switch through the kernel: each container gets its VF's netdev (the kernel's
    # VF driver; LXC moves it in) and runs the socket applets, which compares SR-IOV with
    # linux-bridge at equal applets.
    SwitchTraits(
        name="sriov-kernel", kernel_path=True, polls=False,
        applets=APPLETS_SOCKET, attach=ATTACH_VF_NETDEV, variant_of="sriov",
        wire_counters=WIRE_PORT,
    ),
)  # fmt: skip

SWITCHES: dict[str, SwitchTraits] = {row.name: row for row in _TABLE}
NAMES: tuple[str, ...] = tuple(SWITCHES)


def traits(name: object, field: str = "vswitch") -> SwitchTraits:
    """The row of switch ``name``; an unknown name is an error naming ``field``."""
    if not isinstance(name, str) or name not in SWITCHES:
        raise IcperfInputError(
            f"{field}: unknown virtual switch {name!r} (known: {', '.join(NAMES)})"
        )
    return SWITCHES[name]


def vswitch_traits(name: object) -> dict[str, object]:
    """Filter: the traits of switch ``name`` as a dict (role, kernel_path, polls, ...)."""
    return traits(name).as_dict()
