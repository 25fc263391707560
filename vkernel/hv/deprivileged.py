"""What the software techniques share: the guest kernel runs deprivileged, in U-mode.

Trap-and-emulate, binary translation and para-virtualization all run the guest kernel in
the machine's U-mode ("ring compression") and keep every trap for the hypervisor: the
machine delegates nothing (medeleg = mideleg = 0), and the hypervisor owns M-mode, where
every trap lands. The guest kernel still believes it runs in S-mode, so the hypervisor
keeps the CPU state it would have there, the *virtual CPU*:

* the virtual privilege mode (S for the guest kernel, U for its programs), and
* the guest's supervisor CSRs (:class:`VirtualCSRs`: sstatus, stvec, sepc, satp, ...),

and it makes the machine behave as a real one would for that state. A trap from the guest
that its kernel should see is *reflected*: the hypervisor writes the virtual scause, sepc
and stval and jumps to the guest's stvec (:meth:`Deprivileged.inject`). The guest's timer
is the machine's (mtimecmp): its interrupt exits to the hypervisor, which marks the guest's
virtual STIP and delivers it when the guest's virtual sstatus.SIE allows. Memory goes
through shadow page tables (:mod:`vkernel.hv.shadow`).

What differs between the three techniques is how the guest kernel's *sensitive*
instructions (those that read or change this state) reach the hypervisor: they trap
(trap_emulate.py), they are rewritten (binary_translation.py), or the guest was rewritten
to ask with hypercalls instead (paravirt.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from vkernel.core import kernel as K
from vkernel.devices.bus import Bus
from vkernel.devices.uart import Uart16550
from vkernel.hv.base import CONTINUE, Action, Block, HypervisorError, Shutdown, Technique
from vkernel.hv.memory import GuestMemory, guest_walk
from vkernel.hv.mmio import MMIOError, emulate_access, read_instruction
from vkernel.hv.sbi import SBI
from vkernel.hv.shadow import Resolution, ShadowMMU, ShadowTable
from vkernel.isa.program import Program
from vkernel.machine import Exit, Mode

INTERRUPT = 1 << 63
MASK64 = (1 << 64) - 1
PAGE_FAULT_ACCESS = {K.EXC_FETCH_PAGE: K.ACC_FETCH, K.EXC_LOAD_PAGE: K.ACC_LOAD,
                     K.EXC_STORE_PAGE: K.ACC_STORE}
ACCESS_FAULT = {K.ACC_FETCH: K.EXC_FETCH_ACCESS, K.ACC_LOAD: K.EXC_LOAD_ACCESS,
                K.ACC_STORE: K.EXC_STORE_ACCESS}
# the S-level interrupts a guest can have, by the spec's priority
GUEST_IRQS = (K.IRQ_SEI, K.IRQ_SSI, K.IRQ_STI)


@dataclass
class VirtualCSRs:
    """The guest kernel's supervisor CSRs, as it believes them to be. ``read`` and
    ``write`` follow the same WARL rules as the hardware's (vkernel.core.kernel)."""

    sstatus: int = 0
    sie: int = 0
    sip: int = 0
    stvec: int = 0
    sscratch: int = 0
    sepc: int = 0
    scause: int = 0
    stval: int = 0
    satp: int = 0
    scounteren: int = 0
    senvcfg: int = 0

    NUMBERS = {K.CSR_SSTATUS: "sstatus", K.CSR_SIE: "sie", K.CSR_SIP: "sip",
               K.CSR_STVEC: "stvec", K.CSR_SSCRATCH: "sscratch", K.CSR_SEPC: "sepc",
               K.CSR_SCAUSE: "scause", K.CSR_STVAL: "stval", K.CSR_SATP: "satp",
               K.CSR_SCOUNTEREN: "scounteren", K.CSR_SENVCFG: "senvcfg"}

    def knows(self, number: int) -> bool:
        return number in self.NUMBERS

    def read(self, number: int) -> int:
        value = getattr(self, self.NUMBERS[number])
        if number == K.CSR_SSTATUS:
            value |= 2 << 32  # UXL: 64-bit user mode
        return value

    def write(self, number: int, value: int) -> None:
        name = self.NUMBERS[number]
        value &= MASK64
        if name == "sstatus":
            value &= K.SSTATUS_WRITABLE
        elif name == "sie":
            value &= K.MIDELEG_WRITABLE  # SSIE, STIE, SEIE
        elif name == "sip":
            value = (self.sip & ~K.MIP_SSIP) | (value & K.MIP_SSIP)  # only SSIP is writable
        elif name in ("stvec",):
            if value & 3 >= 2:
                value = (value & ~3) | (self.stvec & 3)
        elif name == "sepc":
            value &= ~1
        elif name == "satp":
            mode = value >> 60
            if mode not in (0, K.SATP_MODE_SV39):
                return  # an unsupported mode: the write has no effect
            if mode == 0:
                value = 0
        elif name == "scounteren":
            value &= 0xFFFF_FFFF
        elif name == "senvcfg":
            value &= K.MENVCFG_FIOM
        setattr(self, name, value)


class Deprivileged(Technique):
    """The base of the software techniques (see the module's docstring)."""

    def boot(self, guest: Program) -> None:
        self.give_memory(guest)
        self.shadow = ShadowMMU(self.frames, self.memory, asid_base=self.domain.asid_base,
                                write_protect=self.domain.shadow == "write-protect",
                                record=self.domain.record, restrict=self.fill_flags)
        self.sbi = SBI(self.set_timer, self.domain.console_byte, self.memory.read_or_none)
        self.csrs = VirtualCSRs()
        self.vmode = Mode.S  # the guest kernel starts in (virtual) S-mode
        self.deprivilege(guest.entry)
        x = self.machine.hart.x
        x["a0"] = 0  # hart id
        x["a1"] = 0  # no device tree
        self.switch_shadow()

    # --- what every deprivileged guest gets at boot (paravirt's too) --------------------
    def give_memory(self, guest: Program) -> None:
        """Its RAM (machine frames charged to the domain, mapped by a p2m), the guest
        kernel loaded there, and its virtual board's devices."""
        domain = self.domain
        self.frames = domain.frames
        self.memory = domain.memory = GuestMemory(self.frames, ram_mb=domain.max_mb,
                                                  owner=domain.name,
                                                  populated=domain.ram_mb * 256)
        self.memory.load(guest)
        self.uart = Uart16550(on_output=domain.console_byte)
        self.platform = Bus({"uart": self.uart})  # the devices on the guest's board

    def deprivilege(self, entry: int) -> None:
        """Ring compression: the guest kernel starts at ``entry`` in the machine's U-mode,
        and every trap it can cause comes to us in M."""
        m = self.machine
        csr = m.hart.csr
        csr["medeleg"] = 0  # every trap goes to M, which the hypervisor owns
        csr["mideleg"] = 0
        csr["mie"] = K.MIP_MTIP  # the machine timer carries the guest's timer
        csr["mcounteren"] = csr["scounteren"] = 0b111  # rdtime etc. work in U-mode
        m.host_traps = set(range(16)) | {INTERRUPT | i for i in (1, 3, 5, 7, 9, 11)}
        m.hart.mtimecmp = MASK64
        m.hart.mode = Mode.U
        m.hart.pc = entry

    # --- the loop's other half ----------------------------------------------------------
    def handle(self, exit: Exit) -> Action:
        if exit.reason != "host-exit":
            raise HypervisorError(f"unexpected exit from the guest: {exit!r}")
        cause = exit.cause
        self.domain.record("vm_exit", cause, exit.tval)
        if cause >> 63:
            self.machine_interrupt(cause & ~INTERRUPT)
        elif cause in PAGE_FAULT_ACCESS:
            self.page_fault(exit)
        elif cause == K.EXC_ECALL_U and self.vmode == Mode.S:
            self.kernel_ecall()
        elif cause == K.EXC_ILLEGAL and self.vmode == Mode.S:
            self.privileged_instruction(exit)
        else:  # anything else is the guest's own business: its kernel handles it
            self.inject(cause, exit.tval)
        if self.sbi.reset is not None:
            return Shutdown(self.sbi.reset.reason)
        self.deliver_interrupts()
        return self.take_request()

    def privileged_instruction(self, exit: Exit) -> None:
        """The guest kernel ran an instruction U-mode may not run. Each technique decides
        (trap-and-emulate emulates it)."""
        self.inject(K.EXC_ILLEGAL, exit.tval)

    def kernel_ecall(self) -> None:
        """An ecall from the guest kernel: an SBI call (the paravirtual guest's are
        hypercalls instead)."""
        x = self.domain.vcpu.x
        ext, fid = x["a7"], x["a6"]
        error, value = self.sbi.call(ext, fid, [x[f"a{i}"] for i in range(6)])
        self.domain.record("sbi_call", ext, fid)
        x["a0"], x["a1"] = error, value
        self.domain.vcpu.pc += 4

    # --- the virtual CPU ----------------------------------------------------------------
    def inject(self, cause: int, tval: int, *, interrupt: bool = False) -> None:
        """Reflect a trap into the guest kernel, as S-mode hardware would take it: the
        virtual scause/sepc/stval/sstatus, virtual S-mode, the guest's trap vector."""
        v = self.csrs
        v.scause = (cause | INTERRUPT) if interrupt else cause
        v.sepc = self.domain.vcpu.pc
        v.stval = tval & MASK64
        status = v.sstatus & ~(K.MSTATUS_SPP | K.MSTATUS_SPIE | K.MSTATUS_SIE)
        if v.sstatus & K.MSTATUS_SIE:
            status |= K.MSTATUS_SPIE
        if self.vmode == Mode.S:
            status |= K.MSTATUS_SPP
        v.sstatus = status
        self.vmode = Mode.S
        base = v.stvec & ~3
        if interrupt and v.stvec & 3 == 1:
            base += 4 * cause
        self.domain.vcpu.pc = base
        self.domain.record("injection", v.scause, tval)
        self.switch_shadow()

    def return_to(self, mode: Mode, pc: int) -> None:
        """sret as the hardware does it: the saved interrupt enable comes back, and the
        guest continues in ``mode`` at ``pc``."""
        v = self.csrs
        status = v.sstatus & ~(K.MSTATUS_SIE | K.MSTATUS_SPP)
        if v.sstatus & K.MSTATUS_SPIE:
            status |= K.MSTATUS_SIE
        v.sstatus = status | K.MSTATUS_SPIE
        self.vmode = mode
        self.domain.vcpu.pc = pc
        self.switch_shadow()

    def deliver_interrupts(self) -> None:
        """Inject the guest's most urgent pending interrupt, if its state allows one."""
        v = self.csrs
        ready = v.sip & v.sie
        if not ready or (self.vmode == Mode.S and not v.sstatus & K.MSTATUS_SIE):
            return
        irq = next(i for i in GUEST_IRQS if ready >> i & 1)
        self.inject(irq, 0, interrupt=True)

    def idle(self) -> Action:
        """What ``wfi`` with nothing pending means for the vCPU: it blocks until its timer
        (the machine's mtimecmp, while this domain is loaded), or, with no timer armed,
        goes on (a ``wfi`` may always complete at once)."""
        cmp = self.machine.hart.mtimecmp
        div = self.machine.time_divider
        if cmp >= (1 << 62) // div:
            return CONTINUE
        return Block(timer=cmp * div)

    def machine_interrupt(self, irq: int) -> None:
        if irq != K.IRQ_MTI:
            raise HypervisorError(f"unexpected machine interrupt {irq}")
        # the guest's timer fired: its STIP rises and stays until it sets a new time
        self.csrs.sip |= K.MIP_STIP
        self.machine.hart.mtimecmp = MASK64

    def set_timer(self, when: int) -> None:
        """SBI set_timer: the machine's own timer, and a new time clears a pending tick."""
        self.csrs.sip &= ~K.MIP_STIP
        self.machine.hart.mtimecmp = when

    # --- ballooning (vkernel.hv.balloon) -----------------------------------------------
    def balloon_interrupt(self) -> None:
        """The guest's virtual sip.SSIP: delivered (deliver_interrupts) once its virtual
        sie.SSIE and sstatus.SIE let it, at an exit."""
        self.csrs.sip |= K.MIP_SSIP

    def balloon_drop(self, gpa: int, frame: int) -> None:
        """Forget every shadow entry that maps the frame, and the TLB's copies: exactly
        those, through the reverse map, with write-protected shadows; else all of them.
        The page's next access is a hidden fault whose walk ends outside the guest's RAM:
        an access fault for the guest."""
        self.drop_shadows_of(gpa)

    # --- page sharing (vkernel.hv.sharing) ----------------------------------------------
    def share_map(self, gpa: int, frame: int) -> None:
        """The page's frame changed: no shadow entry may keep the old one (the next access
        refills, read-only while the page is shared: ShadowMMU.fill)."""
        self.drop_shadows_of(gpa)

    def unshare_map(self, gpa: int, frame: int) -> None:
        self.drop_shadows_of(gpa)

    def swap_drop(self, gpa: int) -> None:
        self.drop_shadows_of(gpa)

    def swap_map(self, gpa: int, frame: int) -> None:
        """(Shadows are filled when the guest touches it.)"""

    def drop_shadows_of(self, gpa: int) -> None:
        """Drop the shadow entries that map ``gpa``: exactly those with the reverse map,
        else every shadow (and the TLB), the vCPU loaded or not."""
        if self.shadow.drop_page(gpa):
            return
        self.shadow.flush()
        self.machine.hart.flush_tlb()
        root = self.current_shadow().satp
        if self.domain.loaded:
            self.machine.hart.csr["satp"] = root
        else:
            self.domain.context.csr[K.CSR_SATP] = root - (1 << 64)  # (int64: mode 8)

    # --- memory -------------------------------------------------------------------------
    def current_shadow(self) -> ShadowTable:
        v = self.csrs
        return self.shadow.table(v.satp, self.vmode == Mode.U,
                                 bool(v.sstatus & K.MSTATUS_SUM),
                                 bool(v.sstatus & K.MSTATUS_MXR))

    def switch_shadow(self) -> None:
        """Point the machine's satp at the shadow of the guest's current address space."""
        self.machine.hart.csr["satp"] = self.current_shadow().satp

    def flush_shadow(self) -> None:
        """Forget every shadow (and the machine's TLB)."""
        self.shadow.flush()
        self.machine.hart.flush_tlb()
        self.switch_shadow()

    def sfence(self, va: int | None) -> None:
        """The guest's ``sfence.vma`` (``va``: of one page, or None: of every one). With
        write protection the shadows are already in step (every change to the guest's
        tables trapped): only the machine's TLB forgets. Without, the shadows are stale:
        that page's entries go, or all of them."""
        if self.shadow.write_protect:
            self.machine.hart.flush_tlb(va)
        elif va is None:
            self.flush_shadow()
        else:
            self.invalidate_shadow(va)

    def invalidate_shadow(self, va: int) -> None:
        """``sfence.vma va`` without write protection: forget that page's shadow entries
        (and what the machine's TLB cached of them), or everything when one page is not
        enough."""
        if self.shadow.invalidate(va):
            self.machine.hart.flush_tlb(va)
        else:
            self.flush_shadow()

    def page_fault(self, exit: Exit) -> None:
        """The machine faulted on the shadow. Walk the guest's own tables: if they deny
        the access the fault is the guest's (reflect it); if they allow it the fault was
        hidden: a shadow entry missing (fill it), or, with write
        protection, a store to one of the guest's page tables (emulate it); if they lead
        outside the guest's RAM, it is a device (emulate) or nothing (an access fault for
        the guest). The walk is an ``hv_walk`` row when the fault was hidden (a reflected
        fault's and a device access's walks are priced in their own events): the shadows
        record it, and what they install or drop."""
        va, access = exit.tval, PAGE_FAULT_ACCESS[exit.cause]
        v = self.csrs
        if self.shadow.full():  # (see SHADOW_POOL)
            self.flush_shadow()
        r = self.shadow.resolve(self.current_shadow(), v.satp, va, access,
                                user=self.vmode == Mode.U,
                                sum_=bool(v.sstatus & K.MSTATUS_SUM),
                                mxr=bool(v.sstatus & K.MSTATUS_MXR))
        if r.kind == "guest":
            self.inject(r.cause, va)
        elif r.kind == "outside":
            if self.platform.find(r.gpa) is not None and access != K.ACC_FETCH:
                self.emulate_mmio(r.gpa, exit.cause)
            else:
                self.inject(ACCESS_FAULT[access], va)
        elif r.kind == "write-protect":
            self.emulate_table_write(exit, r)
        # else a hidden fault: the shadow has the entry now (resolve recorded its walk and
        # the shadow_update)

    def emulate_table_write(self, exit: Exit, r: Resolution) -> None:
        """A store to a write-protected guest page table (a *write-protect fault*): do the
        store for the guest (decoded from its instruction), then drop exactly the shadow
        entries derived from the entry it changed. A store we cannot emulate (a
        misaligned one, an sc) *unshadows* the page instead: every entry derived from it
        goes, and the store runs as it is."""
        insn, length = self.read_guest_instruction()
        if not self.shadow.emulate_write(r, insn, self.domain.vcpu.x, exit.cause):
            v = self.csrs
            again = self.shadow.resolve(self.current_shadow(), v.satp, exit.tval,
                                        K.ACC_STORE, user=self.vmode == Mode.U,
                                        sum_=bool(v.sstatus & K.MSTATUS_SUM),
                                        mxr=bool(v.sstatus & K.MSTATUS_MXR))
            if again.kind != "filled":  # the store's own walk goes through that page
                raise HypervisorError(f"cannot emulate the guest's store to its page "
                                      f"table at {r.gpa:#x}")
            return
        self.domain.vcpu.pc += length

    def fill_flags(self, gpa: int, flags: int, user: bool) -> int:
        """The permissions a shadow entry of the virtual mode ``user`` (U, or S) gets
        from the guest's (a technique may take some away: binary translation
        write-protects the code it has translated)."""
        return flags

    def read_guest_instruction(self) -> tuple[int, int]:
        """The bits at the guest's pc, read through its page tables: (bits, length)."""
        v = self.csrs
        pc = self.domain.vcpu.pc

        pages: dict[int, int] = {}  # both halves on one page: one walk

        def half(va: int) -> int:
            if va >> 12 not in pages:
                t = guest_walk(self.memory, v.satp, va, K.ACC_FETCH, user=self.vmode == Mode.U)
                if t.gpa is None or t.gpa not in self.memory:
                    raise HypervisorError(f"cannot read the guest's instruction at {va:#x}")
                pages[va >> 12] = t.gpa - va % 4096
            return int.from_bytes(self.memory.read(pages[va >> 12] + va % 4096, 2), "little")

        return read_instruction(half, pc)

    def emulate_mmio(self, gpa: int, cause: int = 0) -> None:
        insn, length = self.read_guest_instruction()
        try:
            _, device, offset = self.platform.find(gpa)
            emulate_access(insn, self.domain.vcpu.x, device, offset)
        except MMIOError as e:
            raise HypervisorError(f"cannot emulate the guest's device access: {e}") from None
        self.domain.record("mmio", cause, gpa)
        self.domain.vcpu.pc += length

    def virtual_csrs(self) -> dict[str, int]:
        v = self.csrs
        return {name: v.read(num) for num, name in VirtualCSRs.NUMBERS.items()} \
            | {"mode": int(self.vmode)}
