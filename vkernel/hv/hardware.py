"""Hardware-assisted virtualization: the RISC-V H extension (the idea of Intel's VT-x).

The guest kernel runs in VS-mode and its programs in VU-mode: the hardware runs them at
full speed, with their own copies of the supervisor CSRs (an S-mode CSR instruction in
VS-mode reaches vsstatus, vstvec, vsatp, ...). Memory takes two stages: the guest's own
page tables (vsatp) map guest virtual to guest physical addresses, and the hypervisor's
G-stage table (hgatp) maps guest physical to machine addresses, walked by the hardware.

The hypervisor delegates to the guest everything the guest can handle itself (hedeleg,
hideleg): its system calls, its page faults and its timer interrupts never leave it. The
guest's timer is the hardware's vstimecmp (the Sstc extension), which the hypervisor sets
when the guest asks. What is left exits to the hypervisor, here:

* an SBI call (``ecall`` from VS): console, timer, shutdown (:mod:`vkernel.hv.sbi`;
  the console's buffer is read through the G-stage table);
* a guest-page fault: an access to a guest physical address with no RAM behind it, which
  is a device register: the hypervisor emulates the access (MMIO);
* a virtual-instruction exception: the guest tried something only HS-mode may do; it gets
  an illegal-instruction exception, as it would on a machine without that instruction.
"""

from __future__ import annotations

from typing import Any

from vkernel.core import kernel as K
from vkernel.devices.bus import Bus
from vkernel.devices.uart import Uart16550
from vkernel.hv.base import CONTINUE, Action, Block, HypervisorError, Shutdown, Technique
from vkernel.hv.memory import GStageTable, GuestMemory, guest_walk
from vkernel.hv.mmio import MMIOError, emulate_access, read_instruction
from vkernel.hv.pagetable import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X
from vkernel.hv.sbi import SBI
from vkernel.isa.program import Program
from vkernel.machine import Exit, Mode

INTERRUPT = 1 << 63
MASK64 = (1 << 64) - 1
WFI = 0x10500073
# the exceptions the guest handles itself: misaligned accesses, access faults, illegal
# instructions, breakpoints, ecalls from its user programs, page faults
GUEST_EXCEPTIONS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) \
    | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
GUEST_INTERRUPTS = K.MIP_VSSIP | K.MIP_VSTIP | K.MIP_VSEIP
GSTAGE_FLAGS = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D  # as GStageTable's
GUEST_PAGE_FAULTS = (K.EXC_FETCH_GUEST_PAGE, K.EXC_LOAD_GUEST_PAGE, K.EXC_STORE_GUEST_PAGE)


class HardwareAssisted(Technique):
    name = "hardware"
    hardware = True

    def boot(self, guest: Program) -> None:
        domain, m = self.domain, self.machine
        self.frames = domain.frames
        self.memory = domain.memory = GuestMemory(self.frames, ram_mb=domain.max_mb,
                                                  owner=domain.name,
                                                  populated=domain.ram_mb * 256)
        self.gstage = GStageTable(self.frames, self.memory)
        self.memory.load(guest)
        self.uart = Uart16550(on_output=domain.console_byte)  # the guest's virtual UART
        self.platform = Bus({"uart": self.uart})  # the devices on the guest's board
        self.sbi = SBI(self.set_timer, domain.console_byte, self.read_guest)
        csr = m.hart.csr
        csr["hgatp"] = self.gstage.hgatp(domain.vmid)  # its VMID tags its TLB entries
        csr["medeleg"] = K.MEDELEG_WRITABLE  # every trap below M goes to HS, which is ours
        csr["hedeleg"] = GUEST_EXCEPTIONS  # ... except what the guest handles itself
        csr["hideleg"] = GUEST_INTERRUPTS
        csr["menvcfg"] = K.MENVCFG_ADUE | K.MENVCFG_STCE
        csr["henvcfg"] = K.MENVCFG_ADUE | K.MENVCFG_STCE  # the guest's timer: vstimecmp
        csr["vstimecmp"] = -1  # far in the future until the guest sets it
        csr["mcounteren"] = csr["hcounteren"] = 0b111  # cycle, time, instret readable
        # the hypervisor owns HS and M: any trap that targets them comes back to Python
        every = set(range(24))
        irqs = {INTERRUPT | i for i in (1, 3, 5, 7, 9, 11, 12)}
        m.host_traps = every | irqs
        m.host_traps_hs = every | irqs
        m.hart.mode = Mode.VS
        m.hart.pc = guest.entry
        m.hart.x["a0"] = 0  # hart id
        m.hart.x["a1"] = 0  # no device tree

    # --- the exits ----------------------------------------------------------------------
    def handle(self, exit: Exit) -> Action:
        if exit.reason != "host-exit":
            raise HypervisorError(f"unexpected exit from the guest: {exit!r}")
        cause = exit.cause
        self.domain.record("vm_exit", cause, exit.gpa if exit.gpa is not None else exit.tval)
        if cause == K.EXC_ECALL_VS:
            return self.sbi_call()
        if cause in GUEST_PAGE_FAULTS:
            self.guest_page_fault(exit)
            return CONTINUE
        if cause == K.EXC_VIRTUAL_INSTRUCTION:
            if exit.tval == WFI and self.machine.hart.csr["hstatus"] & K.HSTATUS_VTW:
                return self.wait_for_interrupt()
            self.inject(K.EXC_ILLEGAL, exit.tval)
            return CONTINUE
        raise HypervisorError(f"the guest made an exit this hypervisor does not handle: "
                              f"{exit!r}")

    def sbi_call(self) -> Action:
        x = self.domain.vcpu.x
        ext, fid = x["a7"], x["a6"]
        error, value = self.sbi.call(ext, fid, [x[f"a{i}"] for i in range(6)])
        self.domain.record("sbi_call", ext, fid)
        x["a0"], x["a1"] = error, value
        self.domain.vcpu.pc += 4
        if self.sbi.reset is not None:
            return Shutdown(self.sbi.reset.reason)
        return CONTINUE

    # --- ballooning (vkernel.hv.balloon) -----------------------------------------------
    def balloon_interrupt(self) -> None:
        """A virtual supervisor software interrupt (hvip.VSSIP): the guest's driver runs
        once its sie.SSIE and sstatus.SIE let it (the hardware delivers it)."""
        csr = self.machine._csr if self.domain.loaded else self.domain.context.csr
        csr[K.CSR_HVIP] |= K.MIP_VSSIP

    def balloon_drop(self, gpa: int, frame: int) -> None:
        """No G-stage leaf for the page any more, and no TLB entry from one: the guest's
        next access to it is a guest-page fault (an access fault for the guest)."""
        self.gstage.unmap(gpa)
        self.machine.hart.flush_tlb()  # HFENCE.GVMA (all of it: the TLB has no VMID flush)

    def balloon_add(self, gpa: int, frame: int) -> None:
        self.gstage.map(gpa, frame, GSTAGE_FLAGS)

    # --- sharing the CPU --------------------------------------------------------------
    def on_share(self, shared: bool) -> None:
        """Alone on the CPU, the guest's ``wfi`` sleeps inside the hardware until its
        timer (as KVM can leave HLT to a guest with a CPU of its own). Sharing it, the
        hypervisor sets hstatus.VTW, so that a ``wfi`` exits and another domain can run
        while this one waits."""
        csr = self.machine.hart.csr
        vtw = K.HSTATUS_VTW if shared else 0
        csr["hstatus"] = (csr["hstatus"] & ~K.HSTATUS_VTW) | vtw

    def wait_for_interrupt(self) -> Action:
        """The guest's ``wfi`` (trapped by VTW): done at once if one of its interrupts is
        pending and enabled, or else the vCPU blocks until its timer (vstimecmp)."""
        hart, csr = self.machine.hart, self.machine.hart.csr
        hart.pc += 4
        div = self.machine.time_divider
        cmp = (csr["vstimecmp"] - csr["htimedelta"]) & MASK64
        timer_due = cmp < (1 << 62) // div and hart.mtime >= cmp
        pending = csr["hvip"] | (K.MIP_VSTIP if timer_due else 0)
        if pending & csr["mie"] & GUEST_INTERRUPTS:
            return CONTINUE
        return Block(timer=cmp * div) if cmp < (1 << 62) // div else Block(None)

    def read_guest(self, gpa: int, n: int) -> bytes | None:
        """The guest's ``n`` bytes at guest-physical ``gpa`` for SBI ``console_write``,
        each page found through the G-stage table as the hardware would; ``None`` (and
        nothing read) when any page of the range is not mapped there."""
        if n > self.memory.size:
            return None  # more than all its RAM: no need to walk
        pieces, end = [], gpa + n
        while gpa < end:
            machine = self.gstage.translate(gpa)
            if machine is None:
                return None
            chunk = min(end - gpa, 0x1000 - gpa % 0x1000)
            pieces.append((machine, chunk))
            gpa += chunk
        return b"".join(self.machine.mem.read(ma, k) for ma, k in pieces)

    def set_timer(self, when: int) -> None:
        """SBI set_timer: the hardware raises the guest's timer interrupt (VSTIP) when its
        time reaches vstimecmp; a later value clears a pending one, as SBI requires."""
        self.machine.hart.csr["vstimecmp"] = when

    def guest_page_fault(self, exit: Exit) -> None:
        gpa = exit.gpa
        assert gpa is not None
        found = self.platform.find(gpa)
        if found is not None and exit.cause != K.EXC_FETCH_GUEST_PAGE:
            self.emulate_mmio(exit, found[1], found[2])
            return
        # no RAM and no device there: the guest sees an access fault, as on real hardware
        access = {K.EXC_FETCH_GUEST_PAGE: K.EXC_FETCH_ACCESS,
                  K.EXC_LOAD_GUEST_PAGE: K.EXC_LOAD_ACCESS,
                  K.EXC_STORE_GUEST_PAGE: K.EXC_STORE_ACCESS}[exit.cause]
        self.inject(access, exit.tval)

    # --- emulation ----------------------------------------------------------------------
    def fetch_instruction(self) -> tuple[int, int]:
        """The instruction at the guest's pc, read through its page tables as the hardware
        fetched it: (bits, length in bytes)."""
        hart = self.machine.hart
        user = hart.mode == Mode.VU
        vsatp = hart.csr["vsatp"]

        pages: dict[int, int] = {}  # both halves on one page: one walk

        def half(va: int) -> int:
            if va >> 12 not in pages:
                t = guest_walk(self.memory, vsatp, va, K.ACC_FETCH, user=user)
                if t.gpa is None:
                    raise HypervisorError(f"cannot read the guest's instruction at {va:#x}")
                pages[va >> 12] = t.gpa - va % 4096
            return int.from_bytes(self.memory.read(pages[va >> 12] + va % 4096, 2), "little")

        return read_instruction(half, hart.pc)

    def emulate_mmio(self, exit: Exit, device: Any, offset: int) -> None:
        """Do the device access the trapped load or store meant, then step past it."""
        insn, length = self.fetch_instruction()
        try:
            emulate_access(insn, self.domain.vcpu.x, device, offset)
        except MMIOError as e:
            raise HypervisorError(f"cannot emulate the guest's device access: {e}") from None
        self.domain.record("mmio", exit.cause, exit.gpa or 0)
        self.domain.vcpu.pc += length

    def inject(self, cause: int, tval: int) -> None:
        """Make the guest take an exception, exactly as the hardware would have if the trap
        had been delegated to VS: the guest's own CSRs, then its trap vector."""
        hart = self.machine.hart
        csr = hart.csr
        vsstatus = csr["vsstatus"]
        sie = vsstatus & K.MSTATUS_SIE
        vsstatus &= ~(K.MSTATUS_SIE | K.MSTATUS_SPIE | K.MSTATUS_SPP)
        if sie:
            vsstatus |= K.MSTATUS_SPIE
        if hart.mode == Mode.VS:
            vsstatus |= K.MSTATUS_SPP
        csr["vsepc"] = hart.pc
        csr["vscause"] = cause
        csr["vstval"] = tval
        csr["vsstatus"] = vsstatus
        self.domain.record("injection", cause, tval)
        hart.mode = Mode.VS
        hart.pc = csr["vstvec"] & ~3

    def virtual_csrs(self) -> dict[str, int]:
        """The guest's supervisor CSRs: in hardware, its VS copies."""
        csr = self.machine.hart.csr
        return {name: csr["v" + name] for name in ("sstatus", "sie", "sip", "stvec",
                                                   "sscratch", "sepc", "scause", "stval",
                                                   "satp")}
