"""Stock firmware on the board: Debian's OpenSBI (generic ``fw_jump``) then U-Boot
(``qemu-riscv64_smode``), to U-Boot's prompt, on vkernel and on qemu-system-riscv64.

Both machines get the same images and the same device tree: QEMU's own for 128 MiB
(``-machine dumpdtb``), unchanged, so U-Boot probes the whole board (CFI flash, PCIe,
eight virtio-mmio transports). The
consoles must be the same up to and including the prompt, and after each of
:data:`COMMANDS` (``version``, ``md.q``, ``crc32`` over the image's first 64 KiB,
``bdinfo``: relocation, device tree and lmb addresses included, which agree because
the images, RAM and tree do), but for the lines that describe the hart itself (see
:data:`HART_LINES`). A second boot of each has a key pressed during the autoboot
countdown: both stop at once, at the prompt, without trying to boot.

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


COMMANDS = ("version", "md.q 0x80200000 4", "crc32 0x80200000 0x10000", "bdinfo")
COUNTDOWN = "Hit any key to stop autoboot:"
# A prompt at the start of a line: crc32's "... ==> 89bcc07e" has "=> " in it too.
LINE_PROMPT = "\n" + PROMPT


def qemu_uboot(dtb: Path, commands: tuple[str, ...] = COMMANDS, *,
               key: bool = False) -> tuple[str, float]:
    """U-Boot's console on QEMU up to its prompt, then each command's output up to the
    next prompt; and the seconds to the first prompt. With ``key``, a key is pressed as
    soon as the autoboot countdown starts."""
    qemu = require_tool("qemu-system-riscv64")
    start = time.monotonic()
    p = subprocess.Popen([qemu, "-M", "virt", "-m", "128M", "-nographic", "-bios",
                          str(FW_JUMP), "-kernel", str(UBOOT), "-dtb", str(dtb)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    out = b""

    def until(text: str, count: int) -> None:
        nonlocal out
        deadline = time.monotonic() + 60
        while out.decode(errors="replace").count(text) < count:
            ready, _, _ = select.select([p.stdout], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise AssertionError(f"QEMU: no {text!r} within 60 s:\n{out.decode()}")
            out += os.read(p.stdout.fileno(), 65536)

    def send(text: str) -> None:
        p.stdin.write(text.encode())
        p.stdin.flush()

    try:
        if key:
            until(COUNTDOWN, 1)
            send("x")
        until(LINE_PROMPT, 1)
        seconds = time.monotonic() - start
        for n, command in enumerate(commands, 2):
            send(command + "\n")
            until(LINE_PROMPT, n)
    finally:
        p.kill()
        p.wait()
    return out.decode(errors="replace").replace("\r\n", "\n"), seconds


def vkernel_uboot(dtb: Path, commands: tuple[str, ...] = COMMANDS, *,
                  key: bool = False) -> tuple[str, int, float]:
    """The same on vkernel; and the steps and seconds to the first prompt."""
    m = Machine(ram_mb=128)
    m.boot(UBOOT, bios=FW_JUMP, dtb=dtb)

    def until(text: str, count: int) -> None:
        while m.console.count(text) < count:
            ex = m.run(max_steps=1_000_000, progress=False)
            assert ex.reason in ("budget", "wfi-idle") and m.steps < STEP_BUDGET, \
                f"{ex!r}\n{m.console}"

    start = time.monotonic()
    if key:
        until(COUNTDOWN, 1)
        m.send_console("x")
    until(LINE_PROMPT, 1)
    seconds, steps = time.monotonic() - start, m.steps
    for n, command in enumerate(commands, 2):
        m.send_console(command + "\n")
        until(LINE_PROMPT, n)
    return m.console.replace("\r\n", "\n"), steps, seconds


def comparable(console: str) -> list[str]:
    return [line.rstrip() for line in console.split("\n") if not line.startswith(HART_LINES)]


@pytest.fixture(scope="module")
def consoles(board_dtb) -> dict:
    q, q_seconds = qemu_uboot(board_dtb)
    v, v_steps, v_seconds = vkernel_uboot(board_dtb)
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


def command_outputs(console: str) -> dict[str, list[str]]:
    """Each command's output (the lines between its echo and the next prompt)."""
    parts = console.split(LINE_PROMPT)[1:]
    return {part.split("\n", 1)[0]: comparable(part.split("\n", 1)[1]) for part in parts
            if "\n" in part}


@pytest.mark.parametrize("command", COMMANDS)
def test_uboot_runs_a_command_as_on_qemu(consoles, command):
    v, q = command_outputs(consoles["vkernel"]), command_outputs(consoles["qemu"])
    assert v[command], consoles["vkernel"]
    assert v[command] == q[command]


@pytest.fixture(scope="module")
def stopped(board_dtb) -> dict:
    """Both machines booted again, with a key pressed once the autoboot countdown shows."""
    return {"qemu": qemu_uboot(board_dtb, (), key=True)[0],
            "vkernel": vkernel_uboot(board_dtb, (), key=True)[0]}


def test_a_key_stops_autoboot_as_on_qemu(stopped):
    """The countdown stops at once, with no boot attempted (no bus scanned, no network)."""
    v, q = stopped["vkernel"], stopped["qemu"]
    after = v[v.index(COUNTDOWN):]
    assert after.startswith(COUNTDOWN + "  2 ") and after.endswith(" 0 \n" + PROMPT), after
    assert "scanning bus" not in after and "ethernet" not in after
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
