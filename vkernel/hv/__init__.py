"""The hypervisor layer: one guest kernel, virtualized in every classic way.

Read it in this order: :mod:`vkernel.hv.vm` (the VM, its vCPU and the run loop),
:mod:`vkernel.hv.memory` (machine frames, guest physical memory, the G-stage table),
:mod:`vkernel.hv.pagetable` (the Sv39 and Sv39x4 walk and builder every table uses),
:mod:`vkernel.hv.sbi` (what a guest kernel asks of the layer below), then one module per
technique: :mod:`~vkernel.hv.native` (no hypervisor); :mod:`~vkernel.hv.deprivileged`
(what the software techniques share) with :mod:`~vkernel.hv.shadow` (shadow page tables),
:mod:`~vkernel.hv.trap_emulate`, :mod:`~vkernel.hv.binary_translation` and
:mod:`~vkernel.hv.paravirt`; :mod:`~vkernel.hv.hardware` (the H extension); and
:mod:`vkernel.hv.cost` (what it all costs). :mod:`~vkernel.hv.mmio` emulates device
accesses for all of them.

>>> from vkernel.hv import VM, TECHNIQUES
>>> TECHNIQUES
('native', 'trap-emulate', 'binary-translation', 'paravirt', 'hardware')
"""

from vkernel.hv.cost import CostModel
from vkernel.hv.vm import TECHNIQUES, VCPU, VM, HypervisorError, Technique, VMResult

__all__ = ["TECHNIQUES", "VCPU", "VM", "CostModel", "HypervisorError", "Technique",
           "VMResult"]
