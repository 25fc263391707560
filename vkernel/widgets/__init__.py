"""Jupyter widgets that show a machine at work (anywidget; front ends in ``widgets/``).

``MachineView(machine)`` steps a machine forwards and backwards and shows its registers
(the ones the last action changed highlighted), its CSRs, the disassembly around the pc,
its privilege mode and console. Reverse stepping restores the nearest checkpoint and
replays: the machine is deterministic, so the state it reaches is exactly the one it had.

``RingTimeline(trace)`` draws a trace's privilege levels over time, one lane per level,
with an arrow for every trap and return; a host's trace of several domains, one band of
lanes per domain with its world switches between them. Both take a Machine, a VM or a
Host (``MachineView(host)`` shows the vCPU of the domain its ``domain`` trait picks).
``link(timeline, view)`` keeps views on one step: clicking a transition moves the
MachineView there.

Memory: ``AddressTranslation(trace)`` draws one access's page walk as the two-level
mapping (the guest's levels across, the G-stage walks down), every page-table reference
numbered in the order the MMU made it; linked with a MachineView it follows the latest
translation. ``MemoryMap(host)`` draws a host's machine frames coloured by owner: each
domain's RAM, the hypervisor's structures kept for it, the hypervisor's own, free.

Arrays cross to the browser as binary buffers (``traitlets.Bytes``), and only what is
in view: a timeline of a million steps sends the few thousand segments on screen, or a
per-pixel summary when there are more, and its arrows one by one, or bundled by slice of
the view and kind when there are too many to draw.

One module per widget, all of it re-exported here: :mod:`~vkernel.widgets.machine_view`
(``MachineView``), :mod:`~vkernel.widgets.ring_timeline` (``RingTimeline``, its lanes'
names and arrows' colours), :mod:`~vkernel.widgets.address_translation`
(``AddressTranslation``), :mod:`~vkernel.widgets.memory_map` (``MemoryMap``),
:mod:`~vkernel.widgets.linking` (``link``, ``Link``), and
:mod:`~vkernel.widgets._common` (``ASSETS``, where the front ends are, and the checks the
widgets share).

>>> import vkernel
>>> from vkernel.widgets import MachineView
>>> m = vkernel.Machine(ram_mb=1)
>>> _ = m.load(vkernel.assemble("li a0, 1\\nli a0, 2\\nli a0, 3"))
>>> view = MachineView(m)
>>> view.do("step", 2); view.step, view.changed
(2, ['a0'])
>>> view.do("back"); view.step, m.hart.x["a0"]
(1, 1)
"""

from vkernel.widgets._common import ASSETS
from vkernel.widgets._common import _check_kwargs as _check_kwargs
from vkernel.widgets._common import _is_vm as _is_vm
from vkernel.widgets.address_translation import AddressTranslation
from vkernel.widgets.linking import Link, link
from vkernel.widgets.machine_view import HYPERVISOR_CSRS, SHOWN_CSRS, MachineView
from vkernel.widgets.machine_view import _describe as _describe
from vkernel.widgets.memory_map import MemoryMap
from vkernel.widgets.ring_timeline import _MODE_VALUE as _MODE_VALUE
from vkernel.widgets.ring_timeline import (
    HOST_NAMES,
    HOST_TITLES,
    LANE_ORDER,
    MODE_TITLES,
    NEUTRAL,
    RISCV_NAMES,
    SOFTWARE_NAMES,
    SOFTWARE_TITLES,
    X86_NAMES,
    RingTimeline,
)
from vkernel.widgets.ring_timeline import _cause_colour as _cause_colour
from vkernel.widgets.ring_timeline import _exit_colour as _exit_colour
from vkernel.widgets.ring_timeline import _host_level as _host_level

__all__ = ["ASSETS", "HOST_NAMES", "HOST_TITLES", "HYPERVISOR_CSRS", "LANE_ORDER",
           "MODE_TITLES", "NEUTRAL", "RISCV_NAMES", "SHOWN_CSRS", "SOFTWARE_NAMES",
           "SOFTWARE_TITLES", "X86_NAMES", "AddressTranslation", "Link", "MachineView",
           "MemoryMap", "RingTimeline", "link"]
