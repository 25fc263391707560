"""Para-virtualization: the guest kernel knows, and asks (Xen, 2003).

Trap-and-emulate runs an unmodified kernel and pays an exit for every sensitive instruction
it executes. Para-virtualization changes the *kernel* instead: ``kernel_pv.s`` is
``kernel.s`` with every privileged operation replaced by a request to the hypervisor, a
*hypercall* (``ecall`` with the number in ``a7``), or by a plain store to memory the two
share. The interface is Xen's classic PV ABI, adapted to RISC-V; docs/paravirt.md is its
specification and the best companion to this file.

As for trap-and-emulate (:mod:`vkernel.hv.deprivileged`), the guest kernel runs in the
machine's U-mode and every trap comes here; the hypervisor remembers the guest's *virtual*
mode (its kernel or its programs). Where the exits of trap-and-emulate go:

* **interrupts**: the guest masks its events with a byte in the shared-info page
  (``evtchn_upcall_mask``), a store that never exits. The hypervisor looks at the byte at
  every exit, and an event that comes while it is set waits, pending; after unmasking the
  guest checks ``evtchn_upcall_pending`` and makes a cheap hypercall only if something
  waits. Compare trap-and-emulate, where every ``csrc``/``csrs sstatus`` is an exit.
* **traps**: the hypervisor writes what ``scause``/``sepc``/``stval``/``sstatus`` would
  hold into a *trap frame* in the shared-info page and jumps to the guest's entry; the
  guest reads memory instead of trapping on CSR reads, and returns with one ``iret``.
* **memory**: no shadow page tables. The guest's own tables hold *machine* frame numbers
  (it has the p2m, ``mfn_list``, and its inverse, ``m2p``), and the hardware walks them
  directly: a page fault is the guest's own, never a hidden one. The guest never writes
  its tables with stores (it maps them read-only); it sends the changes, many at a time,
  with ``mmu_update``, and the hypervisor checks each one. Since the guest's kernel and
  its programs both run in U-mode, an address space has two roots, the kernel's and the
  user's (as on 64-bit Xen), and the hypervisor switches satp between them on every trap
  and ``iret``; each root has its own ASID, so that costs no TLB flush.

That last check is what keeps the guest inside its own memory, and it is the heart of this
file (:meth:`Paravirtual.check_entry`, :meth:`Paravirtual.make_table`). Xen's rules,
simplified:

* every leaf maps a frame of this guest, 4 KiB only, with U (the guest runs in U-mode);
* a frame that is a page table (Xen: has a page-table *type*) is never mapped writable, so
  that no store can change a table behind the hypervisor's back; to know, the hypervisor
  counts each frame's writable mappings in validated tables;
* a table has one level while it is one: a level-0 table reused as a root would turn its
  leaves into gigapages that reach outside the guest;
* a frame is a table while something holds it as one (Xen's type count: validated
  pointers to it, a pin, being a loaded root); with the last reference gone it is
  released (:meth:`Paravirtual.release_table`) and may be mapped writable again.

The price: the kernel had to be rewritten, and kept in step with its native twin.

>>> from vkernel.hv import VM
>>> vm = VM("irq-mask", "paravirt", n=100)
>>> vm.run().reason
'shutdown'
>>> vm.console.splitlines()[-2]
'[1] irq-mask: 100 done'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from vkernel.core import kernel as K
from vkernel.hv.base import CONTINUE, Action, Block, HypervisorError, Shutdown, Yield
from vkernel.hv.deprivileged import (
    INTERRUPT,
    MASK64,
    PAGE_FAULT_ACCESS,
    Deprivileged,
)
from vkernel.hv.memory import GUEST_RAM_BASE, INVALID_FRAME
from vkernel.hv.mmio import read_instruction
from vkernel.hv.pagetable import (
    PAGE,
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_R,
    PTE_U,
    PTE_V,
    PTE_W,
    PTE_X,
    pte_page,
    walk,
)
from vkernel.hv.shadow import ASIDS_PER_DOMAIN, ShadowTable
from vkernel.isa.program import Program
from vkernel.machine import Exit, Mode

# --- the pages the hypervisor gives the guest (pseudo-physical = guest virtual at boot) ---
START_INFO = GUEST_RAM_BASE             # magic, nr_pages, and where the others are
SHARED_INFO = GUEST_RAM_BASE + 0x1000   # events and the trap frame
MFN_LIST = GUEST_RAM_BASE + 0x2000      # pseudo-physical frame -> machine frame (p2m)
GUEST_RESERVED_END = GUEST_RAM_BASE + 0x20_0000  # the guest kernel starts here
MAGIC = b"vkpv-1.0"
# start info fields (u64; the magic at 0)
START_NR_PAGES, START_SHARED_INFO, START_MFN_LIST = 8, 16, 24
START_M2P, START_M2P_FIRST, START_NR_M2P = 32, 40, 48
M2P_INVALID = MASK64  # an m2p entry for a machine frame that is not the guest's

# shared info fields
UPCALL_PENDING = 0  # u8: an event waits
UPCALL_MASK = 1     # u8: 1 = events masked (the guest's "interrupts off")
EVTCHN_PENDING = 8  # u64: one bit per port
MEMORY_TARGET = 16  # u64: the pages the host wants the guest to have (its balloon's target)
TF_CAUSE, TF_EPC, TF_TVAL, TF_STATUS, TF_SP, TF_A7 = 64, 72, 80, 88, 96, 104  # trap frame
STATUS_SPP = K.MSTATUS_SPP    # bit 8: the trap came from the guest kernel
STATUS_SPIE = K.MSTATUS_SPIE  # bit 5: events were unmasked
TIMER_PORT = 0
BALLOON_PORT = 1  # "look at MEMORY_TARGET" (Xen: a XenStore watch on memory/target)
EVENT_TIMER = K.IRQ_STI  # the trap frame's cause for an event on the timer's port ...
EVENT_OTHER = K.IRQ_SEI  # ... and on any other port
NR_PORTS = 64

# errors, Linux/Xen numbers, returned negated
EPERM, EFAULT, EINVAL, ENOSYS = 1, 14, 22, 38

# hypercall numbers (a7) -> the method that answers them, named as in Xen
HYPERCALLS = {0: "set_trap_table", 1: "mmu_update", 3: "stack_switch", 12: "memory_op",
              15: "set_timer_op",
              17: "xen_version", 18: "console_io", 20: "grant_table_op", 23: "iret",
              26: "mmuext_op", 29: "sched_op", 32: "event_channel_op"}
# mmuext_op commands
MMUEXT_PIN_L3_TABLE = 2  # Xen counts levels from 1 at the leaves: an Sv39 root is an L3
MMUEXT_UNPIN_TABLE = 4
MMUEXT_NEW_BASEPTR = 5
MMUEXT_TLB_FLUSH_LOCAL = 6
MMUEXT_INVLPG_LOCAL = 7
MMUEXT_NEW_USER_BASEPTR = 15
# memory_op commands (Xen's XENMEM_*), and the domain a guest names itself by
XENMEM_INCREASE_RESERVATION = 0
XENMEM_DECREASE_RESERVATION = 1
XENMEM_CURRENT_RESERVATION = 3
XENMEM_MAXIMUM_RESERVATION = 4
XENMEM_POPULATE_PHYSMAP = 6
DOMID_SELF = 0x7FF0
# other sub-commands
CONSOLEIO_WRITE = 0
GNTTABOP_QUERY_SIZE = 6
SCHEDOP_YIELD, SCHEDOP_BLOCK, SCHEDOP_SHUTDOWN = 0, 1, 2
EVTCHNOP_SEND = 4
XEN_VERSION = 1 << 16  # "1.0"

ROOT = 2  # the level of an Sv39 root table; its children are level 1, then 0 (leaves)
# bits a pointer to the next level may not have: W without R is reserved, and the spec
# keeps U, A and D of non-leaf entries for the future (G would make the subtree global)
POINTER_FORBIDDEN = PTE_W | PTE_U | PTE_A | PTE_D | PTE_G


class Paravirtual(Deprivileged):
    """The hypervisor side of docs/paravirt.md. One method per hypercall, named after
    Xen's; :meth:`handle` is the run loop's other half."""

    name = "paravirt"

    # --- boot ---------------------------------------------------------------------------
    def boot(self, guest: Program) -> None:
        # no shadow tables, no SBI, no virtual CSRs: the guest asks by hypercall instead
        self.give_memory(guest)
        self.write_start_info()
        # The guest starts with paging on, in a table of ours: its RAM at the same virtual
        # addresses, R W X U. It has no table of its own yet; the first NEW_BASEPTR drops
        # this one. (Built like a shadow table: hypervisor frames, 4 KiB leaves.)
        self.boot_table: ShadowTable | None = ShadowTable(self.frames, [],
                                                          asid=self.domain.asid_base)
        for i, mfn in enumerate(self.memory.p2m):
            if mfn != INVALID_FRAME:  # (a page that starts ballooned out: a hole)
                self.boot_table.map(self.memory.base + i * PAGE, int(mfn),
                                    PTE_R | PTE_W | PTE_X)
        # the page-table bookkeeping (see make_table)
        self.level: dict[int, int] = {}        # machine frame -> its level, once a table
        self.writable: Counter[int] = Counter()  # machine frame -> writable leaves to it
        self.mapped: Counter[int] = Counter()  # machine frame -> leaves to it (any kind)
        # a table's type count (Xen's): the validated pointers to it, its pin, and being a
        # loaded root; when all are gone it stops being a page table (release_table)
        self.refs: Counter[int] = Counter()    # machine frame -> validated pointers to it
        self.pinned: set[int] = set()          # roots pinned by MMUEXT_PIN_L3_TABLE
        self.released = 0                      # tables that stopped being tables
        self.asids: dict[int, int] = {}        # root frame -> the ASID it runs with
        # the virtual CPU
        self.vmode = Mode.S
        self.trap_entry = 0     # set_trap_table
        self.kernel_sp = 0      # stack_switch
        self.kernel_root: int | None = None  # NEW_BASEPTR: loaded in the guest's kernel
        self.user_root: int | None = None    # NEW_USER_BASEPTR: loaded in its programs
        self.deprivilege(guest.entry)  # the machine timer carries set_timer_op
        self.machine.hart.x["a0"] = START_INFO  # its virtual address: the boot table maps it
        self.load_root()

    def write_start_info(self) -> None:
        """start info, shared info (events masked, as sstatus.SIE is 0 at reset), mfn_list
        and m2p, in the guest's reserved first 2 MiB (where a native board has firmware)."""
        mem, nr_pages = self.memory, len(self.memory.p2m)
        m2p = MFN_LIST + -(-8 * nr_pages // PAGE) * PAGE
        first = K.RAM_BASE // PAGE
        count = self.machine.mem.size // PAGE
        if m2p + 8 * count > GUEST_RESERVED_END:
            raise HypervisorError(f"the m2p table for {count} machine frames does not fit "
                                  f"below {GUEST_RESERVED_END:#x}: give the machine less RAM")
        table = np.full(count, M2P_INVALID, np.uint64)
        for i, mfn in enumerate(mem.p2m):
            if mfn != INVALID_FRAME:
                table[int(mfn) // PAGE - first] = mem.base // PAGE + i
        mem.write(m2p, table.tobytes())
        self.m2p_va, self.m2p_first = m2p, first
        # a hole's entry is all ones (INVALID_FRAME // PAGE is -1): Xen's INVALID_MFN
        mem.write(MFN_LIST, (mem.p2m // PAGE).astype(np.uint64).tobytes())
        fields = {START_NR_PAGES: nr_pages, START_SHARED_INFO: SHARED_INFO,
                  START_MFN_LIST: MFN_LIST, START_M2P: m2p, START_M2P_FIRST: first,
                  START_NR_M2P: count}
        mem.write(START_INFO, MAGIC)
        for offset, value in fields.items():
            mem.write_u64(START_INFO + offset, value)
        mem.write(SHARED_INFO, bytes(PAGE))
        mem.write(SHARED_INFO + UPCALL_MASK, b"\1")
        mem.write_u64(SHARED_INFO + MEMORY_TARGET, mem.populated)

    # --- the loop's other half ----------------------------------------------------------
    def handle(self, exit: Exit) -> Action:
        if exit.reason != "host-exit":
            raise HypervisorError(f"unexpected exit from the guest: {exit!r}")
        cause = exit.cause
        self.domain.record("vm_exit", cause, exit.tval)
        if cause >> 63:
            self.machine_interrupt(cause & ~INTERRUPT)
        elif cause == K.EXC_ECALL_U and self.vmode == Mode.S:
            self.hypercall()
        elif cause in PAGE_FAULT_ACCESS:
            self.page_fault(exit)
        else:  # a system call or a fault of its programs, a fault in its kernel: the guest's
            self.inject(cause, exit.tval)
        if isinstance(self._request, Shutdown):  # sched_op(SCHEDOP_shutdown)
            return self.take_request()
        self.deliver_events()  # the guest may have unmasked (a store): look at every exit
        return self.take_request()

    def machine_interrupt(self, irq: int) -> None:
        if irq != K.IRQ_MTI:
            raise HypervisorError(f"unexpected machine interrupt {irq}")
        self.machine.hart.mtimecmp = MASK64  # set_timer_op is one-shot
        self.raise_event(TIMER_PORT)

    def page_fault(self, exit: Exit) -> None:
        """The hardware walked the guest's own tables and they said no: the fault is the
        guest's. Except one: its kernel touching the UART, which no table may map, is a
        device access we emulate (the guest has no split drivers yet)."""
        va, access = exit.tval, PAGE_FAULT_ACCESS[exit.cause]
        if (self.vmode == Mode.S and self.platform.find(va) is not None
                and access != K.ACC_FETCH and self.translate(va, K.ACC_LOAD) is None):
            self.emulate_mmio(va, exit.cause)
        else:
            self.inject(exit.cause, va)

    def read_guest_instruction(self) -> tuple[int, int]:
        """The instruction at the guest kernel's pc, through its own (machine) tables."""
        pc = self.domain.vcpu.pc

        def half(va: int) -> int:
            ma = self.translate(va, K.ACC_FETCH)
            if ma is None:
                raise HypervisorError(f"cannot read the guest's instruction at {va:#x}")
            return int.from_bytes(self.machine.mem.read(ma, 2), "little")

        return read_instruction(half, pc)

    # --- events and traps ---------------------------------------------------------------
    def shared(self, offset: int, size: int = 8) -> int:
        return int.from_bytes(self.memory.read(SHARED_INFO + offset, size), "little")

    def set_shared(self, offset: int, value: int, size: int = 8) -> None:
        self.memory.write(SHARED_INFO + offset, (value & MASK64).to_bytes(8, "little")[:size])

    def raise_event(self, port: int) -> None:
        """Mark ``port`` pending; it is delivered when the guest allows (deliver_events)."""
        self.set_shared(EVTCHN_PENDING, self.shared(EVTCHN_PENDING) | 1 << port)
        self.set_shared(UPCALL_PENDING, 1, 1)

    def deliver_events(self) -> None:
        """Deliver a pending event if the guest takes events now: it runs its programs, or
        its kernel has cleared the mask byte. The guest clears the pending flags itself."""
        if not self.shared(UPCALL_PENDING, 1):
            return
        if self.vmode == Mode.S and self.shared(UPCALL_MASK, 1):
            return
        timer = self.shared(EVTCHN_PENDING) >> TIMER_PORT & 1
        self.inject(EVENT_TIMER if timer else EVENT_OTHER, 0, interrupt=True)

    def inject(self, cause: int, tval: int, *, interrupt: bool = False) -> None:
        """Deliver a trap through the trap frame: what the hardware would have put in
        scause, sepc, stval, sstatus (SPP, SPIE), plus sp and a7, which we are about to
        change; then events masked, the kernel's root (and stack, from its programs),
        virtual S-mode, and the guest's trap entry."""
        vcpu = self.domain.vcpu
        if not self.trap_entry:
            raise HypervisorError(f"the guest took a trap (cause {cause:#x} at "
                                  f"{vcpu.pc:#x}) before set_trap_table: it cannot go on")
        if not interrupt and self.vmode == Mode.S and vcpu.pc == self.trap_entry:
            raise HypervisorError(f"the guest's trap entry {self.trap_entry:#x} faults "
                                  f"(cause {cause}): Xen would crash the domain")
        status = STATUS_SPP if self.vmode == Mode.S else 0
        if not self.shared(UPCALL_MASK, 1):
            status |= STATUS_SPIE
        frame = {TF_CAUSE: cause | (INTERRUPT if interrupt else 0), TF_EPC: vcpu.pc,
                 TF_TVAL: tval, TF_STATUS: status, TF_SP: vcpu.x["sp"], TF_A7: vcpu.x["a7"]}
        for offset, value in frame.items():
            self.set_shared(offset, value)
        self.set_shared(UPCALL_MASK, 1, 1)
        if self.vmode == Mode.U:
            vcpu.x["sp"] = self.kernel_sp  # stack_switch
            self.vmode = Mode.S
            self.load_root()
        vcpu.pc = self.trap_entry
        self.domain.record("injection", frame[TF_CAUSE], tval)

    # --- the hypercalls -----------------------------------------------------------------
    def hypercall(self) -> None:
        """An ecall from the guest kernel: a7 = number, a0..a5 = arguments, a0 = result.
        A method returns the result (the guest continues after its ecall), or None when it
        moved the guest itself (iret)."""
        x = self.domain.vcpu.x
        number, args = x["a7"], [x[f"a{i}"] for i in range(6)]
        self.domain.record("hypercall", number, args[0])
        if number in HYPERCALLS:
            result = getattr(self, HYPERCALLS[number])(*args)
        else:
            result = -ENOSYS
        if result is not None:
            x["a0"] = result & MASK64
            self.domain.vcpu.pc += 4

    def set_trap_table(self, entry: int, *_: int) -> int:
        """The guest's trap entry (its stvec; Xen takes a table of vectors)."""
        if entry & 3:
            return -EINVAL
        self.trap_entry = entry
        return 0

    def stack_switch(self, sp: int, *_: int) -> int:
        """The kernel stack a trap from the guest's programs starts on."""
        self.kernel_sp = sp
        return 0

    def set_timer_op(self, deadline: int, *_: int) -> int:
        """A timer event (port 0) when rdtime reaches ``deadline``; 0 cancels. The
        machine's own timer (mtimecmp) carries it; its interrupt exits to us."""
        self.machine.hart.mtimecmp = deadline or MASK64
        return 0

    def xen_version(self, cmd: int, *_: int) -> int:
        """The null hypercall: its exit is what a guest wants after unmasking."""
        return XEN_VERSION if cmd == 0 else -ENOSYS

    def console_io(self, cmd: int, count: int, buf: int, *_: int) -> int:
        """CONSOLEIO_write: ``count`` bytes at guest virtual ``buf``, in one exit."""
        if cmd != CONSOLEIO_WRITE:
            return -ENOSYS
        if count >> 63:
            return -EINVAL
        data = self.copy_from_guest(buf, count)
        if data is None:
            return -EFAULT
        for b in data:
            self.domain.console_byte(b)
        return count

    def grant_table_op(self, cmd: int, uop: int, count: int, *_: int) -> int:
        """Only GNTTABOP_query_size for now (one frame of grants, none in use): the rest
        comes with split drivers."""
        if cmd != GNTTABOP_QUERY_SIZE:
            return -ENOSYS
        if count != 1:
            return -EINVAL
        reply = (1).to_bytes(4, "little") * 2 + bytes(2)  # nr_frames, max_nr_frames, status
        return 0 if self.copy_to_guest(uop + 4, reply) else -EFAULT

    def iret(self, *_: int) -> int | None:
        """Return from the trap frame: pc, mode (SPP), events (SPIE), sp and a7."""
        vcpu = self.domain.vcpu
        status = self.shared(TF_STATUS)
        to_kernel = bool(status & STATUS_SPP)
        if not to_kernel and self.user_root is None:
            return -EINVAL  # its programs have no root to run in
        self.set_shared(UPCALL_MASK, 0 if status & STATUS_SPIE else 1, 1)
        vcpu.x["sp"] = self.shared(TF_SP)
        vcpu.x["a7"] = self.shared(TF_A7)
        vcpu.pc = self.shared(TF_EPC)
        self.vmode = Mode.S if to_kernel else Mode.U
        self.load_root()
        return None

    def sched_op(self, cmd: int, arg: int, *_: int) -> int:
        if cmd == SCHEDOP_YIELD:  # the rest of its slice goes to another domain
            self.request(Yield())
            return 0
        if cmd == SCHEDOP_BLOCK:  # unmask and wait for an event: the timer's, or another
            self.set_shared(UPCALL_MASK, 0, 1)
            if not self.shared(UPCALL_PENDING, 1):
                action = self.idle()
                self.request(Block(None) if action is CONTINUE else action)
            return 0
        if cmd == SCHEDOP_SHUTDOWN:  # 0: power off; anything else: a crash
            self.request(Shutdown(arg & 0xFFFF_FFFF))
            return 0
        return -ENOSYS

    def event_channel_op(self, cmd: int, arg: int, *_: int) -> int:
        """EVTCHNOP_send: ``arg`` points to ``{u32 port}``; the port becomes pending."""
        if cmd != EVTCHNOP_SEND:
            return -ENOSYS
        data = self.copy_from_guest(arg, 4)
        if data is None:
            return -EFAULT
        port = int.from_bytes(data, "little")
        if port >= NR_PORTS:
            return -EINVAL
        self.raise_event(port)
        return 0

    def mmu_update(self, reqs: int, count: int, done: int, *_: int) -> int:
        """Apply ``count`` requests ``{u64 ptr, u64 val}``: write ``val`` into the page-table
        entry at machine address ``ptr``, if the rules allow (update_entry). Stops at the
        first refusal; writes how many were applied to ``*done``."""
        return self.batch(reqs, count, done, self.update_entry)

    def mmuext_op(self, ops: int, count: int, done: int, *_: int) -> int:
        """Apply ``count`` operations ``{u64 cmd, u64 arg}`` (extended_op)."""
        return self.batch(ops, count, done, self.extended_op)

    def batch(self, array: int, count: int, done: int, one: Callable[[int, int], int]) -> int:
        applied, result = 0, 0
        while applied < count:
            request = self.copy_from_guest(array + 16 * applied, 16)
            if request is None:
                result = -EFAULT
                break
            result = one(int.from_bytes(request[:8], "little"),
                         int.from_bytes(request[8:], "little"))
            if result:
                break
            applied += 1
        if done and not self.copy_to_guest(done, applied.to_bytes(8, "little")):
            return -EFAULT
        return result

    def extended_op(self, cmd: int, arg: int) -> int:
        if cmd in (MMUEXT_NEW_BASEPTR, MMUEXT_NEW_USER_BASEPTR, MMUEXT_PIN_L3_TABLE):
            return self.new_root(cmd, arg)
        if cmd == MMUEXT_UNPIN_TABLE:
            if arg not in self.pinned:
                return -EINVAL
            self.pinned.discard(arg)
            self.drop_reference(arg)
            return 0
        if cmd == MMUEXT_TLB_FLUSH_LOCAL:
            self.machine.hart.flush_tlb()
            return 0
        if cmd == MMUEXT_INVLPG_LOCAL:
            self.machine.hart.flush_tlb(arg)
            return 0
        return -ENOSYS

    def new_root(self, cmd: int, frame: int) -> int:
        """PIN_L3_TABLE (validate a root, so that mmu_update may fill it), NEW_BASEPTR (the
        kernel's root), NEW_USER_BASEPTR (its programs' root; 0: none)."""
        if cmd == MMUEXT_NEW_USER_BASEPTR and frame == 0:
            old, self.user_root = self.user_root, None
            if old is not None:
                self.drop_reference(old)
            return 0
        if frame % PAGE or frame == 0:
            return -EINVAL
        first = cmd == MMUEXT_NEW_BASEPTR and self.boot_table is not None
        if first:  # the boot table goes: its writable mappings of every frame with it
            boot, self.boot_table = self.boot_table, None
        result = self.make_table_atomically(frame, ROOT)
        if first:
            if result:
                self.boot_table = boot
                return result
            self.machine.hart.flush_tlb()  # and its translations
        if result:
            return result
        if cmd == MMUEXT_NEW_BASEPTR:
            old, self.kernel_root = self.kernel_root, frame
        elif cmd == MMUEXT_NEW_USER_BASEPTR:
            old, self.user_root = self.user_root, frame
        else:
            old = None
            self.pinned.add(frame)
        self.load_root()
        if old is not None and old != frame:  # the root it replaced may stop being one
            self.drop_reference(old)
        return 0

    def memory_op(self, cmd: int, arg: int, *_: int) -> int:
        """Xen's memory reservation operations, for the balloon driver. ``arg`` points to
        a ``xen_memory_reservation`` {u64 extent_start, u64 nr_extents, u32 extent_order,
        u32 mem_flags, u16 domid} for increase/decrease/populate, to a u16 domid for
        current/maximum_reservation. Returns the extents done (or the count asked)."""
        if cmd in (XENMEM_CURRENT_RESERVATION, XENMEM_MAXIMUM_RESERVATION):
            data = self.copy_from_guest(arg, 2)
            if data is None:
                return -EFAULT
            if int.from_bytes(data, "little") != DOMID_SELF:
                return -EPERM  # only the toolstack's domain may ask about another
            memory = self.memory
            return memory.populated if cmd == XENMEM_CURRENT_RESERVATION else len(memory.p2m)
        if cmd not in (XENMEM_INCREASE_RESERVATION, XENMEM_DECREASE_RESERVATION,
                       XENMEM_POPULATE_PHYSMAP):
            return -ENOSYS
        data = self.copy_from_guest(arg, 32)
        if data is None:
            return -EFAULT
        extents, count = (int.from_bytes(data[i:i + 8], "little") for i in (0, 8))
        order, domid = int.from_bytes(data[16:20], "little"), int.from_bytes(data[24:26], "little")
        if domid != DOMID_SELF:
            return -EPERM
        if order != 0:
            return -EINVAL  # 4 KiB extents only: the guest's frames are not contiguous
        balloon = self.domain.balloon
        done = 0
        while done < count:
            entry = self.copy_from_guest((extents + 8 * done) & MASK64, 8)
            if entry is None:
                return done or -EFAULT
            gpa = int.from_bytes(entry, "little") << 12
            if cmd == XENMEM_DECREASE_RESERVATION:
                refused, _ = balloon.give(gpa, 1)
            else:
                refused, _ = balloon.take(gpa, 1)
            if refused:
                break
            if cmd == XENMEM_INCREASE_RESERVATION:  # (as Xen does for PV guests) its mfn
                mfn = (self.memory.machine_address(gpa) >> 12).to_bytes(8, "little")
                self.copy_to_guest((extents + 8 * done) & MASK64, mfn)
            done += 1
        return done

    # --- ballooning (vkernel.hv.balloon) -----------------------------------------------
    def balloon_interrupt(self) -> None:
        """The new target into the shared-info page, and an event on the balloon's port."""
        self.set_shared(MEMORY_TARGET, self.domain.balloon.target)
        self.raise_event(BALLOON_PORT)

    def balloon_refuses(self, gpa: int) -> str | None:
        """A frame leaves the guest only if nothing of the guest's can reach it: no
        validated table maps it, it is not a page table, the boot table is gone (it maps
        every frame), and it is none of the pages this hypervisor writes (start info,
        shared info, mfn_list, m2p). Xen: -EBUSY for a page still in use."""
        frame = self.memory.machine_address(gpa)
        if (self.boot_table is not None or gpa < GUEST_RESERVED_END
                or self.mapped[frame] or frame in self.level):
            return "busy"
        return None

    def balloon_drop(self, gpa: int, frame: int) -> None:
        """The guest's p2m and m2p say the page is gone (all ones), and no stale TLB entry
        survives (the guest had to unmap it; it need not have flushed)."""
        self.set_p2m(gpa, frame, INVALID_FRAME)
        self.machine.hart.flush_tlb()

    def balloon_add(self, gpa: int, frame: int) -> None:
        """Xen's populate_physmap for a PV guest: the new frame in mfn_list and m2p."""
        self.set_p2m(gpa, frame, frame)

    def set_p2m(self, gpa: int, frame: int, new: int) -> None:
        index = (gpa - GUEST_RAM_BASE) // PAGE
        self.memory.write_u64(MFN_LIST + 8 * index, new // PAGE)
        self.memory.write_u64(self.m2p_va + 8 * (frame // PAGE - self.m2p_first),
                              M2P_INVALID if new == INVALID_FRAME else gpa // PAGE)

    # --- direct paging: the guest's own tables, validated -----------------------------
    def is_guest_frame(self, frame: int) -> bool:
        return frame in self.memory.m2p

    def update_entry(self, ptr: int, val: int) -> int:
        """One mmu_update request: the entry at machine address ``ptr`` becomes ``val``,
        if ``ptr`` is in one of the guest's page tables and ``val`` passes check_entry:
        0, or a negative errno. Either way an ``mmu_update`` row (cause 0 validated, 1
        refused; detail ``ptr``; entry ``val``)."""
        result = self.validate_update(ptr, val)
        self.domain.record("mmu_update", 1 if result else 0, ptr, entry=val)
        return result

    def validate_update(self, ptr: int, val: int) -> int:
        frame = ptr & ~(PAGE - 1)
        if not self.is_guest_frame(frame):
            return -EPERM
        if ptr % 8 or frame not in self.level:
            return -EINVAL  # only page tables are written through mmu_update
        level = self.level[frame]
        if val & PTE_V and not val & (PTE_R | PTE_X):  # a pointer: may validate a subtree
            result = self.atomically(lambda: self.check_entry(val, level))
        else:
            result = self.check_entry(val, level)
        if result:
            return result
        mem = self.machine.mem
        self.forget_entry(mem.read_u64(ptr), level)
        mem.write_u64(ptr, val)
        return 0

    def check_entry(self, pte: int, level: int) -> int:
        """Take ``pte``, a new entry of a table of ``level``, into the bookkeeping: 0 if the
        rules allow it (a writable leaf is counted; a table it points to is validated), or
        a negative errno. A leaf is checked completely before anything is counted."""
        if not pte & PTE_V:
            return 0  # the MMU ignores the rest of an invalid entry
        if pte >> 54:
            return -EINVAL  # reserved bits, Svpbmt, Svnapot: not for guests
        target = pte_page(pte)
        if pte & (PTE_R | PTE_X):  # a leaf
            if level != 0:
                return -EINVAL  # a superpage: the guest's frames are not contiguous
            if not pte & PTE_U or (pte & PTE_W and not pte & PTE_R):
                return -EINVAL  # its kernel runs in U-mode; W without R is reserved
            if not self.is_guest_frame(target):
                return -EPERM
            if pte & PTE_W:
                if target in self.level:
                    return -EINVAL  # a writable mapping of a page table
                self.writable[target] += 1
            self.mapped[target] += 1
            return 0
        if level == 0 or pte & POINTER_FORBIDDEN:  # a pointer to the next level's table
            return -EINVAL
        result = self.make_table(target, level - 1)
        if not result:
            self.refs[target] += 1
        return result

    def forget_entry(self, pte: int, level: int) -> None:
        """The entry ``pte`` (once checked) leaves a table: uncount its mapping, or its
        reference to the table it points to, which stops being a table with its last
        reference (Xen's put_page_type)."""
        if not pte & PTE_V:
            return
        if pte & (PTE_R | PTE_X):
            self.mapped[pte_page(pte)] -= 1
            if pte & PTE_W:
                self.writable[pte_page(pte)] -= 1
        elif level > 0:
            self.refs[pte_page(pte)] -= 1
            self.drop_reference(pte_page(pte))

    def drop_reference(self, frame: int) -> None:
        """A reference to table ``frame`` went (a pointer, its pin, or being loaded): with
        none left it is released."""
        if (frame in self.level and not self.refs[frame] and frame not in self.pinned
                and frame not in (self.kernel_root, self.user_root)):
            self.release_table(frame)

    def release_table(self, frame: int) -> None:
        """``frame`` stops being a page table (Xen: its type count fell to 0): its entries
        are forgotten (a table they point to may go too), and the guest may map it
        writable again. No walk may go through it any more: the TLB is flushed, so that
        no translation cached from its entries outlives the change of type."""
        level = self.level.pop(frame)
        del self.refs[frame]
        entries = np.frombuffer(self.machine.mem.read(frame, PAGE), np.uint64)
        for pte in entries[entries != 0]:
            self.forget_entry(int(pte), level)
        self.released += 1
        self.machine.hart.flush_tlb()

    def make_table(self, frame: int, level: int) -> int:
        """Make ``frame`` a page table of ``level`` (Xen's get_page_type): it must be the
        guest's, not the shared-info page (which we write ourselves), not mapped writable
        by any validated table (nor by the boot table, which maps every frame writable),
        already a table of this level or else have entries that all pass check_entry."""
        if not self.is_guest_frame(frame):
            return -EPERM
        if frame in self.level:
            return 0 if self.level[frame] == level else -EINVAL
        if (self.boot_table is not None or self.writable[frame]
                or frame == self.memory.machine_address(SHARED_INFO)):
            return -EINVAL
        self.level[frame] = level
        entries = np.frombuffer(self.machine.mem.read(frame, PAGE), np.uint64)
        for pte in entries[entries != 0]:
            result = self.check_entry(int(pte), level)
            if result:
                return result
        return 0

    def make_table_atomically(self, frame: int, level: int) -> int:
        if frame in self.level:  # the common case (a switch of address spaces): no work
            return 0 if self.level[frame] == level else -EINVAL
        return self.atomically(lambda: self.make_table(frame, level))

    def atomically(self, change: Callable[[], int]) -> int:
        """Run a validation that may type many frames: all of it, or (on an error) none.
        New tables also flush the TLB: a writable translation of one of them, left from a
        leaf the guest changed without flushing, must not outlive the change of type."""
        saved = (dict(self.level), self.writable.copy(), self.mapped.copy(), self.refs.copy())
        result = change()
        if result:
            self.level, self.writable, self.mapped, self.refs = saved
        elif len(self.level) != len(saved[0]):
            self.machine.hart.flush_tlb()
        return result

    def load_root(self) -> None:
        """Point the machine's satp at the root for the guest's virtual mode: the kernel
        root (or the boot table) in its kernel, the user root in its programs. Each root
        gets its own ASID, so switching needs no TLB flush."""
        if self.vmode == Mode.S:
            root = self.kernel_root if self.boot_table is None else self.boot_table.pages[0]
        else:
            root = self.user_root
        assert root is not None
        if root not in self.asids:
            if len(self.asids) == ASIDS_PER_DOMAIN - 1:  # out of its ASIDs: start again,
                self.asids.clear()                      # with a clean TLB
                self.machine.hart.flush_tlb()
            self.asids[root] = self.domain.asid_base + len(self.asids) + 1
        self.machine.hart.csr["satp"] = ((K.SATP_MODE_SV39 << 60) | (self.asids[root] << 44)
                                         | (root >> 12))

    # --- copying to and from the guest (Xen's copy_from_guest, copy_to_guest) -----------
    def translate(self, va: int, access: int) -> int | None:
        """The machine address behind the guest kernel's virtual address ``va``, walking
        its current table as the MMU would for a U-mode ``access``; None where the MMU
        would fault. PV tables hold machine addresses: no p2m on the way."""
        root = self.kernel_root if self.boot_table is None else self.boot_table.pages[0]
        if root is None:
            return None
        w = walk(root, va, self.machine.mem.read_u64, access=access, user=True)
        # and only a 4 KiB page of the guest's own, all check_entry lets its tables map
        if w.pa is None or w.level or not self.is_guest_frame(w.pa & ~(PAGE - 1)):
            return None
        return w.pa

    def copy_from_guest(self, va: int, n: int) -> bytes | None:
        out = bytearray()
        while len(out) < n:
            ma = self.translate((va + len(out)) & MASK64, K.ACC_LOAD)
            if ma is None:
                return None
            chunk = min(n - len(out), PAGE - ma % PAGE)
            out += self.machine.mem.read(ma, chunk)
        return bytes(out)

    def copy_to_guest(self, va: int, data: bytes) -> bool:
        """Only through writable mappings, so never into a page table."""
        pos = 0
        while pos < len(data):
            ma = self.translate((va + pos) & MASK64, K.ACC_STORE)
            if ma is None:
                return False
            chunk = min(len(data) - pos, PAGE - ma % PAGE)
            self.machine.mem.write(ma, data[pos:pos + chunk])
            pos += chunk
        return True

    # --- looking at the guest -----------------------------------------------------------
    def virtual_csrs(self) -> dict[str, int]:
        """The virtual CPU, PV style: no CSR file, but these."""
        return {"mode": int(self.vmode),
                "trap_entry": self.trap_entry,  # its stvec
                "kernel_sp": self.kernel_sp,
                "kernel_root": self.kernel_root or 0,  # its satp, in its kernel ...
                "user_root": self.user_root or 0,  # ... and in its programs
                "shared_info": SHARED_INFO,
                "shared_info_frame": self.memory.machine_address(SHARED_INFO),
                "events_masked": self.shared(UPCALL_MASK, 1),  # !sstatus.SIE
                "events_pending": self.shared(UPCALL_PENDING, 1)}  # sip.STIP

