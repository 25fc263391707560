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

**Without a G-stage** (``paging="shadow"``), as on first-generation VT-x and AMD-V (2005-06),
which virtualized the CPU but not the MMU: hgatp is Bare, so the VS-stage is the only
translation and must map guest virtual addresses straight to *machine* ones. The hypervisor
points vsatp at a shadow table of its own (:mod:`vkernel.hv.shadow`, ``vs_stage=True``) and
keeps the guest's satp itself: it sets hstatus.VTVM, so that the guest's ``csrr/csrw satp``
and ``sfence.vma`` raise virtual-instruction exceptions, which it emulates (switching
shadows, flushing the TLB); the shadows are kept in step with the guest's tables as the
software techniques keep theirs (``shadow=``: write-protected tables by default). The guest's
page faults are no longer delegated: each comes here, the
hypervisor walks the guest's own table and reflects a true fault, emulates a device, or
fills the shadow (a *hidden* fault). Everything else (system calls, sret, interrupts) still
runs in hardware, but every hidden fault, address-space switch and TLB flush is now a full
VM exit: why binary translation beat first-generation hardware on page-table-heavy work
(Adams & Agesen, 2006), and why nested paging (EPT, NPT: the G-stage) followed.
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
from vkernel.hv.shadow import ShadowMMU, ShadowTable
from vkernel.isa.decode import decode
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
# paging="shadow": the VS-stage walks the hypervisor's shadow, so its page faults are ours
PAGE_FAULT_ACCESS = {K.EXC_FETCH_PAGE: K.ACC_FETCH, K.EXC_LOAD_PAGE: K.ACC_LOAD,
                     K.EXC_STORE_PAGE: K.ACC_STORE}
ACCESS_FAULT = {K.ACC_FETCH: K.EXC_FETCH_ACCESS, K.ACC_LOAD: K.EXC_LOAD_ACCESS,
                K.ACC_STORE: K.EXC_STORE_ACCESS}
SHADOW_EXCEPTIONS = GUEST_EXCEPTIONS & ~sum(1 << c for c in PAGE_FAULT_ACCESS)
CSR_OPS = ("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci")


class HardwareAssisted(Technique):
    name = "hardware"
    hardware = True

    def boot(self, guest: Program) -> None:
        domain, m = self.domain, self.machine
        self.frames = domain.frames
        self.memory = domain.memory = GuestMemory(self.frames, ram_mb=domain.max_mb,
                                                  owner=domain.name,
                                                  populated=domain.ram_mb * 256)
        self.memory.load(guest)
        self.uart = Uart16550(on_output=domain.console_byte)  # the guest's virtual UART
        self.platform = Bus({"uart": self.uart})  # the devices on the guest's board
        self.sbi = SBI(self.set_timer, domain.console_byte, self.read_guest)
        csr = m.hart.csr
        csr["medeleg"] = K.MEDELEG_WRITABLE  # every trap below M goes to HS, which is ours
        csr["hideleg"] = GUEST_INTERRUPTS
        self.shadowed = domain.paging == "shadow"
        if self.shadowed:
            # no G-stage: the VS-stage walks shadows (guest virtual -> machine) of ours,
            # tagged with ASIDs from the domain's block (with hgatp Bare the VMID is 0)
            self.gstage: GStageTable | None = None
            self.shadow = ShadowMMU(self.frames, self.memory, asid_base=domain.asid_base,
                                    vs_stage=True,
                                    write_protect=domain.shadow == "write-protect",
                                    record=domain.record)
            self.satp = 0  # the guest's satp, as it believes it is: kept here, never loaded
            csr["hgatp"] = 0
            csr["hstatus"] = K.HSTATUS_VTVM  # its satp and sfence.vma trap to us
            csr["hedeleg"] = SHADOW_EXCEPTIONS  # its page faults are faults on the shadow
            csr["vsatp"] = self.current_shadow().satp  # never Bare: always a shadow
            # (henvcfg.ADUE may stay on: shadow entries have A and D set already, so the
            # hardware never writes them; the guest's own A/D bits are set in shadow_page_fault)
        else:
            self.gstage = GStageTable(self.frames, self.memory)
            csr["hgatp"] = self.gstage.hgatp(domain.vmid)  # its VMID tags its TLB entries
            csr["hedeleg"] = GUEST_EXCEPTIONS  # ... except what the guest handles itself
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
        if cause in PAGE_FAULT_ACCESS and self.shadowed:
            self.shadow_page_fault(exit)
            return CONTINUE
        if cause == K.EXC_VIRTUAL_INSTRUCTION:
            if exit.tval == WFI and self.machine.hart.csr["hstatus"] & K.HSTATUS_VTW:
                return self.wait_for_interrupt()
            if self.shadowed and self.machine.hart.mode == Mode.VS \
                    and self.emulate_vtvm(exit.tval):
                return CONTINUE
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
        next access to it is a guest-page fault (an access fault for the guest). Under
        paging="shadow", the page's shadow entries go (see Deprivileged.balloon_drop):
        its next access is a fault on the shadow whose walk ends outside its RAM."""
        if self.gstage is None:
            self.drop_shadows_of(gpa)
            return
        self.gstage.unmap(gpa)
        self.machine.hart.flush_tlb(vmid=self.domain.vmid)  # HFENCE.GVMA of its VMID

    def balloon_add(self, gpa: int, frame: int) -> None:
        if self.gstage is not None:  # (shadows are filled when the guest touches it)
            self.gstage.map(gpa, frame, GSTAGE_FLAGS)

    # --- page sharing (vkernel.hv.sharing): nested paging only -------------------------
    def share_map(self, gpa: int, frame: int) -> None:
        """A G-stage leaf without W: the guest's next store there (or its MMU's A/D update,
        if the page is one of its tables) is a guest-page fault for us. Without a G-stage,
        the shadow entries of the page go (they refill read-only: ShadowMMU.fill)."""
        if self.gstage is None:
            self.drop_shadows_of(gpa)
            return
        self.gstage.map(gpa, frame, GSTAGE_FLAGS & ~PTE_W)
        self.machine.hart.flush_tlb(vmid=self.domain.vmid)  # HFENCE.GVMA: the old frame

    def unshare_map(self, gpa: int, frame: int) -> None:
        if self.gstage is None:
            self.drop_shadows_of(gpa)
            return
        self.gstage.map(gpa, frame, GSTAGE_FLAGS)
        self.machine.hart.flush_tlb(vmid=self.domain.vmid)

    def swap_drop(self, gpa: int) -> None:
        """No G-stage leaf (its next access is a guest-page fault for us), or no shadow
        entries."""
        if self.gstage is None:
            self.drop_shadows_of(gpa)
            return
        self.gstage.unmap(gpa)
        self.machine.hart.flush_tlb(vmid=self.domain.vmid)

    def swap_map(self, gpa: int, frame: int) -> None:
        if self.gstage is not None:
            self.gstage.map(gpa, frame, GSTAGE_FLAGS)

    def drop_shadows_of(self, gpa: int) -> None:
        """paging="shadow": drop the shadow entries that map ``gpa`` (all of them without
        a reverse map), the vCPU loaded or not."""
        if self.shadow.drop_page(gpa):
            return
        self.shadow.flush()
        self.machine.hart.flush_tlb(vmid=0)
        root = self.current_shadow().satp
        if self.domain.loaded:
            self.machine.hart.csr["vsatp"] = root
        else:
            self.domain.context.csr[K.CSR_VSATP] = root - (1 << 64)  # (int64: mode 8)

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
        each page found through the G-stage table as the hardware would (through the p2m
        under paging="shadow"); ``None`` (and nothing read) when any page of the range is
        not mapped there."""
        if self.gstage is None:  # no G-stage: the p2m is the only map there is
            return self.memory.read_or_none(gpa, n)
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
        if gpa & ~0xFFF in self.memory.shared:  # a store (or an A/D update) to a shared
            self.copy_on_write(gpa)               # page: a private copy; the access retries
            return
        if gpa & ~0xFFF in self.memory.swapped:  # in the host's swap file: read it back
            self.memory.machine_address(gpa)
            return
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
        satp = self.guest_satp

        pages: dict[int, int] = {}  # both halves on one page: one walk

        def half(va: int) -> int:
            if va >> 12 not in pages:
                if self.shadowed:  # a software walk of the hypervisor's: recorded
                    t = self.shadow.walk(satp, va, K.ACC_FETCH, user=user)
                    self.shadow.record_walk(t, va, satp, K.EXC_FETCH_PAGE)
                else:
                    t = guest_walk(self.memory, satp, va, K.ACC_FETCH, user=user)
                if t.gpa is None or t.gpa not in self.memory:
                    raise HypervisorError(f"cannot read the guest's instruction at {va:#x}")
                pages[va >> 12] = t.gpa - va % 4096
            return int.from_bytes(self.memory.read(pages[va >> 12] + va % 4096, 2), "little")

        return read_instruction(half, hart.pc)

    def emulate_mmio(self, exit: Exit, device: Any, offset: int, *,
                     gpa: int | None = None) -> None:
        """Do the device access the trapped load or store meant, then step past it
        (``gpa``: the device address, when the exit does not carry it)."""
        insn, length = self.fetch_instruction()
        try:
            emulate_access(insn, self.domain.vcpu.x, device, offset)
        except MMIOError as e:
            raise HypervisorError(f"cannot emulate the guest's device access: {e}") from None
        self.domain.record("mmio", exit.cause, gpa or exit.gpa or 0)
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
        out = {name: csr["v" + name] for name in ("sstatus", "sie", "sip", "stvec",
                                                  "sscratch", "sepc", "scause", "stval",
                                                  "satp")}
        out["satp"] = self.guest_satp  # (under paging="shadow", vsatp is the shadow's)
        return out

    # --- paging="shadow": first-generation hardware assistance --------------------------
    @property
    def guest_satp(self) -> int:
        """The satp the guest wrote: vsatp with a G-stage; the hypervisor's copy without
        (vsatp then holds the shadow's)."""
        return self.satp if self.shadowed else self.machine.hart.csr["vsatp"]

    def current_shadow(self) -> ShadowTable:
        """The shadow of the guest's current address space: one for all its modes (the
        VS-stage checks U, SUM and MXR against the guest's own vsstatus)."""
        return self.shadow.table(self.satp, False, False, False)

    def switch_shadow(self) -> None:
        """Point vsatp at the shadow of the guest's current address space."""
        self.machine.hart.csr["vsatp"] = self.current_shadow().satp

    def flush_shadow(self) -> None:
        """Forget every shadow, and what the TLB cached of them: the guest translations
        of VMID 0, which is what hgatp Bare tags them with (hfence.vvma)."""
        self.shadow.flush()
        self.machine.hart.flush_tlb(vmid=0)
        self.switch_shadow()

    def invalidate_shadow(self, va: int) -> None:
        """The guest's ``sfence.vma va``: drop that page from the shadows and the TLB, or
        everything when one page is not enough (see ShadowMMU.invalidate)."""
        if self.shadow.invalidate(va):
            self.machine.hart.flush_tlb(va, vmid=0)
        else:
            self.flush_shadow()

    def emulate_vtvm(self, insn: int) -> bool:
        """What hstatus.VTVM trapped: a CSR instruction on satp, or ``sfence.vma``,
        emulated against the hypervisor's copy of the guest's satp and its shadows. False
        for any other instruction (the guest gets an illegal-instruction exception)."""
        spec = decode(insn) if insn else None
        name = spec.name if spec else ""
        x = self.domain.vcpu.x
        if name in CSR_OPS:
            f = spec.decode(insn)
            if f["csr"] != K.CSR_SATP:
                return False
            src = f["rs1"] if "rs1" in f else f["zimm5"]
            value = src if name.endswith("i") else x[src]
            old = self.satp
            if name in ("csrrw", "csrrwi") or src != 0:  # csrrs/csrrc x0 only read
                new = value if name.startswith("csrrw") else \
                    old | value if name.startswith("csrrs") else old & ~value
                self.satp = satp_warl(old, new)
            if f["rd"]:
                x[f["rd"]] = old
            self.domain.record("emulation", K.EXC_VIRTUAL_INSTRUCTION, K.CSR_SATP,
                               entry=self.satp)
            if self.satp != old:
                self.switch_shadow()
        elif name == "sfence.vma":
            self.domain.record("emulation", K.EXC_VIRTUAL_INSTRUCTION, insn)
            rs1 = spec.decode(insn)["rs1"]
            if self.shadow.write_protect:  # the shadows are in step: only the TLB forgets
                self.machine.hart.flush_tlb(x[rs1] if rs1 else None, vmid=0)
            elif rs1:
                self.invalidate_shadow(x[rs1])
            else:
                self.flush_shadow()
        else:
            return False
        self.domain.vcpu.pc += 4
        return True

    def shadow_page_fault(self, exit: Exit) -> None:
        """The VS-stage faulted on the shadow: ask the shadows what the fault was
        (:meth:`~vkernel.hv.shadow.ShadowMMU.resolve` walks the guest's own table with
        its satp, mode, SUM and MXR) and act on it, as the software techniques do: a
        fault the guest's tables make is reflected; an access outside its RAM is a
        device (emulated) or nothing (an access fault); a store to one of its
        write-protected page tables is emulated; anything else was a hidden fault, and
        the shadow has been filled."""
        va, access = exit.tval, PAGE_FAULT_ACCESS[exit.cause]
        vsstatus = self.machine.hart.csr["vsstatus"]
        if self.shadow.full():  # (see shadow.SHADOW_POOL)
            self.flush_shadow()
        r = self.shadow.resolve(self.current_shadow(), self.satp, va, access,
                                user=self.machine.hart.mode == Mode.VU,
                                sum_=bool(vsstatus & K.MSTATUS_SUM),
                                mxr=bool(vsstatus & K.MSTATUS_MXR))
        if r.kind == "guest":
            self.inject(r.cause, va)
        elif r.kind == "outside":
            found = self.platform.find(r.gpa)
            if found is not None and access != K.ACC_FETCH:
                self.emulate_mmio(exit, found[1], found[2], gpa=r.gpa)
            else:
                self.inject(ACCESS_FAULT[access], va)
        elif r.kind == "write-protect":
            insn, length = self.fetch_instruction()
            if self.shadow.emulate_write(r, insn, self.domain.vcpu.x, exit.cause):
                self.domain.vcpu.pc += length
                return
            # unshadowed: the store runs as it is, through a fresh entry
            again = self.shadow.resolve(self.current_shadow(), self.satp, va, access,
                                        user=self.machine.hart.mode == Mode.VU,
                                        sum_=bool(vsstatus & K.MSTATUS_SUM),
                                        mxr=bool(vsstatus & K.MSTATUS_MXR))
            if again.kind != "filled":  # the store's own walk goes through that page
                raise HypervisorError(f"cannot emulate the guest's store to its page "
                                      f"table at {r.gpa:#x}")
        # else a hidden fault: the shadow has the entry now (resolve recorded its walk and
        # the shadow_update)

def satp_warl(old: int, new: int) -> int:
    """satp's write rule (as the hart's): Bare reads as 0, Sv39 is kept whole, and any other
    mode leaves satp as it was."""
    new &= MASK64
    mode = new >> 60
    if mode == 0:
        return 0
    return new if mode == K.SATP_MODE_SV39 else old
