"""The H extension in machine code: vkernel/guests/hs_hypervisor.s, a bare-metal hypervisor.

The hypervisor boots in M-mode, drops to HS-mode and runs the unmodified guest kernel
(vkernel/guests/kernel.s) in VS-mode behind a scrambled Sv39x4 G-stage table, answering its
SBI calls; no Python takes part once the machine runs. The same program (as an ELF) also
boots on QEMU 7.2's ``virt`` board with ``-cpu rv64,h=true``. For each workload the console
of three runs must be byte-identical:

* the native run (``vkernel.guests.native``: firmware sbi.s in M, the kernel in S),
* the hypervisor on vkernel (``Machine(ram_mb=64)``),
* the hypervisor on QEMU (skipped when QEMU is not installed).

The guest cannot tell it is virtualized, and vkernel's H extension behaves as QEMU's does
for a real hypervisor. Where QEMU 7.2 gets the H extension wrong (exception causes 2 and 6
delegated to VS arrive with vscause 1 and 5; a VU access to a supervisor CSR is an illegal
instruction instead of a virtual-instruction exception), the hypervisor works around it in a
way that is correct on both; see its header.
"""

from __future__ import annotations

import collections
import functools
import shutil
import subprocess
from pathlib import Path

import pytest

from vkernel import Machine, assemble
from vkernel.guests import GUEST_RAM, HS_RAM_MB, KERNEL_BASE, PAGE, hs_hypervisor, native

QEMU = "qemu-system-riscv64"
QEMU_ARGS = ["-machine", "virt", "-cpu", "rv64,h=true", "-m", f"{HS_RAM_MB}M", "-bios", "none",
             "-nographic"]
# QEMU's timer runs on the host's clock. With short time slices an exit can take longer
# than a slice and the guest never gets anywhere (it did at time_slice=20): such runs use
# -icount, which ties time to instructions as vkernel does (one tick per 12.5 instructions
# at shift=3, vkernel's is 10).
ICOUNT = ["-icount", "shift=3"]
TIMEOUT = 30  # seconds for one QEMU run (each takes well under one)
BUDGET = 20_000_000  # vkernel steps; every run needs under 500 000

# (workload, n): every workload, the benchmarks with a small n
WORKLOADS = [("hello", None), ("null-syscall", 50), ("page-fault", 20), ("faults", None),
             ("exception", 20), ("call-return", 20), ("irq-mask", 20), ("device", 20),
             ("pte-update", 20), ("map-unmap", 20), ("as-switch", 20), ("fork-copy", 20)]
U, HS, M, VU, VS = 0, 1, 3, 4, 5  # trap_from_mode / trap_to_mode values
INTERRUPT = 1 << 63
# what may trap from the guest into the hypervisor: SBI calls (ecall from VS), what it
# reflects (virtual instruction on vkernel, illegal instruction on QEMU, from VU), and
# loads from the UART (load guest-page faults, emulated)
EXITS = {10, 22, 2, 21}
HS_FAIL = 0xFE  # the hypervisor's exit code when it gives up


def _id(p):
    return f"{p[0]}" if p[1] is None else f"{p[0]}-n{p[1]}"


@functools.cache
def native_console(workload: str, n: int | None, time_slice: int | None = None) -> str:
    m = native(workload, n, time_slice=time_slice)
    exit = m.run(max_steps=BUDGET)
    assert exit.reason == "halt" and exit.exit_code == 0, exit
    return m.console


@functools.cache
def on_vkernel(workload: str, n: int | None, time_slice: int | None = None):
    """(machine, exit, {(from mode, to mode, cause): count}) of the hypervisor's run."""
    m = Machine(ram_mb=HS_RAM_MB, trace="trap")
    m.load(hs_hypervisor(workload, n, time_slice=time_slice))
    exit = m.run(max_steps=BUDGET)
    ev = m.events("trap")
    traps = collections.Counter(zip(ev["from_mode"].tolist(), ev["to_mode"].tolist(),
                                    ev["cause"].tolist(), strict=True))
    return m, exit, traps


def on_qemu(program, tmp_path: Path, icount: bool = False) -> tuple[bytes, int]:
    """(console bytes, exit status) of ``program`` booted on QEMU."""
    elf = tmp_path / f"{program.name}.elf"
    program.to_elf(elf)
    try:
        run = subprocess.run([QEMU, *QEMU_ARGS, *(ICOUNT if icount else []), "-kernel",
                              str(elf)], capture_output=True, timeout=TIMEOUT,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{program.name} did not finish on QEMU in {TIMEOUT} s; it printed:\n"
                    f"{(e.stdout or b'').decode(errors='replace')}")
    return run.stdout, run.returncode


needs_qemu = pytest.mark.skipif(shutil.which(QEMU) is None, reason=f"{QEMU} is not installed")


# ---- on vkernel ------------------------------------------------------------------------------
@pytest.mark.parametrize("workload", WORKLOADS, ids=_id)
def test_on_vkernel_as_native(workload):
    m, exit, traps = on_vkernel(*workload)
    assert (exit.reason, exit.exit_code) == ("halt", 0), f"{exit}\n{m.console}"
    assert m.console == native_console(*workload)
    # nothing ever traps into M; into HS only exits from the guest (V=1) that it handles
    into = collections.Counter()
    for (src, dst, cause), count in traps.items():
        assert dst != M, f"a trap into M: cause {cause:#x} from mode {src}"
        if dst == HS:
            assert src in (VS, VU) and cause in EXITS, (src, cause)
            into[cause] += count
    # the guest's own traps stay in the guest: system calls, page faults, its timer
    in_guest = collections.Counter(cause for (src, dst, cause) in traps.elements()
                                   if dst == VS)
    assert in_guest[INTERRUPT | 6] >= 1  # the VS timer, via vstimecmp (the self-check)
    assert into[10] >= m.console.count("\n")  # one SBI call per console line, at least
    if workload[0] == "null-syscall":
        assert in_guest[8] >= workload[1]  # ecall from VU: getpid, no exit
    if workload[0] == "page-fault":
        assert in_guest[15] >= workload[1]  # store page faults: demand paging, no exit
    if workload[0] == "exception":
        assert in_guest[3] >= workload[1]  # breakpoints: straight to the guest
    if workload[0] == "faults":
        assert into[22] == 1  # csrr sstatus in VU: a virtual instruction, reflected
    if workload[0] == "device":
        assert into[21] == workload[1]  # the UART loads: emulated by the hypervisor


def test_second_stage_is_not_identity():
    """The guest's RAM lives in scrambled frames: guest-physical 0x8020_0000 is not machine
    0x8020_0000, and neighbouring guest pages are far apart."""
    m, exit, _ = on_vkernel("hello", None)
    prog = hs_hypervisor("hello")
    sym = prog.symbols
    image = prog.sections["guest_image"].data

    def frame(gpa: int) -> int:
        g = (gpa - GUEST_RAM[0]) // PAGE
        return sym["GUEST_FRAMES"] + ((g * sym["PERM_MUL"] + sym["PERM_ADD"])
                                      % sym["GUEST_PAGES"]) * PAGE

    hgatp = m.hart.csr["hgatp"]
    assert hgatp >> 60 == 8 and (hgatp & (1 << 44) - 1) << 12 == sym["GSTAGE_ROOT"]
    assert m.mem.read(KERNEL_BASE, PAGE) == bytes(PAGE)  # nothing at the identity address
    first = frame(KERNEL_BASE)
    assert m.mem.read(first, 64) == image[:64]  # the kernel's first page is here ...
    second = frame(KERNEL_BASE + PAGE)
    assert abs(second - first) > 16 * PAGE  # ... and its second one far away
    assert m.mem.read(second, PAGE) == image[PAGE:2 * PAGE]  # (read-only: still as loaded)
    frames = {frame(GUEST_RAM[0] + i * PAGE) for i in range(sym["GUEST_PAGES"])}
    assert len(frames) == sym["GUEST_PAGES"]  # a permutation


def test_preemption_heavy_on_vkernel():
    """A time slice of 50 ticks: the guest's timer interrupts come often, all in the
    guest."""
    m, exit, traps = on_vkernel("hello", None, 50)
    assert (exit.reason, exit.exit_code) == ("halt", 0)
    assert m.console == native_console("hello", None, 50)
    timer = sum(c for (src, dst, cause), c in traps.items() if cause == INTERRUPT | 6)
    assert timer > 50 and all(dst == VS for (src, dst, cause) in traps
                              if cause == INTERRUPT | 6)


# ---- small guests of our own: the SBI convention, reflected exceptions, fatal faults ----
# The probe prints (through SBI) what an SBI call it does not offer returns and whether it
# kept every other register, then takes three exceptions and prints, from its own trap
# handler, scause, stval, sepc (from _start) and sstatus's SPP, SPIE, SIE. The first two
# exit to the hypervisor, which injects them (reading hstatus: a virtual-instruction
# exception, on vkernel and QEMU alike, seen by the guest as an illegal instruction; writing
# mstatus: an illegal instruction, reflected); the third (ebreak) is delegated by hedeleg.
PROBE = r"""
        .equ DBCN, 0x4442434E
        .equ SRST, 0x53525354
_start: la    t0, trap
        csrw  stvec, t0
        la    sp, stack_top
        # an SBI call the hypervisor does not offer: a0 = -2, a1 = 0, the rest preserved
        li    a7, 0x12345678
        li    a6, 3
        li    a1, 5
        li    a2, 77
        li    s0, 0x1234
        li    t6, -9
        ecall
        mv    s1, a0
        mv    s2, a1
        li    s4, 0x12345678 + 3 + 77 + 0x1234 - 9
        sub   s4, s4, a7
        sub   s4, s4, a6
        sub   s4, s4, a2
        sub   s4, s4, s0
        sub   s4, s4, t6
        li    a0, 's'
        call  putc
        mv    a0, s1
        call  puthex
        mv    a0, s2
        call  puthex
        mv    a0, s4
        call  puthex                    # 0: all preserved
        li    a0, '\n'
        call  putc
        csrr  t0, hstatus               # a hypervisor CSR: illegal for the guest
        csrw  mstatus, zero             # a machine CSR: illegal
        ebreak                          # delegated straight to the guest
        li    a7, SRST
        li    a6, 0
        li    a0, 0
        li    a1, 0
        ecall
        j     .

        .align 2
trap:   li    a0, 't'
        call  putc
        csrr  a0, scause
        call  puthex
        csrr  a0, stval
        csrr  t0, scause
        li    t1, 3
        bne   t0, t1, 1f
        li    a0, 0                     # (a breakpoint's stval is the pc, or 0)
1:      call  puthex
        csrr  a0, sepc
        la    t0, _start
        sub   a0, a0, t0
        call  puthex
        csrr  a0, sstatus
        andi  a0, a0, 0x122             # SPP, SPIE, SIE
        call  puthex
        li    a0, '\n'
        call  putc
        csrr  t0, sepc
        addi  t0, t0, 4
        csrw  sepc, t0
        sret

putc:   li    a7, DBCN
        li    a6, 2
        ecall
        ret

puthex: addi  sp, sp, -16
        sd    ra, 8(sp)
        sd    s3, 0(sp)
        mv    s3, a0
        li    a0, ' '
        call  putc
        li    t2, 60
2:      srl   a0, s3, t2
        andi  a0, a0, 15
        addi  a0, a0, '0'
        li    t0, '9'
        ble   a0, t0, 3f
        addi  a0, a0, 'a' - '9' - 1
3:      call  putc
        addi  t2, t2, -4
        bgez  t2, 2b
        ld    s3, 0(sp)
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

        .data
        .align 4
        .zero 1024
stack_top:
"""
PROBE_CONSOLE = """\
s fffffffffffffffe 0000000000000000 0000000000000000
t 0000000000000002 00000000600022f3 0000000000000098 0000000000000100
t 0000000000000002 0000000030001073 000000000000009c 0000000000000100
t 0000000000000003 0000000000000000 00000000000000a0 0000000000000100
"""

# (name, guest, its console's last line): guest-page faults the hypervisor does not emulate
FATAL = {
    "store-to-uart": ("_start: li t0, 0x10000000\n li t1, 'x'\n sb t1, 5(t0)\n j .",
                      "hs: guest-page fault at guest-physical 0x0000000010000005 "
                      "scause=0x0000000000000017 epc=0x0000000080200008 "
                      "tval=0x0000000010000005"),
    "load-no-ram": ("_start: li t0, 0x90000000\n ld t1, 8(t0)\n j .",
                    "hs: guest-page fault at guest-physical 0x0000000090000008 "
                    "scause=0x0000000000000015 epc=0x0000000080200008 "
                    "tval=0x0000000090000008"),
    "fetch-no-ram": ("_start: li t0, 0x7ff00000\n jr t0",
                     "hs: guest-page fault at guest-physical 0x000000007ff00000 "
                     "scause=0x0000000000000014 epc=0x000000007ff00000 "
                     "tval=0x000000007ff00000"),
}


def own_guest(source: str, name: str):
    return hs_hypervisor(assemble(source, base=KERNEL_BASE, name=name))


@functools.cache
def probe_on_vkernel():
    m = Machine(ram_mb=HS_RAM_MB)
    m.load(own_guest(PROBE, "probe"))
    return m, m.run(max_steps=BUDGET)


def test_probe_on_vkernel():
    m, exit = probe_on_vkernel()
    assert (exit.reason, exit.exit_code) == ("halt", 0)
    assert m.console == PROBE_CONSOLE


@pytest.mark.parametrize("name", FATAL)
def test_fatal_guest_page_fault_on_vkernel(name):
    source, last = FATAL[name]
    m = Machine(ram_mb=HS_RAM_MB)
    m.load(own_guest(source, name))
    exit = m.run(max_steps=BUDGET)
    assert (exit.reason, exit.exit_code) == ("halt", HS_FAIL)
    assert m.console == last + "\n"


# SBI console_write (DBCN FID 0) from a guest of our own: its own buffer is printed; a
# buffer that is not all guest RAM -- running off its end, at a machine address (where the
# hypervisor keeps the guest's frames), wrapping around, above 2^64, 2^64 - 1 bytes long, the
# UART -- is refused with SBI_ERR_INVALID_PARAM (-3) and nothing is read. After each call
# the guest prints (with write_byte) 'A' + 3 + error and '0' + bytes written.
CONSOLE_WRITE = """
_start: li    a0, 3
        la    a1, message
        call  write
        li    a0, 8
        li    a1, 0x807ffffe            # the last 2 bytes of guest RAM, and 6 beyond
        call  write
        li    a0, 3
        li    a1, 0x81000000            # a machine address: the frame behind guest page 0
        call  write
        li    a0, 16
        li    a1, -8                    # wraps around 2^64
        call  write
        li    a0, -1                    # 2^64 - 1 bytes
        la    a1, message
        call  write
        li    a0, 3
        li    a1, 0x10000000            # the UART
        call  write
        li    a0, 3
        la    a1, message
        li    a2, 1                     # base_addr_hi: above 2^64
        call  write
        li    a0, 0                     # nothing at all
        la    a1, message
        call  write
        li    a7, 0x53525354
        li    a6, 0
        li    a0, 0
        li    a1, 0
        ecall
write:  li    a7, 0x4442434E
        li    a6, 0
        ecall                           # console_write(a0 bytes at a2:a1)
        li    a2, 0
        addi  a0, a0, 'A' + 3
        mv    t0, a1                    # (an SBI call keeps t0)
        li    a6, 2
        ecall                           # console_write_byte
        addi  a0, t0, '0'
        ecall
        ret
message: .ascii "ok\\n"
"""
CONSOLE_WRITE_OUT = "ok\nD3" + "A0" * 6 + "D0"


def test_sbi_console_write_on_vkernel():
    m = Machine(ram_mb=HS_RAM_MB)
    m.load(own_guest(CONSOLE_WRITE, "console-write"))
    exit = m.run(max_steps=BUDGET)
    assert (exit.reason, exit.exit_code) == ("halt", 0)
    assert m.console == CONSOLE_WRITE_OUT


# ---- on QEMU ---------------------------------------------------------------------------------
@needs_qemu
def test_sbi_console_write_on_qemu(tmp_path):
    out, status = on_qemu(own_guest(CONSOLE_WRITE, "console-write"), tmp_path)
    assert (out.decode(), status) == (CONSOLE_WRITE_OUT, 0)


@needs_qemu
@pytest.mark.parametrize("workload", WORKLOADS, ids=_id)
def test_on_qemu_as_on_vkernel(workload, tmp_path):
    out, status = on_qemu(hs_hypervisor(*workload), tmp_path)
    m, exit, _ = on_vkernel(*workload)
    assert out == m.console.encode(), out.decode(errors="replace")
    assert out == native_console(*workload).encode()
    assert status == 0  # the finisher's pass


@needs_qemu
def test_preemption_heavy_on_qemu(tmp_path):
    out, status = on_qemu(hs_hypervisor("hello", time_slice=50), tmp_path, icount=True)
    assert out == native_console("hello", None, 50).encode(), out.decode(errors="replace")
    assert status == 0


@needs_qemu
def test_probe_on_qemu(tmp_path):
    out, status = on_qemu(own_guest(PROBE, "probe"), tmp_path)
    assert out == PROBE_CONSOLE.encode(), out.decode(errors="replace")
    assert status == 0


@needs_qemu
@pytest.mark.parametrize("name", FATAL)
def test_fatal_guest_page_fault_on_qemu(name, tmp_path):
    source, last = FATAL[name]
    out, status = on_qemu(own_guest(source, name), tmp_path)
    assert out == (last + "\n").encode(), out.decode(errors="replace")
    assert status == HS_FAIL
