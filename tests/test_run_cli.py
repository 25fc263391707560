"""`vkernel run`: bare-metal programs built for QEMU's virt board, end to end."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import require_tool

UART_PRINT = """
    .option norvc
    .equ UART, 0x10000000
    .globl _start
_start:
    la a0, msg
    li a1, UART
1:  lbu t0, 0(a0)
    beqz t0, 2f
3:  lbu t1, 5(a1)          # LSR: wait until the transmit holding register is empty
    andi t1, t1, 0x20
    beqz t1, 3b
    sb t0, 0(a1)
    addi a0, a0, 1
    j 1b
2:  li t0, 0x100000        # SiFive test finisher
    li t1, {finish}
    sw t1, 0(t0)
4:  j 4b
    .section .rodata
msg: .string "{text}"
"""

ECHO = """
    .equ UART, 0x10000000
    .globl _start
_start:
    li a1, UART
1:  lbu t1, 5(a1)          # LSR.DR: a byte has arrived
    andi t1, t1, 1
    beqz t1, 1b
    lbu t0, 0(a1)
    sb t0, 0(a1)           # echo it
    li t2, 'q'
    bne t0, t2, 1b
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
"""


def vkernel_run(*args: str, stdin: bytes | None = None, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "vkernel", "run", *args], input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, check=False)


def build(gnu, source: str):
    return gnu.build(source, {".text": 0x8000_0000, ".rodata": 0x8000_1000}).elf


def test_uart_output_of_a_gnu_built_elf(gnu):
    elf = build(gnu, UART_PRINT.format(text="Hello, virt!\\n", finish="0x5555"))
    r = vkernel_run(str(elf))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello, virt!\n"


def test_same_output_as_qemu(gnu):
    qemu = require_tool("qemu-system-riscv64")
    elf = build(gnu, UART_PRINT.format(text="same bytes as QEMU\\n", finish="0x5555"))
    q = subprocess.run([qemu, "-machine", "virt", "-bios", "none", "-kernel", str(elf),
                        "-display", "none", "-serial", "stdio", "-monitor", "none"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    r = vkernel_run(str(elf))
    assert (r.returncode, r.stdout) == (q.returncode, q.stdout) == (0, b"same bytes as QEMU\n")


def test_finisher_failure_code_is_the_exit_status(gnu):
    elf = build(gnu, UART_PRINT.format(text="bad\\n", finish="0x3333 | (5 << 16)"))
    r = vkernel_run(str(elf))
    assert (r.returncode, r.stdout) == (5, b"bad\n")


def test_htif_exit_code_from_assembly_source(tmp_path):
    src = tmp_path / "htif.s"
    src.write_text("""
        li t0, (21 << 1) | 1       # HTIF: fail with code 21
        la t1, tohost
        sd t0, 0(t1)
    1:  j 1b
        .data
        .align 3
    tohost: .dword 0
    """)
    r = vkernel_run(str(src))
    assert r.returncode == 21


def test_budget_and_idle_exits(tmp_path):
    spin = tmp_path / "spin.s"
    spin.write_text("1: j 1b\n")
    r = vkernel_run(str(spin), "--max-steps", "1000")
    assert r.returncode == 124 and b"1000 steps" in r.stderr
    idle = tmp_path / "idle.s"
    idle.write_text("wfi\nj .\n")  # nothing can ever interrupt it
    r = vkernel_run(str(idle))
    assert r.returncode == 125 and b"wfi" in r.stderr


def test_stdin_reaches_the_uart(tmp_path):
    src = tmp_path / "echo.s"
    src.write_text(ECHO)
    r = vkernel_run(str(src), stdin=b"typed text q")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"typed text q"


@pytest.mark.parametrize("content, message", [(b"\x7fELF\x01garbage", b"truncated ELF"),
                                              (b"li a0, bogus(\n", b"bad.s:1:13")])
def test_bad_files_are_reported(tmp_path, content, message):
    path = tmp_path / ("bad.elf" if content.startswith(b"\x7f") else "bad.s")
    path.write_bytes(content)
    r = vkernel_run(str(path))
    assert r.returncode == 1 and message in r.stderr and b"Traceback" not in r.stderr


def _vkernel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vkernel.cli", *args], capture_output=True,
                          timeout=300)


def test_run_a_shipped_guest_under_each_technique(tmp_path):
    """`vkernel run --guest W --technique T`: the guest kernel's console on stdout, its
    shutdown reason as the exit status, the same bytes under every technique; --trace
    records what the hypervisor did."""
    native = _vkernel("run", "--guest", "null-syscall", "--n", "20")
    assert native.returncode == 0
    assert native.stdout.decode().splitlines()[-2] == "[1] null-syscall: 20 done"
    for technique in ("trap-emulate", "binary-translation", "hardware"):
        r = _vkernel("run", "--guest", "null-syscall", "--n", "20", "--technique", technique)
        assert (r.returncode, r.stdout) == (0, native.stdout), technique
    out = tmp_path / "te.nc"
    r = _vkernel("run", "--guest", "null-syscall", "--n", "20", "--technique", "trap-emulate",
                 "--trace", str(out), "--families", "trap")
    assert r.returncode == 0 and b"hv" in r.stderr
    import xarray as xr

    ds = xr.open_dataset(out)
    assert ds.attrs["technique"] == "trap-emulate" and ds.sizes["hv"] > 20 * 10


def test_run_a_guest_with_its_memory_options_and_its_p2m_traced(tmp_path):
    """--paging, --shadow and --walk-cache choose how the guest's memory is virtualized
    (the same console every way); a trace of --guest starts at its creation, so --families
    p2m redraws its p2m."""
    import vkernel

    runs = {}
    for opts in ((), ("--paging", "shadow"), ("--paging", "shadow", "--shadow", "simple"),
                 ("--walk-cache",)):
        out = tmp_path / f"{len(runs)}.nc"
        r = _vkernel("run", "--guest", "fork-copy", "--n", "4", "--technique", "hardware",
                     *opts, "--trace", str(out), "--families", "walk,p2m")
        assert r.returncode == 0, r.stderr
        runs[opts] = (r.stdout, vkernel.open_trace(out))
    stdouts = {o: s for o, (s, _) in runs.items()}
    assert len(set(stdouts.values())) == 1 and b"fork-copy: 4 done" in stdouts[()]
    shadow = {o: (ds.hv_event.values == 6).sum() for o, (_, ds) in runs.items()}  # updates
    assert shadow[()] == shadow[("--walk-cache",)] == 0 < shadow[("--paging", "shadow")]
    walks = {o: ds.vk.walks() for o, (_, ds) in runs.items()}
    assert int(walks[("--walk-cache",)].walk_cache_hits) > 0 == int(walks[()].walk_cache_hits)
    ds = runs[()][1]
    assert ds.sizes["p2m"] >= 2048 and len(ds.vk.p2m()) == ds.sizes["p2m"]
    r = _vkernel("run", "--guest", "hello", "--technique", "paravirt", "--paging", "shadow")
    assert r.returncode == 1 and b"paravirt has no choice" in r.stderr
    r = _vkernel("run", "--guest", "hello", "--paging", "sideways")
    assert r.returncode == 2 and b"invalid choice" in r.stderr
    program = tmp_path / "p.s"
    program.write_text("li a0, 0\n")
    r = _vkernel("run", str(program), "--shadow", "simple")
    assert r.returncode == 2 and b"use them with --guest" in r.stderr


def test_run_guest_with_the_switch_and_bad_arguments():
    r = _vkernel("run", "--guest", "hello", "--technique", "trap-emulate",
                 "--sensitive-unprivileged")
    assert r.returncode == 1 and b"panic: timer interrupt not taken" in r.stdout
    r = _vkernel("run", "--guest", "hello", "--technique", "magic")
    assert r.returncode == 1 and b"choose from native, trap-emulate" in r.stderr
    r = _vkernel("run", "--guest", "nope")
    assert r.returncode != 0 and b"nope" in r.stderr
    assert _vkernel("run").returncode == 2


def test_bench_host_table(tmp_path):
    """`vkernel bench host`: N domains of mixed techniques on one host, and the one-domain
    Host against the VM shortcut (the same run: the same steps)."""
    import json

    out = tmp_path / "host.json"
    r = _vkernel("bench", "host", "--n", "20", "--domains", "1,2", "--repeat", "1",
                 "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert b"Host/VM" in r.stdout
    data = json.loads(out.read_text())
    one, two = data["rows"]
    assert (one["domains"], two["techniques"]) == (1, ["hardware", "paravirt"])
    assert two["exits"] > one["exits"] and two["host_steps"] > one["host_steps"]
    assert [x["technique"] for x in data["one_domain"]] == ["hardware", "paravirt",
                                                            "trap-emulate",
                                                            "binary-translation"]


def test_bench_virt_table(tmp_path):
    """The benchmark's figures per operation come from real runs: an emulated device
    register access is one VM exit under the hypervisors and none natively."""
    import json

    out = tmp_path / "virt.json"
    r = _vkernel("bench", "virt", "--n1", "10", "--n2", "20", "--techniques",  # same digits
                 "native,hardware,hardware-shadow,trap-emulate", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rows = {(x["benchmark"], x["technique"]): x for x in json.loads(out.read_text())["rows"]}
    assert rows["device", "native"]["exits_per_op"] == 0
    assert rows["device", "hardware"]["exits_per_op"] == 1
    assert rows["device", "trap-emulate"]["exits_per_op"] == 1
    assert rows["irq-mask", "trap-emulate"]["exits_per_op"] == 2  # csrc and csrs trap
    assert rows["irq-mask", "hardware"]["exits_per_op"] == 0
    assert rows["null-syscall", "hardware"]["cycles_per_op"] < \
        rows["null-syscall", "trap-emulate"]["cycles_per_op"]
    # without nested paging (first-generation VT-x) the guest's page faults and its
    # sfence.vma exit: a reflected fault, an sfence.vma, hidden faults to fill the shadow
    assert rows["device", "hardware-shadow"]["exits_per_op"] == 1
    assert rows["pte-update", "hardware-shadow"]["exits_per_op"] == 1
    assert rows["pte-update", "hardware"]["exits_per_op"] == 0
    assert rows["page-fault", "hardware-shadow"]["exits_per_op"] >= 3
    assert rows["page-fault", "hardware"]["exits_per_op"] < 1
    assert rows["irq-mask", "hardware-shadow"]["exits_per_op"] == 0


def test_bench_memory_table(tmp_path):
    """`vkernel bench memory`, one page-table-heavy workload: every map and unmap is a
    real walk and a real PTE change. Natively a walk reads 2 entries (a kernel megapage)
    or 3; nested paging misses the TLB where native does, and each of its walks is
    two-dimensional: at least 11 references (a megapage, 2 + 3 x 3) without a walk cache.
    Para-virtualized a map and an unmap are an mmu_update and an INVLPG each. A
    configuration this version cannot build is skipped, not an error."""
    import json

    out = tmp_path / "memory.json"
    r = _vkernel("bench", "memory", "--n1", "10", "--n2", "20", "--workloads", "map-unmap",
                 "--configs", "native,hw-nested,pv-direct,te-shadow,hw-nested-wc",
                 "--out", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    rows = {x["config"]: x for x in data["rows"]}
    native, nested, pv, te = (rows[k] for k in ("native", "hw-nested", "pv-direct",
                                                "te-shadow"))
    assert native["translations_per_op"] > 0 and native["exits_per_op"] == 0
    assert native["hv_events_per_op"] == 0
    assert native["walk_references_per_op"] >= 2 * native["translations_per_op"]
    assert nested["translations_per_op"] == native["translations_per_op"]
    assert nested["walk_references_per_op"] >= 11 * nested["translations_per_op"]
    assert pv["events_per_op"]["hypercall"] == 4
    assert te["exits_per_op"] > 1 and te["events_per_op"]["shadow_update"] > 0
    assert te["cycles_per_op"] > pv["cycles_per_op"] > native["cycles_per_op"]
    assert "hw-nested-wc" in rows or "walk_cache" in data["skipped"]["hw-nested-wc"]
    assert all(x["sim_steps_per_second"] > 0 for x in data["rows"])


BOOT_KERNEL = """
    # an S-mode kernel started by the firmware: prints 'S' if a1 holds the device tree
    li    a7, 0x4442434E           # SBI DBCN: write one byte
    li    a6, 2
    li    a0, 'x'
    beqz  a1, 1f
    lwu   t0, 0(a1)
    li    t1, 0xedfe0dd0           # the FDT magic, read little-endian
    bne   t0, t1, 1f
    li    a0, 'S'
1:  ecall
    li    a7, 0x53525354           # SBI SRST: shut down, reason 0 = pass
    li    a6, 0
    li    a0, 0
    li    a1, 0
    ecall
"""


def test_run_boots_a_kernel_through_the_default_firmware(tmp_path):
    """`vkernel run --kernel K --dtb D`: vkernel's own SBI firmware (sbi.s) at 0x80000000
    starts K at 0x80200000 in S-mode with a1 = the device tree, which it placed (the
    machine's own without --dtb)."""
    kernel = tmp_path / "k.s"
    kernel.write_text(BOOT_KERNEL)
    dtb = tmp_path / "tiny.dtb"
    dtb.write_bytes(b"\xd0\x0d\xfe\xed" + (64).to_bytes(4, "big") + bytes(56))
    r = vkernel_run("--kernel", str(kernel), "--dtb", str(dtb))
    assert (r.returncode, r.stdout) == (0, b"S"), r.stderr
    r = vkernel_run("--kernel", str(kernel))  # the machine's own device tree
    assert (r.returncode, r.stdout) == (0, b"S"), r.stderr


def test_run_bios_none_is_bare_metal(tmp_path):
    src = tmp_path / "echo.s"
    src.write_text(ECHO)
    r = vkernel_run("--bios", "none", "--kernel", str(src), stdin=b"bare q")
    assert (r.returncode, r.stdout) == (0, b"bare q"), r.stderr


@pytest.mark.parametrize("args, message", [
    (["x.s", "--kernel", "k.s"], b"not both"),
    (["x.s", "--dtb", "d.dtb"], b"go with --kernel"),
    (["--guest", "hello", "--bios", "none"], b"not with --bios"),
    (["--bios", "none"], b"give a kernel"),
])
def test_run_boot_options_that_do_not_go_together(args, message):
    r = vkernel_run(*args)
    assert r.returncode in (1, 2) and message in r.stderr and b"Traceback" not in r.stderr
