"""The hypervisor layer: guest kernels, virtualized in every classic way, several at once.

Read it in this order: :mod:`vkernel.hv.base` (what a technique is, and the actions it
answers an exit with), :mod:`vkernel.hv.host` (the host: domains, the world switch and
the run loop) with :mod:`vkernel.hv.scheduler` (who runs next) and :mod:`vkernel.hv.vm`
(the one-domain shortcut), :mod:`vkernel.hv.memory` (machine frames, guest physical
memory, the G-stage table) with :mod:`vkernel.hv.balloon` (memory a domain gives back
and takes again), :mod:`vkernel.hv.sharing` (identical pages merged copy-on-write) and
:mod:`vkernel.hv.swap` (an overcommitted host's swap file), :mod:`vkernel.hv.pagetable`
(the Sv39 and Sv39x4 walk and builder every table uses), :mod:`vkernel.hv.sbi` (what a
guest kernel asks of the layer below), then one module per technique:
:mod:`~vkernel.hv.native` (no hypervisor);
:mod:`~vkernel.hv.deprivileged` (what the software techniques share) with
:mod:`~vkernel.hv.shadow` (shadow page tables, simple or write-protected; hardware
assistance without a G-stage walks them too), :mod:`~vkernel.hv.trap_emulate`,
:mod:`~vkernel.hv.binary_translation` and :mod:`~vkernel.hv.paravirt`;
:mod:`~vkernel.hv.hardware` (the H extension); :mod:`vkernel.hv.cost` (what it all
costs); and :mod:`~vkernel.hv.consolidation` (how many guests fit on one host).
:mod:`~vkernel.hv.mmio` emulates device accesses for all of them, through each domain's
:class:`~vkernel.devices.bus.Bus`.

>>> from vkernel.hv import VM, TECHNIQUES
>>> TECHNIQUES
('native', 'trap-emulate', 'binary-translation', 'paravirt', 'hardware')
"""

from vkernel.hv.base import (
    CONTINUE,
    PAGINGS,
    SHADOWS,
    TECHNIQUES,
    Block,
    Continue,
    HypervisorError,
    Shutdown,
    Technique,
    VMResult,
    Yield,
)
from vkernel.hv.cost import CostModel
from vkernel.hv.host import VCPU, Domain, Host, HostResult
from vkernel.hv.scheduler import Credit, RoundRobin, Scheduler
from vkernel.hv.vm import VM

__all__ = ["CONTINUE", "PAGINGS", "SHADOWS", "TECHNIQUES", "VCPU", "VM", "Block",
           "Continue", "CostModel", "Credit", "Domain", "Host", "HostResult",
           "HypervisorError", "RoundRobin", "Scheduler", "Shutdown", "Technique",
           "VMResult", "Yield"]
