"""Stock firmware on the board: Debian's OpenSBI (generic ``fw_jump``) then U-Boot
(``qemu-riscv64_smode``), to U-Boot's prompt, on vkernel and on qemu-system-riscv64.

Both machines get the same images and the same device tree: QEMU's own for 128 MiB
(``-machine dumpdtb``), unchanged, so U-Boot probes the whole board (CFI flash, PCIe,
eight virtio-mmio transports). The
consoles must be the same up to and including the prompt, and after ``version``, but for
the lines that describe the hart itself (see :data:`HART_LINES`).

Debian packages: qemu-system-misc, opensbi, u-boot-qemu (make apt).
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import require_tool
from vkernel import Machine

FW_JUMP = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf")
PROMPT = "=> "
STEP_BUDGET = 1_000_000_000  # U-Boot's 2 s autoboot countdown is 200 M of them
# OpenSBI's lines about the hart, which differ because the harts do (QEMU's has F and D,
# 16 hardware performance counters, and guest external interrupts, so mideleg.SGEIP is
# read-only one; vkernel's hart is RV64IMACH with none of them). Everything else,
# U-Boot's own lines included (its CPU line comes from the device tree), must match.
HART_LINES = ("Boot HART Base ISA", "Boot HART MHPM Count", "Boot HART MIDELEG")


def require_file(path: Path, package: str) -> Path:
    if not path.exists():
        message = f"{path} not found (apt-get install {package}, or make apt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def board_dtb(tmp_path_factory) -> Path:
    """QEMU virt's own device tree for 128 MiB."""
    qemu = require_tool("qemu-system-riscv64")
    require_file(FW_JUMP, "opensbi")
    require_file(UBOOT, "u-boot-qemu")
    out = tmp_path_factory.mktemp("dtb") / "qemu.dtb"
    subprocess.run([qemu, "-M", "virt", "-m", "128M", "-machine", f"dumpdtb={out}",
                    "-bios", "none", "-nographic"], capture_output=True, check=True, timeout=60)
    return out


def qemu_uboot(dtb: Path, command: str) -> tuple[str, float]:
    """U-Boot's console on QEMU up to its prompt, then ``command``'s output up to the next
    prompt; and the seconds to the first prompt."""
    qemu = require_tool("qemu-system-riscv64")
    start = time.monotonic()
    p = subprocess.Popen([qemu, "-M", "virt", "-m", "128M", "-nographic", "-bios",
                          str(FW_JUMP), "-kernel", str(UBOOT), "-dtb", str(dtb)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    out = b""

    def until(prompts: int) -> None:
        nonlocal out
        deadline = time.monotonic() + 60
        while out.decode(errors="replace").count(PROMPT) < prompts:
            ready, _, _ = select.select([p.stdout], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise AssertionError(f"QEMU: no prompt within 60 s:\n{out.decode()}")
            out += os.read(p.stdout.fileno(), 65536)

    try:
        until(1)
        seconds = time.monotonic() - start
        p.stdin.write(command.encode() + b"\n")
        p.stdin.flush()
        until(2)
    finally:
        p.kill()
        p.wait()
    return out.decode(errors="replace").replace("\r\n", "\n"), seconds


def vkernel_uboot(dtb: Path, command: str) -> tuple[str, int, float]:
    """The same on vkernel; and the steps and seconds to the first prompt."""
    m = Machine(ram_mb=128)
    m.boot(UBOOT, bios=FW_JUMP, dtb=dtb)

    def until(prompts: int) -> None:
        while m.console.count(PROMPT) < prompts:
            ex = m.run(max_steps=1_000_000, progress=False)
            assert ex.reason in ("budget", "wfi-idle") and m.steps < STEP_BUDGET, \
                f"{ex!r}\n{m.console}"

    start = time.monotonic()
    until(1)
    seconds, steps = time.monotonic() - start, m.steps
    m.send_console(command + "\n")
    until(2)
    return m.console.replace("\r\n", "\n"), steps, seconds


def comparable(console: str) -> list[str]:
    return [line.rstrip() for line in console.split("\n") if not line.startswith(HART_LINES)]


@pytest.fixture(scope="module")
def consoles(board_dtb) -> dict:
    q, q_seconds = qemu_uboot(board_dtb, "version")
    v, v_steps, v_seconds = vkernel_uboot(board_dtb, "version")
    print(f"\nto U-Boot's prompt: vkernel {v_steps:,} steps in {v_seconds:.1f} s, "
          f"QEMU {q_seconds:.1f} s")
    return {"qemu": q, "vkernel": v}


def test_uboot_reaches_its_prompt_as_on_qemu(consoles):
    """OpenSBI's banner and domain, U-Boot's banner, DRAM, devices (the PCIe bus
    enumerated), flash, autoboot (virtio scanned, no disk, no network), the prompt: line
    for line as on QEMU."""
    v, q = consoles["vkernel"], consoles["qemu"]
    assert "OpenSBI v1.1" in v and "U-Boot 2023.01" in v and "DRAM:  128 MiB" in v
    assert "Flash: 32 MiB" in v
    head = v[:v.index(PROMPT) + len(PROMPT)]
    assert comparable(head) == comparable(q[:q.index(PROMPT) + len(PROMPT)])


def test_uboot_runs_a_command_as_on_qemu(consoles):
    v, q = consoles["vkernel"], consoles["qemu"]
    after = v[v.index(PROMPT):]
    assert after.startswith("=> version\nU-Boot 2023.01") and after.endswith(PROMPT)
    assert comparable(v) == comparable(q)


def test_vkernel_run_boots_firmware_from_the_command_line(board_dtb):
    """``vkernel run --bios FW --kernel K --dtb D``: OpenSBI, then U-Boot to its prompt,
    stopped by the step budget (status 124)."""
    import sys

    r = subprocess.run([sys.executable, "-m", "vkernel", "run", "--bios", str(FW_JUMP),
                        "--kernel", str(UBOOT), "--dtb", str(board_dtb),
                        "--max-steps", "300000000"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=300, check=False)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 124, r.stderr
    assert "Domain0 Next Address      : 0x0000000080200000" in out
    assert out.rstrip().endswith("=>")


def test_uboot_reaches_its_prompt_with_the_machines_own_device_tree():
    """``Machine.boot`` without ``dtb``: the machine's own tree (Machine.dtb) is enough
    for OpenSBI and U-Boot; its 1 MHz timebase makes the 2 s countdown 20 M steps."""
    require_file(FW_JUMP, "opensbi")
    require_file(UBOOT, "u-boot-qemu")
    m = Machine(ram_mb=128)
    m.boot(UBOOT, bios=FW_JUMP)
    while PROMPT not in m.console:
        ex = m.run(max_steps=1_000_000, progress=False)
        assert ex.reason == "budget" and m.steps < 200_000_000, f"{ex!r}\n{m.console}"
    assert "Model: riscv-virtio,vkernel" in m.console and "DRAM:  128 MiB" in m.console
