"""Binary translation: VMware's answer to an architecture that cannot trap-and-emulate.

The guest kernel runs deprivileged in U-mode, as under trap-and-emulate, but its code never
runs as it is. Before the guest kernel executes a block of its code, the hypervisor
*translates* it into a translation cache (TC) of its own, block by block, and runs the
translation instead:

* an innocuous instruction (arithmetic, a load, a store) is copied unchanged;
* a pc-relative one (``auipc``, a ``jal``'s link) is rewritten, because the copy runs at
  another address but must compute the guest's values;
* a *sensitive* instruction is rewritten so the hypervisor gets it right without a trap.
  The guest's supervisor CSRs live in a page the TC can reach (the vCPU page, at the top
  of the address space, where ``ld rd, -2048(zero)`` reaches): ``csrr a0, sepc`` becomes
  ``ld a0, <sepc>(zero)``, ``csrw sscratch, t6`` a ``sd``. Emulated *in the cache*, they
  cost a few instructions. What has side effects (a write to sstatus, satp, sie; sret;
  sfence.vma; wfi; an SBI call) becomes a *callout* into the hypervisor;
* a block ends at a jump or branch, with a callout that finds (or makes) the translation
  of where the guest goes next. Once that exists the callout is patched into a direct
  jump (*chaining*), so a loop in the guest kernel runs with no callouts at all.

A callout is an ``ebreak`` in the TC: it traps to the hypervisor, which knows by its
address what the guest was doing. On real x86 hardware a callout is a call within the
VMM's address space, cheaper than a trap, and the cost model charges it so
(``CostModel.callout``). Translating costs ``CostModel.translate`` per guest instruction.

Because sensitive instructions never reach the hardware, binary translation is correct
even when they do not trap: with ``sensitive_unprivileged=True`` (Popek and Goldberg's
switch) trap-and-emulate breaks, and this does not.

Translations are kept while the guest's code does not change: pages holding translated
code are write-protected in the shadow page tables, and a store there throws every
translation away (the first correct version: VMware kept finer track). The store itself
then runs translated alone, with its page left writable, so that it can complete (see
:meth:`BinaryTranslation.page_fault`); the code after it is translated afresh, as it now is.

A flush can happen while the hypervisor handles an exit (that store, a ``fence.i``, a full
cache), so a handler never keeps a cache address across one: ``flushes`` counts them, and
an address taken before a flush means nothing after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vkernel.core import kernel as K
from vkernel.hv.base import Action, HypervisorError, Shutdown
from vkernel.hv.deprivileged import VirtualCSRs
from vkernel.hv.memory import HYPERVISOR, PAGE, PTE_R, PTE_W, PTE_X, guest_walk
from vkernel.hv.shadow import ShadowTable
from vkernel.hv.trap_emulate import CSR_OPS, TrapAndEmulate
from vkernel.isa.asm import assemble
from vkernel.isa.decode import decode
from vkernel.isa.program import Program
from vkernel.isa.table import ABI_NAMES
from vkernel.machine import Exit, Mode

TC_VA = 0x3F_0000_0000  # where the translation cache is mapped for the guest kernel
TC_PAGES = 64  # 256 KiB of translations before the cache is flushed and refilled
VCPU_VA = (1 << 64) - PAGE  # the vCPU page: its upper half is reachable from x0
SLOT0 = -2048  # the first CSR slot, as an offset from x0
# the guest's CSRs in the vCPU page (offsets from x0): the storage CSRs are read back
# after every exit; the others are the hypervisor's to write
SLOTS = {"sstatus": 0, "sie": 8, "sip": 16, "stvec": 24, "sscratch": 32, "sepc": 40,
         "scause": 48, "stval": 56, "satp": 64, "scounteren": 72, "senvcfg": 80}
SPILL = 96  # a scratch register's home while an expansion needs it
# the CSRs the translated code may write in the page (no side effects): read back at exits
STORAGE = ("sscratch", "sepc", "scause", "stval")
NUMBER = {name: number for number, name in VirtualCSRs.NUMBERS.items()}
MAX_BLOCK = 32  # guest instructions per block at most
EBREAK = 0x00100073
NOP = (0x13).to_bytes(4, "little")  # addi x0, x0, 0
MASK64 = (1 << 64) - 1
BRANCHES = ("beq", "bne", "blt", "bge", "bltu", "bgeu")


@dataclass(frozen=True)
class Callout:
    """What an ``ebreak`` in the cache stands for: ``kind`` is "jump" (to ``target``),
    "indirect" (a jalr: rd, rs1, imm, link), or "emulate" (the guest instruction
    ``insn`` at ``guest_pc``, which needs the hypervisor)."""

    kind: str
    guest_pc: int
    target: int = 0
    insn: int = 0
    rd: int = 0
    rs1: int = 0
    imm: int = 0
    link: int = 0


def _reg(n: int) -> str:
    return ABI_NAMES[n]


class BinaryTranslation(TrapAndEmulate):
    name = "binary-translation"

    def boot(self, guest: Program) -> None:
        self.tc_frames: list[int] = []
        self.vcpu_frame = 0
        self.flushes = 0  # how many times the cache was emptied
        self.callout_exit = False  # whether the exit being handled is a callout
        self.writer: int | None = None  # a store that wrote translated code: to run alone
        self.reset_cache()
        super().boot(guest)
        self.tc_frames = [self.frames.alloc(HYPERVISOR) for _ in range(TC_PAGES)]
        self.vcpu_frame = self.frames.alloc(HYPERVISOR)
        self.flush_shadow()  # the kernel's shadow gains the cache and the vCPU page
        self.after()

    # --- the translation cache ----------------------------------------------------------
    def reset_cache(self) -> None:
        self.tc_next = TC_VA
        self.callouts: dict[int, Callout] = {}  # TC address of an ebreak -> what it means
        self.boundary: dict[int, int] = {}  # TC address -> the guest pc it translates
        self.entry: dict[int, int] = {}  # guest physical address -> TC address
        self.code_pages: set[int] = set()  # guest physical pages with translations
        self.translated_blocks = 0

    @staticmethod
    def in_cache(pc: int) -> bool:
        return TC_VA <= pc < TC_VA + TC_PAGES * PAGE

    def tc_write(self, va: int, data: bytes) -> None:
        off = va - TC_VA
        while data:
            frame = self.tc_frames[off // PAGE]
            n = min(len(data), PAGE - off % PAGE)
            self.machine.mem.write(frame + off % PAGE, data[:n])
            data, off = data[n:], off + n

    def flush_cache(self) -> None:
        """Forget every translation (the guest wrote its code, or the cache is full)."""
        self.reset_cache()
        self.flushes += 1
        self.flush_shadow()  # the write protection of code pages goes too

    # --- the vCPU page ------------------------------------------------------------------
    def slot_address(self, name: str) -> int:
        return self.vcpu_frame + PAGE + SLOT0 + SLOTS[name]

    def sync_to_page(self) -> None:
        """Before the guest runs: its CSRs where its translated code reads them."""
        for name in SLOTS:
            self.machine.mem.write_u64(self.slot_address(name),
                                       self.csrs.read(NUMBER[name]))

    def sync_from_page(self) -> None:
        """After an exit: what its translated code wrote (with the CSRs' WARL rules)."""
        for name in STORAGE:
            self.csrs.write(NUMBER[name], self.machine.mem.read_u64(self.slot_address(name)))

    # --- shadows: the kernel sees the cache and the vCPU page, never its own code as X --
    def current_shadow(self) -> ShadowTable:
        table = super().current_shadow()
        if self.vmode == Mode.S and self.vcpu_frame and table not in self._mapped:
            for i, frame in enumerate(self.tc_frames):
                table.map(TC_VA + i * PAGE, frame, PTE_R | PTE_X)
            table.map(VCPU_VA, self.vcpu_frame, PTE_R | PTE_W)
            self._mapped.add(table)
        return table

    def flush_shadow(self) -> None:
        self._mapped: set[ShadowTable] = set()
        super().flush_shadow()

    def invalidate_shadow(self, va: int) -> None:
        if va >= VCPU_VA or TC_VA <= va < TC_VA + TC_PAGES * PAGE:
            self.flush_shadow()  # our own windows: remapped by a full flush
        else:
            super().invalidate_shadow(va)

    def fill_flags(self, gpa: int, flags: int, user: bool) -> int:
        """The guest kernel's code runs only as translations (no X for the kernel), and
        translated code pages are write-protected, so that a write to them comes here."""
        if not user:
            flags &= ~PTE_X
        if gpa >> 12 in self.code_pages:
            flags &= ~PTE_W
        return flags

    def balloon_drop(self, gpa: int, frame: int) -> None:
        """A page that leaves the guest takes its translations with it: the guest can no
        longer fetch there, so neither may the cache run what was translated from it."""
        if gpa >> 12 in self.code_pages:
            self.flush_cache()  # (and the shadows)
        else:
            super().balloon_drop(gpa, frame)

    # --- the exits ----------------------------------------------------------------------
    def handle(self, exit: Exit) -> Action:
        self.sync_from_page()
        vcpu = self.domain.vcpu
        site = vcpu.pc
        # for observers: whether this exit is a callout (chaining may remove the site)
        self.callout_exit = exit.cause == K.EXC_BREAKPOINT and site in self.callouts
        action: Action | None = None  # what the trap-and-emulate half said, if it ran
        if self.vmode == Mode.S and self.in_cache(site):
            if exit.cause == K.EXC_BREAKPOINT and site in self.callouts:
                if self.callout(self.callouts[site], site):
                    self.after()
                return self.take_request()
            if (site not in self.boundary and not exit.cause >> 63) \
                    or not any(b <= site for b in self.boundary):
                # its kernel jumped into the cache where no translation starts (only an
                # interrupt stops the machine inside a translation)
                raise HypervisorError(f"the guest ran the translation cache at {site:#x}, "
                                      f"inside a translation")
            if exit.cause >> 63 and site not in self.boundary:
                # an interrupt inside the expansion of one guest instruction: let the
                # expansion finish (with the machine timer now disarmed) first
                expanding = self.boundary[max(b for b in self.boundary if b <= site)]
                self.domain.record("vm_exit", exit.cause, 0, pc=expanding)  # the guest's pc
                self.machine_interrupt(exit.cause & ~(1 << 63))
                while not self.in_cache(vcpu.pc) or vcpu.pc not in self.boundary:
                    if self.in_cache(vcpu.pc) and vcpu.pc in self.callouts:
                        # the expansion ends in a callout (its ebreak would exit again
                        # and again): the callout completes the guest instruction
                        if not self.callout(self.callouts[vcpu.pc], vcpu.pc):
                            return self.take_request()  # it shut the guest down
                        if not self.in_cache(vcpu.pc):  # at a guest pc: deliver there
                            self.deliver_interrupts()
                            self.after()
                            return self.take_request()
                        continue
                    if vcpu.run(1).reason != "budget":  # no expansion of ours traps
                        raise HypervisorError(f"the guest ran the translation cache at "
                                              f"{site:#x}, inside a translation")
                site = vcpu.pc
                vcpu.pc = self.boundary[site]
                self.deliver_interrupts()
            else:
                vcpu.pc = self.boundary[site]  # the guest's view of where it is
                if exit.cause == K.EXC_BREAKPOINT:  # its own ebreak: stval is its pc
                    exit = replace(exit, tval=vcpu.pc)
                flushes = self.flushes
                action = super().handle(exit)
                if isinstance(action, Shutdown):
                    return action
                if self.flushes != flushes:  # the cache is gone, site with it: after()
                    self.after()             # translates from the guest's pc afresh
                    return action
            if self.vmode == Mode.S and vcpu.pc == self.boundary[site]:
                vcpu.pc = site  # nothing moved it (a hidden fault): on in the cache
        else:
            action = super().handle(exit)
            if isinstance(action, Shutdown):
                return action
        self.after()
        return action or self.take_request()

    def after(self) -> None:
        """Before the guest runs again: kernel code runs from the cache, and the vCPU page
        holds the guest's CSRs."""
        if self.vmode == Mode.S and not self.in_cache(self.domain.vcpu.pc):
            self.dispatch(self.domain.vcpu.pc)
        self.sync_to_page()

    def page_fault(self, exit: Exit) -> None:
        if exit.cause == K.EXC_FETCH_PAGE and self.vmode == Mode.S:
            return  # the guest kernel went to code with no translation yet: after() does
        if exit.cause == K.EXC_STORE_PAGE:  # a write to translated code? all suspect now
            t = guest_walk(self.memory, self.csrs.satp, exit.tval, K.ACC_STORE,
                           user=self.vmode == Mode.U,
                           sum_=bool(self.csrs.sstatus & K.MSTATUS_SUM))
            if t.gpa is not None and t.gpa >> 12 in self.code_pages:
                self.flush_cache()
                if self.vmode == Mode.S:  # the kernel's store, translated as usual, would
                    self.writer = self.domain.vcpu.pc  # protect its page again: see translate()
        super().page_fault(exit)

    def emulated(self, what: int, value: int = 0) -> None:
        pass  # a callout did it: recorded as the callout

    # --- translating --------------------------------------------------------------------
    def dispatch(self, guest_pc: int) -> None:
        """Continue the guest kernel at ``guest_pc``: in its translation, made if need be.
        If its own page tables do not let it fetch there, it takes the page fault."""
        t = guest_walk(self.memory, self.csrs.satp, guest_pc, K.ACC_FETCH, user=False)
        if t.gpa is not None and t.gpa in self.memory:
            if t.gpa not in self.entry:
                self.translate(guest_pc, t.gpa)
            self.domain.vcpu.pc = self.entry[t.gpa]
            return
        self.domain.vcpu.pc = guest_pc
        self.inject(t.fault if t.fault is not None else K.EXC_FETCH_ACCESS, guest_pc)
        # if the trap vector cannot be fetched either, leave the pc there untranslated:
        # the machine faults on it (an exit, which counts against the budget), and we come
        # back here: a trap storm, as on real hardware, never a hang of the hypervisor
        t = guest_walk(self.memory, self.csrs.satp, self.domain.vcpu.pc, K.ACC_FETCH, user=False)
        if t.gpa is not None and t.gpa in self.memory:
            self.dispatch(self.domain.vcpu.pc)

    def translate(self, guest_pc: int, gpa: int) -> None:
        """Translate the block of guest kernel code at ``guest_pc`` (guest physical
        ``gpa``) into the cache: up to a control transfer, MAX_BLOCK instructions, or the
        end of its page.

        The store that wrote translated code (``writer``, see page_fault) is translated
        alone, its page not write-protected: so it completes, and the jump after it
        translates what follows as the store left it (protecting the page again)."""
        if self.tc_next + 64 * MAX_BLOCK > TC_VA + TC_PAGES * PAGE:
            self.flush_cache()
        page = gpa >> 12
        alone = guest_pc == self.writer
        if alone:
            self.writer = None
        elif page not in self.code_pages:
            self.code_pages.add(page)
            # existing writable mappings of this page must go: with write protection's
            # reverse map, just those; without, every shadow
            if self.shadow.write_protect:
                self.shadow.revoke_writes(gpa)
            else:
                self.flush_shadow()
        pc, phys, count, length = guest_pc, gpa, 0, 0
        while True:
            if count and phys in self.entry:  # the rest is translated already: go there
                self.emit_callout(Callout("jump", pc - length, target=pc))
                break
            low = int.from_bytes(self.memory.read(phys, 2), "little")
            length = 2 if low & 3 != 3 else 4
            insn = int.from_bytes(self.memory.read(phys, length), "little")
            self.entry.setdefault(phys, self.tc_next)
            if (phys + 8) >> 12 == page and self.emit_far_call(pc, insn, phys):
                count += 2
                break
            ends = self.emit(pc, insn, length)
            count += 1
            pc, phys = pc + length, phys + length
            if ends:
                break
            if count >= (1 if alone else MAX_BLOCK) or phys >> 12 != page:
                self.emit_callout(Callout("jump", pc - length, target=pc))  # fall through
                break
        self.translated_blocks += 1
        self.domain.record("translation", 0, count, units=count, pc=guest_pc)

    def put(self, data: bytes, guest_pc: int | None = None) -> int:
        """Append code to the cache; ``guest_pc``: it starts that guest instruction's
        translation (a place where the guest may be stopped, interrupted, resumed)."""
        va = self.tc_next
        self.tc_write(va, data)
        if guest_pc is not None:
            self.boundary[va] = guest_pc
        self.tc_next += len(data)
        return va

    def asm(self, text: str) -> bytes:
        return bytes(assemble(text, base=self.tc_next).sections[".text"].data)

    def emit_callout(self, callout: Callout, boundary: bool = False) -> None:
        site = self.put(EBREAK.to_bytes(4, "little"), callout.guest_pc if boundary else None)
        self.callouts[site] = callout

    def emit(self, pc: int, insn: int, length: int) -> bool:
        """Translate one guest instruction at ``pc``. True when it ends the block."""
        spec = decode(insn)
        name = spec.name if spec else ""
        f = spec.decode(insn) if spec else {}
        if name == "auipc":  # the guest's pc, not the cache's
            value = (pc + _sext32(f["imm_u"] << 12)) & MASK64
            self.put(self.asm(f"li {_reg(f['rd'])}, {value}") if f["rd"] else NOP, pc)
            return False
        if name in ("jal", "c.j"):
            rd = f.get("rd", 0)
            target = (pc + f.get("imm_j", f.get("c_imm_j", 0))) & MASK64
            if rd:  # the link is the guest's return address
                self.put(self.asm(f"li {_reg(rd)}, {(pc + length) & MASK64}"), pc)
                self.emit_callout(Callout("jump", pc, target=target))
            else:
                self.emit_callout(Callout("jump", pc, target=target), boundary=True)
            return True
        if name in ("jalr", "c.jr", "c.jalr"):  # where to is known only when it runs
            rd = f.get("rd", 1 if name == "c.jalr" else 0)
            rs1 = f.get("rs1", f.get("c_rd_nz", 0))
            self.emit_callout(Callout("indirect", pc, rd=rd, rs1=rs1, imm=f.get("imm_i", 0),
                                      link=(pc + length) & MASK64), boundary=True)
            return True
        if name in BRANCHES or name in ("c.beqz", "c.bnez"):
            target = (pc + f.get("imm_b", f.get("c_imm_b", 0))) & MASK64
            cond = f"{name} {_reg(f['rs1'])}, {_reg(f['rs2'])}" if name in BRANCHES \
                else f"{name[2:5]} {_reg(f['c_rs1p'])}, zero"  # c.beqz: beq rs1, zero
            self.put(self.asm(f"{cond}, . + 8"), pc)  # taken: to the second callout
            self.emit_callout(Callout("jump", pc, target=(pc + length) & MASK64))
            self.emit_callout(Callout("jump", pc, target=target))
            return True
        if name in CSR_OPS:
            self.emit_csr(pc, insn, name, f)
            return False
        if name in ("sret", "ecall", "wfi", "sfence.vma", "fence.i"):
            self.emit_callout(Callout("emulate", pc, insn=insn), boundary=True)
            return name in ("sret", "ecall")
        self.put(insn.to_bytes(length, "little"), pc)  # innocuous: as it is
        return spec is None or name in ("ebreak", "c.ebreak", "mret")

    def emit_far_call(self, pc: int, insn: int, phys: int) -> bool:
        """``call f`` and ``tail f`` assemble to ``auipc r, hi`` + ``jalr rd, lo(r)``: an
        indirect jump whose target is known now. Translated as one direct jump (chainable,
        no callout once chained) that leaves r and rd as the guest expects."""
        first = decode(insn)
        if first is None or first.name != "auipc":
            return False
        nxt = int.from_bytes(self.memory.read(phys + 4, 4), "little")
        second = decode(nxt) if nxt & 3 == 3 else None
        f1 = first.decode(insn)
        if second is None or second.name != "jalr" or second.decode(nxt)["rs1"] != f1["rd"] \
                or f1["rd"] == 0:
            return False
        f2 = second.decode(nxt)
        base = (pc + _sext32(f1["imm_u"] << 12)) & MASK64
        text = [f"li {_reg(f1['rd'])}, {base}"]
        if f2["rd"]:
            text.append(f"li {_reg(f2['rd'])}, {(pc + 8) & MASK64}")
        self.put(self.asm("\n".join(text)), pc)
        self.emit_callout(Callout("jump", pc, target=(base + f2["imm_i"]) & ~1 & MASK64))
        return True

    def emit_csr(self, pc: int, insn: int, name: str, f: dict[str, int]) -> None:
        """A CSR instruction: a load or a store in the vCPU page when that is all it does
        (emulated in the cache), else a callout."""
        csr = self.csrs.NUMBERS.get(f["csr"])
        if csr is None:  # a counter (allowed in U-mode) or an M-level CSR (illegal): as is
            self.put(insn.to_bytes(4, "little"), pc)
            return
        rd = f["rd"]
        src = f.get("rs1", f.get("zimm5", 0))
        slot = SLOT0 + SLOTS[csr]
        if name in ("csrrs", "csrrc", "csrrsi", "csrrci") and src == 0:  # a read
            self.put(self.asm(f"ld {_reg(rd)}, {slot}(zero)") if rd else NOP, pc)
            return
        if name == "csrrw" and csr in ("sscratch", "scause", "stval", "sepc"):
            rs1 = _reg(src)
            if rd == 0 and csr != "sepc":
                self.put(self.asm(f"sd {rs1}, {slot}(zero)"), pc)
                return
            tmp = next(r for r in ("t0", "t1", "t2") if r not in (_reg(rd), rs1))
            text = [f"sd {tmp}, {SLOT0 + SPILL}(zero)", f"mv {tmp}, {rs1}"]
            if csr == "sepc":
                text.append(f"andi {tmp}, {tmp}, -2")  # sepc's WARL rule: even
            if rd:
                text.append(f"ld {_reg(rd)}, {slot}(zero)")
            text += [f"sd {tmp}, {slot}(zero)", f"ld {tmp}, {SLOT0 + SPILL}(zero)"]
            self.put(self.asm("\n".join(text)), pc)
            return
        self.emit_callout(Callout("emulate", pc, insn=insn), boundary=True)

    # --- callouts -----------------------------------------------------------------------
    def callout(self, c: Callout, site: int) -> bool:
        """The translated code asks for the hypervisor, at the ebreak at ``site``."""
        vcpu = self.domain.vcpu
        self.domain.record("callout", c.insn, c.target, pc=c.guest_pc)
        if c.kind == "jump":
            self.chain(c, site)
            return True
        if c.kind == "indirect":
            target = (vcpu.x[c.rs1] + c.imm) & ~1 & MASK64
            if c.rd:
                vcpu.x[c.rd] = c.link
            vcpu.pc = target
            return True
        vcpu.pc = c.guest_pc  # emulate it as trap-and-emulate would, without the trap
        name = decode(c.insn).name
        if name == "ecall":
            self.kernel_ecall()
            if self.sbi.reset is not None:
                self.request(Shutdown(self.sbi.reset.reason))
                return False
        elif name == "fence.i":
            self.flush_cache()
            vcpu.pc += 4
        else:
            self.privileged_instruction(Exit("host-exit", 0, c.guest_pc, cause=K.EXC_ILLEGAL,
                                             tval=c.insn))
        self.deliver_interrupts()  # at the guest's pc: its sepc is never a cache address
        if name in CSR_OPS and vcpu.pc == c.guest_pc + 4 and self.vmode == Mode.S:
            vcpu.pc = site + 4  # the next instruction's translation follows the callout
        return True

    def chain(self, c: Callout, site: int) -> None:
        """Go to the jump's target, and patch the callout into a direct jump to the
        target's translation when both lie in the same guest page (a page's contents sit
        at the same offsets in every address space that maps it), and the callout is
        still there (translating the target may have flushed a full cache)."""
        flushes = self.flushes
        self.dispatch(c.target)
        dest = self.domain.vcpu.pc
        if self.flushes == flushes and c.guest_pc >> 12 == c.target >> 12 \
                and self.in_cache(dest) \
                and -(1 << 20) <= dest - site < (1 << 20):
            jump = bytes(assemble(f"j . + {dest - site}", base=site).sections[".text"].data)
            self.tc_write(site, jump)
            del self.callouts[site]

    def virtual_csrs(self) -> dict[str, int]:
        return super().virtual_csrs() | {"translated_blocks": self.translated_blocks,
                                         "tc_bytes": self.tc_next - TC_VA}


def _sext32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >> 31 else v
