"""The device tree: vkernel's DTB against the one QEMU's ``virt`` board writes, both read
by Debian's ``dtc`` (an independent reader of the format: the DTB is written by the
``fdt`` package), node by node and property by property.

Every node vkernel has must be in QEMU's tree with the same properties and values (with
phandles resolved to the node they name, so numbering does not matter), but for the
differences in :data:`DIFFERENT`, each with its reason. QEMU's nodes vkernel leaves out
are :data:`LEFT_OUT`, each with its reason.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from vkernel import Machine, assemble
from vkernel.devices import BOARD, Board, BoardDevice
from vkernel.devices.dtb import device_tree, isa_extensions, to_dtb
from vkernel.machine import STEPS_PER_SECOND
from vkernel.trace.schema import ISA

QEMU = "qemu-system-riscv64"

# (node, property): why vkernel's value differs from QEMU 7.2's (checked separately below)
DIFFERENT = {
    ("/", "model"): "names the machine: riscv-virtio,vkernel (Linux only prints it)",
    ("/cpus", "timebase-frequency"): "the rate vkernel's time counts at: 10 MHz (QEMU's) "
                                     "over time_divider, at its nominal 10 MIPS",
    ("/cpus/cpu@0", "riscv,isa"): "vkernel's hart: no F or D, no bit manipulation, but Svadu",
    ("/cpus/cpu@0", "riscv,isa-base"): "newer binding (QEMU 8.2+ writes it; 7.2 does not)",
    ("/cpus/cpu@0", "riscv,isa-extensions"): "newer binding (QEMU 8.2+ writes it too)",
    ("/cpus/cpu@0", "mmu-type"): "vkernel's MMU has Sv39 only; QEMU's hart has Sv48 too",
    ("/cpus/cpu@0/interrupt-controller", "#address-cells"):
        "an interrupt provider needs it (dtc warns about QEMU 7.2's tree; QEMU 8 adds it)",
    ("/chosen", "bootargs"): "the command line Machine.dtb(bootargs) is given",
}

# QEMU's nodes vkernel has no device for (yet), and why
LEFT_OUT = {
    "/pmu": "vkernel has no hardware performance counters with events (SBI PMU)",
    "/fw-cfg@10100000": "QEMU's firmware configuration interface: vkernel loads programs "
                        "itself",
    "/flash@20000000": "the CFI flash is on the bus (two blank banks, as QEMU's without "
                       "-drive if=pflash) but not described yet: vkernel boots from RAM",
    "/platform-bus@4000000": "QEMU's dynamic sysbus devices (-device ...): none here",
    "/soc/rtc@101000": "goldfish RTC: vkernel has no wall clock (nothing reads the host's "
                       "time); a row in BOARD would give QEMU's node (see below)",
    "/soc/pci@30000000": "the PCIe ECAM is on the bus (the host bridge alone, as QEMU's "
                         "with no -device) but not described yet: devices are on "
                         "virtio-mmio",
}
# properties of QEMU's nodes that vkernel's leave out, and why
QEMU_ONLY_PROPERTIES = {
    ("/chosen", "rng-seed"): "QEMU's seed comes from the host's random numbers; vkernel's "
                             "runs are deterministic, and a guest then seeds from nothing",
}
PHANDLE_PROPS = {"interrupt-parent": 0, "interrupts-extended": 2, "regmap": 0, "cpu": 0}


def dtc_tree(blob: bytes, tmp_path: Path, name: str) -> dict[str, dict[str, str]]:
    """The tree of a DTB as dtc decompiles it: {node path: {property: value as dtc writes
    it}}, with phandle references replaced by the path of the node they name."""
    dtc = require_tool("dtc", "device-tree-compiler")
    path = tmp_path / f"{name}.dtb"
    path.write_bytes(blob)
    out = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(path)], capture_output=True,
                         text=True, check=True).stdout
    nodes: dict[str, dict[str, str]] = {}
    stack: list[str] = []
    for line in out.splitlines():
        line = line.strip()
        if m := re.fullmatch(r"(\S+) \{", line):
            stack.append(m[1])
            nodes["/" + "/".join(stack[1:])] = {}
        elif line == "};":
            stack.pop()
        elif m := re.fullmatch(r"([^=\s]+)(?: = (.*))?;", line):
            if stack:
                nodes["/" + "/".join(stack[1:])][m[1]] = m[2] or ""
    phandles = {props.pop("phandle"): path for path, props in nodes.items()
                if "phandle" in props}
    for props in nodes.values():
        for prop, stride in PHANDLE_PROPS.items():
            if prop in props:
                cells = props[prop].strip("<>").split()
                step = stride or 1
                props[prop] = " ".join(phandles[f"<{c}>"] if i % step == 0 else c
                                       for i, c in enumerate(cells))
    return nodes


def qemu_dtb(tmp_path: Path, ram_mb: int) -> bytes:
    """The DTB QEMU's virt board gives its guest, with ``ram_mb`` MiB of RAM."""
    qemu = require_tool(QEMU, "qemu-system-misc")
    out = tmp_path / "qemu.dtb"
    subprocess.run([qemu, "-M", f"virt,dumpdtb={out}", "-m", f"{ram_mb}M", "-nographic",
                    "-bios", "none"], capture_output=True, check=True, timeout=60)
    return out.read_bytes()


@pytest.mark.parametrize("ram_mb", [16, 128, 4096])
def test_nodes_match_qemu(ram_mb, tmp_path):
    """Every node and property of vkernel's tree is QEMU's, but for DIFFERENT; every QEMU
    node it leaves out is in LEFT_OUT; the RAM node follows the machine's RAM (4096 MiB:
    a size above 32 bits, in both cells)."""
    ours = dtc_tree(Machine(ram_mb=ram_mb).dtb(), tmp_path, "vkernel")
    theirs = dtc_tree(qemu_dtb(tmp_path, ram_mb), tmp_path, "qemu")
    for path, props in ours.items():
        assert path in theirs, f"{path} is not on QEMU's board"
        for prop, value in props.items():
            if (path, prop) in DIFFERENT:
                continue
            assert prop in theirs[path], f"QEMU's {path} has no {prop}"
            assert value == theirs[path][prop], f"{path} {prop}: {value} != {theirs[path][prop]}"
        missing = {p for p in theirs[path] if p not in props} \
            - {p for n, p in QEMU_ONLY_PROPERTIES if n == path}
        assert not missing, f"{path} lacks QEMU's {sorted(missing)}"
    left_out = set(theirs) - set(ours)
    assert left_out <= set(LEFT_OUT), sorted(left_out - set(LEFT_OUT))
    assert ours["/memory@80000000"]["reg"] == theirs["/memory@80000000"]["reg"]


def test_differences_are_the_machine(tmp_path):
    """Where vkernel's tree differs from QEMU's, it says what vkernel's machine is."""
    m = Machine(ram_mb=16, trace="trap")
    ours = dtc_tree(m.dtb(), tmp_path, "vkernel")
    theirs = dtc_tree(qemu_dtb(tmp_path, 16), tmp_path, "qemu")
    cpu, qcpu = ours["/cpus/cpu@0"], theirs["/cpus/cpu@0"]
    assert cpu["riscv,isa"] == f'"{ISA}"' == f'"{m.trace_dataset().attrs["isa"]}"'
    # every single-letter extension of vkernel's hart is one QEMU's has (H included, as
    # QEMU writes it: a letter after C)
    qemu_letters = qcpu["riscv,isa"].strip('"').split("_")[0][4:]
    assert set(isa_extensions()[:5]) <= set(qemu_letters)
    assert cpu["mmu-type"] == '"riscv,sv39"'
    assert ours["/"]["model"] == '"riscv-virtio,vkernel"'
    assert ours["/cpus/cpu@0/interrupt-controller"]["#address-cells"] == "<0x00>"
    # time: 10 MHz over time_divider; with time_divider=1, exactly QEMU's 10 MHz
    assert int(theirs["/cpus"]["timebase-frequency"].strip("<>"), 16) == STEPS_PER_SECOND
    for divider in (1, 10, 3):
        tb = dtc_tree(Machine(ram_mb=1, time_divider=divider).dtb(), tmp_path, "tb")
        assert int(tb["/cpus"]["timebase-frequency"].strip("<>"), 16) \
            == round(STEPS_PER_SECOND / divider)


def test_timebase_is_the_rate_of_time():
    """A guest that waits timebase-frequency ticks waits STEPS_PER_SECOND instructions: a
    second of vkernel's time (mtime = retired instructions / time_divider)."""
    for divider in (1, 10):
        m = Machine(ram_mb=1, time_divider=divider)
        m.load(assemble("spin: j spin"))
        m.run(100_000)
        assert m.hart.mtime == 100_000 // divider  # the time the guest reads
        assert m.timebase_frequency * divider == STEPS_PER_SECOND


def test_dtc_decompiles_without_warnings(tmp_path):
    """``dtc -I dtb -O dts`` reads vkernel's DTB with nothing on stderr (it warns about
    QEMU 7.2's own), and compiles Machine.dts()'s source back to the same tree."""
    dtc = require_tool("dtc", "device-tree-compiler")
    for i, m in enumerate([Machine(ram_mb=16), Machine(ram_mb=4096, time_divider=1)]):
        for bootargs in ("", "console=ttyS0 earlycon=sbi"):
            path = tmp_path / f"m{i}.dtb"
            path.write_bytes(m.dtb(bootargs))
            r = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(path)],
                               capture_output=True, text=True, check=False)
            assert r.returncode == 0 and r.stderr == "", r.stderr
            src = tmp_path / f"m{i}.dts"
            src.write_text(m.dts(bootargs))
            built = tmp_path / f"m{i}.back.dtb"
            back = subprocess.run([dtc, "-I", "dts", "-O", "dtb", "-o", str(built), str(src)],
                                  capture_output=True, text=True, check=False)
            assert back.returncode == 0 and back.stderr == "", back.stderr
            again = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(built)],
                                   capture_output=True, text=True, check=True)
            assert again.stdout == r.stdout


def test_qemu_tree_warns(tmp_path):
    """The check above can fail: dtc does warn about QEMU 7.2's DTB (its hart's interrupt
    controller has no #address-cells)."""
    dtc = require_tool("dtc", "device-tree-compiler")
    path = tmp_path / "qemu.dtb"
    path.write_bytes(qemu_dtb(tmp_path, 16))
    r = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(path)], capture_output=True,
                       text=True, check=False)
    assert "Missing #address-cells in interrupt provider" in r.stderr


def test_chosen():
    """/chosen: the console is the UART's node; bootargs only when given (as QEMU)."""
    m = Machine(ram_mb=1)
    assert "bootargs" not in m.dts()
    assert 'bootargs = "console=ttyS0";' in m.dts("console=ttyS0")
    assert 'stdout-path = "/soc/serial@10000000";' in m.dts()


def test_every_board_row_is_a_node(tmp_path):
    """The tree is the board table: each row is a node with its range and interrupt, and a
    row added to the table is in the tree with nothing else to change (a goldfish RTC
    row gives exactly QEMU's rtc node). A row on the bus but not yet described
    (``in_tree=False``: the flash, PCIe) has no node."""
    tree = device_tree(ram_size=1 << 20, timebase_frequency=1)
    for dev in BOARD.values():
        if not dev.in_tree:
            assert not tree.exist_node(f"/soc/{dev.node}@{dev.base:x}")
            continue
        path = "/memory@80000000" if dev.node == "memory" else f"/soc/{dev.node}@{dev.base:x}"
        node = tree.get_node(path)
        if dev.size is not None:
            assert node.get_property("reg").data == [0, dev.base, 0, dev.size]
        if dev.irq is not None:
            assert node.get_property("interrupts").value == dev.irq
    rtc = BoardDevice("rtc", 0x10_1000, 0x1000, "rtc", ("google,goldfish-rtc",), irq=11)
    board = Board(*BOARD.values(), rtc)
    ours = dtc_tree(to_dtb(device_tree(ram_size=16 << 20, timebase_frequency=1, board=board)),
                    tmp_path, "rtc")
    theirs = dtc_tree(qemu_dtb(tmp_path, 16), tmp_path, "qemu")
    assert ours["/soc/rtc@101000"] == theirs["/soc/rtc@101000"]
