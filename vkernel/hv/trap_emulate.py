"""Trap-and-emulate: the classic way (Popek & Goldberg, 1974).

The guest kernel runs deprivileged in U-mode (see :mod:`vkernel.hv.deprivileged`). Every
privileged instruction it executes (a CSR access, ``sret``, ``sfence.vma``, ``wfi``)
raises an illegal-instruction exception, which lands in the hypervisor; the hypervisor
*emulates* the instruction against the guest's virtual CSRs, steps past it, and lets the
guest go on, none the wiser. This works only if every *sensitive* instruction (one that
reads or changes the state the hypervisor virtualizes) is also *privileged* (traps in
U-mode): Popek and Goldberg's condition. RISC-V meets it.

``Machine(sensitive_unprivileged=True)`` breaks it on purpose, the way x86's PUSHF/POPF
did: then a guest kernel's ``csrr sstatus`` reads the *machine's* sstatus without trapping,
and its ``csrc sstatus, SIE`` (disable interrupts) silently does nothing. The hypervisor
never hears of either, and the guest goes wrong. (A teaching deviation from RISC-V.)
"""

from __future__ import annotations

from vkernel.core import kernel as K
from vkernel.hv.deprivileged import Deprivileged
from vkernel.isa.decode import decode
from vkernel.machine import Exit, Mode

CSR_OPS = ("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci")
# a CSR write can change what the shadow must be, or make an interrupt deliverable
SHADOW_CSRS = (K.CSR_SATP, K.CSR_SSTATUS)


class TrapAndEmulate(Deprivileged):
    name = "trap-emulate"

    def privileged_instruction(self, exit: Exit) -> None:
        insn = exit.tval  # the hardware reports the trapping instruction's bits
        spec = decode(insn) if insn else None
        name = spec.name if spec else ""
        vcpu = self.domain.vcpu
        if name in CSR_OPS:
            f = spec.decode(insn)
            if not self.csrs.knows(f["csr"]):  # an M-level CSR, or one we do not have
                self.inject(K.EXC_ILLEGAL, insn)
                return
            self.emulate_csr(name, f["csr"], f["rd"], f["rs1"] if "rs1" in f else f["zimm5"])
        elif name == "sret":
            v = self.csrs
            self.emulated(insn)
            self.return_to(Mode.S if v.sstatus & K.MSTATUS_SPP else Mode.U, v.sepc)
            return
        elif name == "sfence.vma":  # the guest changed its page tables
            self.emulated(insn)
            rs1 = spec.decode(insn)["rs1"]
            self.sfence(vcpu.x[rs1] if rs1 else None)
        elif name == "wfi":
            self.emulated(insn)
            if not self.csrs.sip & self.csrs.sie:
                self.request(self.idle())  # nothing to do until the guest's timer
        else:  # mret, or an instruction no S-mode has: illegal for the guest too
            self.inject(K.EXC_ILLEGAL, insn)
            return
        vcpu.pc += 4

    def emulated(self, what: int, value: int = 0) -> None:
        """Record one emulation (``what``: the CSR number, or the instruction's bits; a
        CSR's ``value``: what the virtual CSR holds after it)."""
        self.domain.record("emulation", K.EXC_ILLEGAL, what, entry=value)

    def emulate_csr(self, op: str, number: int, rd: int, src: int) -> None:
        """csrrw/csrrs/csrrc (and their immediate forms) on the virtual CSR file."""
        v = self.csrs
        x = self.domain.vcpu.x
        value = src if op.endswith("i") else x[src]
        old = v.read(number)
        writes = op in ("csrrw", "csrrwi") or src != 0
        if writes:
            if op.startswith("csrrw"):
                new = value
            elif op.startswith("csrrs"):
                new = old | value
            else:
                new = old & ~value
            v.write(number, new)
        if rd:
            x[rd] = old
        self.emulated(number, v.read(number))
        if writes and number in SHADOW_CSRS:
            self.switch_shadow()
