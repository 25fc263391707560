"""The board a stock firmware probes, and QEMU's boot convention, against QEMU itself.

A small bare-metal probe runs on vkernel and under ``qemu-system-riscv64 -M virt -bios
none``: it prints the registers it was started with (a0 = hart id, a1 = the device tree's
address), every register of the eight virtio-mmio transports and the PCIe host bridge's
configuration space, writes a few of them and reads them back. The two consoles must be
the same, byte for byte.
"""

from __future__ import annotations

import subprocess

import pytest

import vkernel
from tests.conftest import require_tool
from vkernel import Machine
from vkernel.devices import MEMORY_MAP, VIRTIO_BASE, VIRTIO_COUNT, VIRTIO_SIZE

# what both probes print with (after their own .equ UART)
PRINT = """
# print a0 as a2 hex digits and a space
hex:    li    t0, UART
        mv    t3, a0
5:      addi  a2, a2, -1
        slli  t4, a2, 2
        srl   t2, t3, t4
        andi  t2, t2, 15
        li    t4, 10
        bltu  t2, t4, 6f
        addi  t2, t2, 87          # 'a' - 10
        j     7f
6:      addi  t2, t2, 48          # '0'
7:      lbu   t1, 5(t0)           # LSR.THRE
        andi  t1, t1, 0x20
        beqz  t1, 7b
        sb    t2, 0(t0)
        bnez  a2, 5b
        li    t2, 32
        sb    t2, 0(t0)
        ret

newline:
        li    t0, UART
8:      lbu   t1, 5(t0)
        andi  t1, t1, 0x20
        beqz  t1, 8b
        li    t2, 10
        sb    t2, 0(t0)
        ret
"""

PROBE = """
        .option norvc
        .equ UART, 0x10000000
        .globl _start
_start:
        mv    s0, a0
        mv    s1, a1
        mv    a0, s0              # a0 at reset: the hart id
        li    a2, 16
        call  hex
        call  newline
        mv    a0, s1              # a1 at reset: the device tree (QEMU puts one even with
        li    a2, 16              # -bios none)
        call  hex
        call  newline
        li    s2, 0x10001000      # the first transport
        li    s3, 0x10009000      # past the eighth
1:      li    s4, 0               # every register, the config space's first 16 bytes too
2:      add   t0, s2, s4
        lwu   a0, 0(t0)
        li    a2, 8
        call  hex
        addi  s4, s4, 4
        andi  t0, s4, 0x3f
        bnez  t0, 3f
        call  newline
3:      li    t0, 0x110
        bltu  s4, t0, 2b
        call  newline
        li    t0, 1               # Status = ACKNOWLEDGE, GuestPageSize = 4096, QueueSel = 0
        sw    t0, 0x70(s2)
        li    t0, 4096
        sw    t0, 0x28(s2)
        sw    zero, 0x30(s2)
        lwu   a0, 0x70(s2)        # and what they read back
        li    a2, 8
        call  hex
        lwu   a0, 0x28(s2)
        li    a2, 8
        call  hex
        lwu   a0, 0x34(s2)        # QueueNumMax
        li    a2, 8
        call  hex
        call  newline
        sw    zero, 0x70(s2)      # reset the device
        li    t0, 0x1000
        add   s2, s2, t0
        bltu  s2, s3, 1b
        li    s2, 0x30000000      # PCIe ECAM: 00:00.0, the host bridge, and past its end
        li    s4, 0
pci_loop:
        add   t0, s2, s4
        lwu   a0, 0(t0)
        li    a2, 8
        call  hex
        addi  s4, s4, 4
        andi  t0, s4, 0x3f
        bnez  t0, pci_next
        call  newline
pci_next:
        li    t0, 0x104
        bltu  s4, t0, pci_loop
        call  newline
        li    t1, -1              # all ones into Command/Status, Cache Line .. BIST, BAR0,
        sw    t1, 0x04(s2)        # Interrupt Line/Pin: only the writable bits stay
        sw    t1, 0x0c(s2)
        sw    t1, 0x10(s2)
        sw    t1, 0x3c(s2)
        lwu   a0, 0x04(s2)
        li    a2, 8
        call  hex
        lwu   a0, 0x0c(s2)
        li    a2, 8
        call  hex
        lwu   a0, 0x10(s2)
        li    a2, 8
        call  hex
        lwu   a0, 0x3c(s2)
        li    a2, 8
        call  hex
        lhu   a0, 2(s2)           # narrower reads: the device ID, the class byte
        li    a2, 4
        call  hex
        lbu   a0, 0xb(s2)
        li    a2, 2
        call  hex
        li    t0, 0x8000          # 00:01.0 and 01:00.0: nobody
        add   t0, s2, t0
        lwu   a0, 0(t0)
        li    a2, 8
        call  hex
        li    t0, 0x100000
        add   t0, s2, t0
        lhu   a0, 0(t0)
        li    a2, 8
        call  hex
        call  newline
        li    t0, 0x100000        # the SiFive test finisher: pass
        li    t1, 0x5555
        sw    t1, 0(t0)
4:      j     4b

""" + PRINT


FLASH_PROBE = """
# every command firmware uses to find a CFI flash, at every width, on both banks; each
# answer printed as 16 hex digits
        .option norvc
        .equ UART, 0x10000000
        .globl _start
_start:
        li    s2, 0x20000000       # the first bank
        lwu   a0, 0(s2)            # array mode
        call  hex16
        lwu   a0, 0x100(s2)
        call  hex16
        call  newline
        li    t0, 0x98             # CFI query, 8-bit write at 0x55
        sb    t0, 0x55(s2)
        lbu   a0, 0x10(s2)
        call  hex16
        lhu   a0, 0x20(s2)
        call  hex16
        lwu   a0, 0x40(s2)
        call  hex16
        lbu   a0, 0x42(s2)
        call  hex16
        ld    a0, 0x40(s2)
        call  hex16
        call  newline
        li    s4, 0                # the table, one 32-bit read per entry
1:      slli  t0, s4, 2
        add   t0, s2, t0
        lwu   a0, 0(t0)
        call  hex16
        addi  s4, s4, 1
        andi  t0, s4, 7
        bnez  t0, 2f
        call  newline
2:      li    t0, 0x48
        bltu  s4, t0, 1b
        call  newline
        li    t0, 0xff00ff         # read array
        sw    t0, 0(s2)
        lwu   a0, 0x40(s2)
        call  hex16
        li    t0, 0x900090         # read ID
        sw    t0, 0(s2)
        lwu   a0, 0(s2)
        call  hex16
        lwu   a0, 4(s2)
        call  hex16
        lwu   a0, 8(s2)
        call  hex16
        lbu   a0, 4(s2)
        call  hex16
        li    t0, 0x40000          # a sector further
        add   t0, s2, t0
        lwu   a0, 8(t0)
        call  hex16
        li    t0, 0x700070         # read status
        sw    t0, 0(s2)
        lwu   a0, 0(s2)
        call  hex16
        li    t0, 0xf0             # AMD reset byte, then 0xff
        sb    t0, 0(s2)
        lwu   a0, 0(s2)
        call  hex16
        li    t0, 0xff
        sb    t0, 0(s2)
        lwu   a0, 0(s2)
        call  hex16
        call  newline
        li    s2, 0x22000000       # the second bank
        li    t0, 0x98
        sw    t0, 0x154(s2)
        lwu   a0, 0x40(s2)
        call  hex16
        lwu   a0, 0x9c(s2)
        call  hex16
        li    t0, 0xff
        sw    t0, 0(s2)
        lwu   a0, 0x40(s2)
        call  hex16
        call  newline
        li    t0, 0x100000
        li    t1, 0x5555
        sw    t1, 0(t0)
3:      j     3b

# print a0 as 16 hex digits and a space
hex16:  li    a2, 16
        j     hex

""" + PRINT


def qemu_console(*args: str, timeout: float = 60) -> bytes:
    qemu = require_tool("qemu-system-riscv64")
    r = subprocess.run([qemu, "-machine", "virt", "-display", "none", "-serial", "stdio",
                        "-monitor", "none", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def vkernel_console(m: Machine) -> bytes:
    ex = m.run(max_steps=10_000_000)
    assert ex.reason == "halt" and ex.exit_code == 0, ex
    return m.console.encode()


def test_the_eight_transports_are_devices_in_the_range_table():
    """Each transport is its own row of the bus's range table, as on QEMU's virt."""
    rows = [(name, base, size) for name, base, size in MEMORY_MAP if name.startswith("virtio")]
    assert rows == [(f"virtio{i}", 0x1000_1000 + 0x1000 * i, 0x1000) for i in range(8)]
    m = Machine(ram_mb=1)
    for i in range(VIRTIO_COUNT):
        name, dev, off = m.bus.find(VIRTIO_BASE + VIRTIO_SIZE * i + 8)
        assert (name, dev, off) == (f"virtio{i}", m.transports[i], 8)
    assert m.transports[0] is m.virtio  # the disk's slot: 0x1000_1000, PLIC source 1


def test_the_transports_and_pcie_answer_as_qemus(tmp_path):
    """The probe's console on vkernel is QEMU's (7.2, ``-bios none``, 128 MiB, no
    devices): transports with magic, legacy version 1, device ID 0, vendor "QEMU", zeros
    elsewhere, writes ignored; the PCIe host bridge alone on its bus; and a1 = QEMU's device
    tree address."""
    probe = vkernel.assemble(PROBE, name="probe")
    elf = tmp_path / "probe.elf"
    probe.to_elf(elf)
    want = qemu_console("-m", "128M", "-bios", "none", "-kernel", str(elf))
    # QEMU's own device tree (not written by vkernel yet): the same size, so the same place
    dtb = b"\xd0\x0d\xfe\xed" + (1 << 20).to_bytes(4, "big") + bytes(56)
    m = Machine(ram_mb=128)
    m.boot(probe, bios="none", dtb=dtb)
    got = vkernel_console(m)
    lines = [line.rstrip() for line in got.decode().splitlines()]
    assert lines[0] == "0" * 16 and lines[1] == "0000000087e00000"
    assert lines[2].split()[:4] == ["74726976", "00000001", "00000000", "554d4551"]
    pci = lines[2 + 8 * 6]  # after the eight transports, six lines each: 00:00.0
    assert pci.split()[:3] == ["00081b36", "00000000", "06000000"]
    assert got == want


@pytest.mark.parametrize("ram_mb, dtb_size, initrd_at, dtb_at", [
    (128, 4096, 0x8420_0000, 0x87e0_0000),      # half the RAM past the kernel
    (128, 1 << 20, 0x8420_0000, 0x87e0_0000),   # QEMU's own 1 MiB tree
    (512, 4096, 0x8820_0000, 0x9fe0_0000),      # 128 MiB past it
    (4096, 4096, 0x8820_0000, 0xbfe0_0000),     # below 3 GiB, for a 32-bit kernel
])
def test_boot_places_things_where_qemu_does(ram_mb, dtb_size, initrd_at, dtb_at):
    """riscv_load_initrd and riscv_compute_fdt_addr of QEMU's hw/riscv/boot.c."""
    m = Machine(ram_mb=ram_mb)
    kernel = vkernel.assemble("j .", base=0x8020_0000)
    dtb = b"\xd0\x0d\xfe\xed" + dtb_size.to_bytes(4, "big") + bytes(56)
    info = m.boot(kernel, initrd=b"initrd!", dtb=dtb, append="console=ttyS0")
    assert (info.firmware_entry, info.kernel_entry) == (0x8000_0000, 0x8020_0000)
    assert info.initrd == (initrd_at, initrd_at + 7) and info.dtb == dtb_at
    assert m.mem.read(initrd_at, 7) == b"initrd!" and m.mem.read(dtb_at, 8) == dtb[:8]
    assert (m.hart.pc, m.hart.x["a0"], m.hart.x["a1"], m.hart.mode.name) == \
        (0x8000_0000, 0, dtb_at, "M")
    m.reset()  # a reset starts the firmware again, with the same registers
    assert (m.hart.pc, m.hart.x["a1"]) == (0x8000_0000, dtb_at)


def test_a_raw_kernel_goes_past_the_firmware_at_2_mib():
    """QEMU's riscv_calc_kernel_start_addr: the firmware's end rounded up to 2 MiB."""
    m = Machine(ram_mb=16)
    info = m.boot(b"\x6f\x00\x00\x00", bios=bytes(0x20_0001))  # a firmware just over 2 MiB
    assert info.kernel_entry == 0x8040_0000 and info.dtb == 0x80e0_0000  # its own tree
    assert m.mem.read(0x8040_0000, 4) == b"\x6f\x00\x00\x00" and m.hart.x["a1"] == info.dtb


def test_the_default_firmware_starts_the_kernel_in_s_mode_with_the_device_tree():
    """vkernel's own SBI firmware (sbi.s) hands a1, the device tree, to the kernel."""
    kernel = vkernel.assemble("""
        csrr  t0, sstatus          # S-mode may; M-mode software would not be here
        mv    s0, a1
        li    a7, 0x53525354       # SBI SRST: shut down, reason 0 = pass
        li    a6, 0
        li    a0, 0
        li    a1, 0
        ecall
    """, base=0x8020_0000)
    m = Machine(ram_mb=128)
    info = m.boot(kernel, dtb=b"\xd0\x0d\xfe\xed" + (64).to_bytes(4, "big") + bytes(56))
    ex = m.run(max_steps=10_000)
    assert ex.reason == "halt" and ex.exit_code == 0
    assert m.hart.x["s0"] == info.dtb == 0x87e0_0000


def test_boot_refuses_what_it_cannot_place():
    m = Machine(ram_mb=16)
    with pytest.raises(vkernel.VkernelError, match="give a kernel"):
        m.boot(None, bios="none")
    with pytest.raises(vkernel.VkernelError, match="device tree"):
        m.boot(b"\x6f\x00\x00\x00", dtb=b"not a tree")


def test_the_flash_answers_as_qemus(tmp_path):
    """QEMU's two blank CFI flash banks (pflash_cfi01): query table, IDs, status, array,
    as the probe sees them on both machines."""
    probe = vkernel.assemble(FLASH_PROBE, name="flash-probe")
    elf = tmp_path / "flash-probe.elf"
    probe.to_elf(elf)
    want = qemu_console("-m", "128M", "-bios", "none", "-kernel", str(elf))
    m = Machine(ram_mb=128)
    m.load(probe)
    got = vkernel_console(m)
    assert "0000000000510051 0000000000520052 0000000000590059" in got.decode()  # Q R Y
    assert got == want


@pytest.mark.parametrize("ram_mb", [128, 512, 4096])
def test_the_device_tree_address_is_qemus(tmp_path, ram_mb):
    """a1 at reset under QEMU (its own 1 MiB device tree) and on vkernel (a 1 MiB tree)."""
    probe = vkernel.assemble(PROBE, name="probe")
    elf = tmp_path / "probe.elf"
    probe.to_elf(elf)
    want = qemu_console("-m", f"{ram_mb}M", "-bios", "none", "-kernel", str(elf))
    m = Machine(ram_mb=ram_mb)
    info = m.boot(probe, bios="none",
                  dtb=b"\xd0\x0d\xfe\xed" + (1 << 20).to_bytes(4, "big") + bytes(56))
    assert want.split(b"\n")[1].strip() == f"{info.dtb:016x}".encode()


def test_chosen_carries_the_initrd_and_command_line_as_qemus(tmp_path):
    """With the machine's own device tree, ``/chosen`` says where the initrd is and what
    the command line is, as QEMU's (``-initrd``, ``-append``; read back from
    ``-machine dumpdtb``) says for the same kernel and RAM."""
    import fdt

    qemu = require_tool("qemu-system-riscv64")
    kernel = vkernel.assemble("j .", name="spin")
    elf, initrd, dumped = tmp_path / "spin.elf", tmp_path / "initrd", tmp_path / "qemu.dtb"
    kernel.to_elf(elf)
    initrd.write_bytes(bytes(range(256)) * 4)
    subprocess.run([qemu, "-M", "virt", "-m", "128M", "-machine", f"dumpdtb={dumped}",
                    "-bios", "none", "-kernel", str(elf), "-initrd", str(initrd),
                    "-append", "console=ttyS0 quiet", "-nographic"],
                   capture_output=True, check=True, timeout=60)
    m = Machine(ram_mb=128)
    info = m.boot(kernel, bios="none", initrd=initrd, append="console=ttyS0 quiet")
    ours = fdt.parse_dtb(m.mem.read(info.dtb, int.from_bytes(m.mem.read(info.dtb + 4, 4),
                                                                "big")))
    theirs = fdt.parse_dtb(dumped.read_bytes())
    for name in ("linux,initrd-start", "linux,initrd-end", "bootargs"):
        assert ours.get_property(name, "/chosen").data == \
            theirs.get_property(name, "/chosen").data, name
    assert ours.get_property("linux,initrd-start", "/chosen").value == info.initrd[0]
    assert m.mem.read(info.initrd[0], 1024) == initrd.read_bytes()
