"""The device tree of the board: what a guest reads to learn the machine it runs on.

A flattened device tree (FDT, or DTB: the Devicetree Specification v0.4, and the Linux
bindings for each device) is the data structure firmware hands a RISC-V kernel, as QEMU's
``virt`` board does: how much RAM and where, the hart (its ISA string, MMU, how fast
``time`` counts), the interrupt controllers and how lines are wired to them, and every
device with its registers and interrupt. A kernel that reads it needs no addresses
compiled in.

This one is generated from :data:`vkernel.devices.BOARD`, the table the bus dispatches
by, so it cannot disagree with the machine: each row becomes a node ``<node>@<base>``
with its ``compatible``, ``reg`` and, when it has a PLIC source, ``interrupts``; a few
kinds of node carry more (:data:`EXTRA`: the PLIC's contexts, the CLINT's interrupts,
the UART's clock). The nodes and properties are QEMU 7.2's (``hw/riscv/virt.c``);
``tests/test_dtb.py`` compares them with the DTB QEMU dumps. The format is written by the
``fdt`` package; ``dtc -I dtb -O dts`` reads it back without a warning.

>>> from vkernel.devices.dtb import device_tree
>>> tree = device_tree(ram_size=1 << 20, timebase_frequency=1_000_000)
>>> tree.get_property("reg", "/soc/serial@10000000").data
[0, 268435456, 0, 256]
>>> tree.get_property("timebase-frequency", "/cpus").value
1000000
"""

from __future__ import annotations

import re
from collections.abc import Callable

import fdt

from vkernel.devices import BOARD, Board, BoardDevice
from vkernel.devices.finisher import FINISHER_PASS, FINISHER_RESET
from vkernel.devices.plic import N_SOURCES
from vkernel.trace.schema import ISA

# interrupt numbers of the hart's local interrupt controller (mip bits)
IRQ_M_SOFT, IRQ_M_TIMER, IRQ_S_EXT, IRQ_M_EXT = 3, 7, 9, 11
UART_CLOCK = 3_686_400  # Hz, as QEMU's virt board says (the 16550's classic 1.8432 MHz x 2)
MMU_TYPE = "riscv,sv39"  # the only translation mode vkernel's MMU has besides Bare
# phandles: the hart's interrupt controller, the PLIC, the test finisher (syscon regmap)
PH_CPU, PH_INTC, PH_PLIC, PH_FINISHER = 1, 2, 3, 4
# their labels in the source (to_dts), and the properties whose cells hold phandles: every
# one (stride 1), or the first of each (phandle, interrupt) pair
LABELS = {PH_CPU: "cpu0", PH_INTC: "cpu0_intc", PH_PLIC: "plic", PH_FINISHER: "finisher"}
PHANDLE_CELLS = {"interrupt-parent": 1, "interrupts-extended": 2, "regmap": 1, "cpu": 1}


def _plic(dev: BoardDevice) -> list[fdt.Property]:
    # contexts 0 and 1 of hart 0: its M and S external interrupts, in the PLIC's order
    return [fdt.PropWords("phandle", PH_PLIC),
            fdt.PropWords("riscv,ndev", N_SOURCES),
            fdt.PropWords("interrupts-extended", PH_INTC, IRQ_M_EXT, PH_INTC, IRQ_S_EXT),
            fdt.Property("interrupt-controller"),
            fdt.PropWords("#address-cells", 0),
            fdt.PropWords("#interrupt-cells", 1)]


def _clint(dev: BoardDevice) -> list[fdt.Property]:
    # hart 0's msip and mtimecmp drive its M software and M timer interrupts
    return [fdt.PropWords("interrupts-extended", PH_INTC, IRQ_M_SOFT, PH_INTC, IRQ_M_TIMER)]


def _serial(dev: BoardDevice) -> list[fdt.Property]:
    return [fdt.PropWords("clock-frequency", UART_CLOCK)]


def _test(dev: BoardDevice) -> list[fdt.Property]:
    # a syscon: the poweroff and reboot nodes point at it by this phandle
    return [fdt.PropWords("phandle", PH_FINISHER)]


# the properties a kind of node (BoardDevice.node) has beyond compatible/reg/interrupts
EXTRA: dict[str, Callable[[BoardDevice], list[fdt.Property]]] = {
    "plic": _plic, "clint": _clint, "serial": _serial, "test": _test,
}


def isa_extensions(isa: str = ISA) -> list[str]:
    """The extensions of an ISA string, one name each (``riscv,isa-extensions``).

    >>> isa_extensions("rv64imach_zicsr_sstc")
    ['i', 'm', 'a', 'c', 'h', 'zicsr', 'sstc']
    """
    letters, *multi = isa.lower().split("_")
    return list(letters[4:]) + multi


def device_tree(*, ram_size: int, timebase_frequency: int, bootargs: str = "",
                initrd: tuple[int, int] | None = None, board: Board = BOARD,
                isa: str = ISA) -> fdt.FDT:
    """The device tree of ``board`` with ``ram_size`` bytes of RAM and one hart whose
    ``time`` counts ``timebase_frequency`` ticks a second; ``bootargs`` is the kernel
    command line in ``/chosen`` (left out when empty, as QEMU does); ``initrd`` the
    initial ramdisk's ``(start, end)``, as ``/chosen``'s ``linux,initrd-start`` and
    ``linux,initrd-end`` (one cell each, as QEMU 7.2's riscv_load_initrd writes them; two
    for an address past 4 GiB).

    >>> tree = device_tree(ram_size=128 << 20, timebase_frequency=1_000_000,
    ...                    bootargs="console=ttyS0")
    >>> tree.get_property("bootargs", "/chosen").value
    'console=ttyS0'
    >>> [n.name for n in tree.get_node("/soc").nodes][:2]
    ['test@100000', 'clint@2000000']
    """
    tree = fdt.FDT()
    tree.add_item(fdt.PropWords("#address-cells", 2))
    tree.add_item(fdt.PropWords("#size-cells", 2))
    tree.add_item(fdt.PropStrings("compatible", "riscv-virtio"))
    tree.add_item(fdt.PropStrings("model", "riscv-virtio,vkernel"))

    chosen = fdt.Node("chosen")
    if initrd is not None:
        for name, addr in zip(("linux,initrd-start", "linux,initrd-end"), initrd, strict=True):
            chosen.append(fdt.PropWords(name, *([addr] if addr >> 32 == 0 else
                                                [addr >> 32, addr & 0xFFFF_FFFF])))
    if bootargs:
        chosen.append(fdt.PropStrings("bootargs", bootargs))
    tree.add_item(chosen)

    cpus = fdt.Node("cpus", fdt.PropWords("#address-cells", 1), fdt.PropWords("#size-cells", 0),
                    fdt.PropWords("timebase-frequency", timebase_frequency))
    cpu = fdt.Node("cpu@0",
                   fdt.PropWords("phandle", PH_CPU),
                   fdt.PropStrings("device_type", "cpu"),
                   fdt.PropWords("reg", 0),
                   fdt.PropStrings("status", "okay"),
                   fdt.PropStrings("compatible", "riscv"),
                   fdt.PropStrings("riscv,isa", isa),
                   fdt.PropStrings("riscv,isa-base", isa[:4] + "i"),
                   fdt.PropStrings("riscv,isa-extensions", *isa_extensions(isa)),
                   fdt.PropStrings("mmu-type", MMU_TYPE))
    cpu.append(fdt.Node("interrupt-controller",
                        fdt.PropWords("#address-cells", 0),
                        fdt.PropWords("#interrupt-cells", 1),
                        fdt.Property("interrupt-controller"),
                        fdt.PropStrings("compatible", "riscv,cpu-intc"),
                        fdt.PropWords("phandle", PH_INTC)))
    cpus.append(cpu)
    cpus.append(fdt.Node("cpu-map", fdt.Node("cluster0", fdt.Node(
        "core0", fdt.PropWords("cpu", PH_CPU)))))
    tree.add_item(cpus)

    soc = fdt.Node("soc", fdt.PropWords("#address-cells", 2), fdt.PropWords("#size-cells", 2),
                   fdt.PropStrings("compatible", "simple-bus"), fdt.Property("ranges"))
    for dev in board.values():
        if not dev.in_tree:
            continue
        if dev.node == "memory":
            tree.add_item(fdt.Node(f"memory@{dev.base:x}",
                                   fdt.PropStrings("device_type", "memory"),
                                   fdt.PropWords("reg", *_cells(dev.base, ram_size))))
            continue
        node = fdt.Node(f"{dev.node}@{dev.base:x}",
                        fdt.PropStrings("compatible", *dev.compatible),
                        fdt.PropWords("reg", *_cells(dev.base, dev.size)))
        if dev.irq is not None:
            node.append(fdt.PropWords("interrupts", dev.irq))
            node.append(fdt.PropWords("interrupt-parent", PH_PLIC))
        for prop in EXTRA.get(dev.node, lambda d: [])(dev):
            node.append(prop)
        soc.append(node)
        if dev.node == "serial" and not chosen.exist_property("stdout-path"):
            chosen.append(fdt.PropStrings("stdout-path", f"/soc/{node.name}"))
    tree.add_item(soc)

    # the test finisher as a syscon: a 32-bit store of these values at offset 0
    finisher = any(dev.node == "test" for dev in board.values())
    for name, value in (("poweroff", FINISHER_PASS), ("reboot", FINISHER_RESET)) * finisher:
        tree.add_item(fdt.Node(name, fdt.PropStrings("compatible", f"syscon-{name}"),
                               fdt.PropWords("regmap", PH_FINISHER),
                               fdt.PropWords("offset", 0), fdt.PropWords("value", value)))
    for node in _nodes(tree.root):
        if node.exist_property("phandle"):
            node.set_label(LABELS[node.get_property("phandle").value])
    return tree


def _nodes(node: fdt.Node) -> list[fdt.Node]:
    return [node] + [n for child in node.nodes for n in _nodes(child)]


def _cells(base: int, size: int | None) -> list[int]:
    """``reg`` of a range with two address cells and two size cells."""
    size = size or 0
    return [base >> 32, base & 0xFFFF_FFFF, size >> 32, size & 0xFFFF_FFFF]


def to_dtb(tree: fdt.FDT) -> bytes:
    """The blob: FDT version 17, boot hart 0.

    >>> to_dtb(device_tree(ram_size=1 << 20, timebase_frequency=1_000_000))[:4].hex()
    'd00dfeed'
    """
    return tree.to_dtb(version=17, last_comp_version=16, boot_cpuid_phys=0)


def to_dts(tree: fdt.FDT) -> str:
    """The tree as device tree source: the ``fdt`` package's, with a reference to a node
    (``&plic``) where a cell is its phandle, so that ``dtc`` compiles it back to the same
    tree without a warning.

    >>> src = to_dts(device_tree(ram_size=1 << 20, timebase_frequency=1_000_000))
    >>> [line.strip() for line in src.splitlines() if "plic@" in line or "&plic" in line][:2]
    ['plic: plic@c000000 {', 'interrupt-parent = <&plic>;']
    """
    def refer(m: re.Match[str]) -> str:
        cells = m[2].split()
        stride = PHANDLE_CELLS[m[1]]
        cells = [f"&{LABELS[int(c, 16)]}" if i % stride == 0 else c for i, c in enumerate(cells)]
        return f"{m[1]} = <{' '.join(cells)}>;"

    names = "|".join(re.escape(name) for name in PHANDLE_CELLS)
    return re.sub(rf"\b({names}) = <([^>]*)>;", refer, tree.to_dts())
