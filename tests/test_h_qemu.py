"""The H-extension guests (tests/guests/h_*.s) run under QEMU as a second oracle.

The guests are written from the RISC-V hypervisor specification; tests/test_guests.py runs
them on vkernel. Here each one is built with GNU binutils and run on QEMU's ``virt`` board
(``-cpu rv64,h=true -bios none``). A guest includes ``prelude.s`` and the guests' shared
framework ``h_framework.inc``; here GNU as runs in a directory that holds a QEMU variant of
tests/guests/prelude.s (GNU as looks in the working directory first), with ``-I``
tests/guests for the rest. The QEMU prelude's
``pass`` / ``fail`` report through the SiFive test finisher at 0x100000 (exit status 0 / gp)
and print ``PASS`` / ``FAIL <gp> a0=.. a1=.. a2=.. s2=.. s3=.. s4=.. s8=.. s9=..`` (hex) on
the UART. ``python tests/test_h_qemu.py h_csrs [--raw]`` runs one guest and shows that line
(``--raw``: without the tags below).

QEMU is an imperfect oracle: where it disagrees with the specification the guest keeps the
spec-correct check. Such a check carries a tag on the line that QEMU gets wrong::

    li a1, 22                     # qemu-7.2-bug: li a1, 2

The text after ``qemu-7.2-bug:`` is what QEMU does instead, for GNU as (``;`` separates two
statements; empty: the line becomes a nop); a comment above it says what QEMU does wrong.
Every check holding a tag is listed in KNOWN_QEMU_BUGS, and the test asserts that

* with every tag applied (the line replaced by QEMU's behaviour), QEMU passes the whole guest,
* with every tag applied but those of one listed check, QEMU fails exactly at that check,

so the test fails as soon as QEMU's behaviour changes in either direction.

The fail routine of the QEMU prelude first escapes to M-mode with ``li a7, MAGIC; ecall``
(h_framework.inc's trap handlers return to M at the next instruction for a7 = 0x4d4d), since
the finisher and the UART need not be reachable from a guest's mode and address space.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

GUEST_DIR = Path(__file__).parent / "guests"
QEMU = "qemu-system-riscv64"
QEMU_ARGS = ["-machine", "virt", "-cpu", "rv64,h=true", "-bios", "none", "-nographic"]
TIMEOUT = 30  # seconds for one QEMU run (a guest takes well under one)
MAGIC = 0x4D4D  # a7 value that makes the guests' trap handlers return to M-mode
H_FRAMEWORK = GUEST_DIR / "h_framework.inc"  # every h_*.s guest includes it; holds no tag

# {guest: {check numbers that QEMU 7.2 gets wrong}}; the reason is next to the tag in the guest.
# In short: h_csrs: 64-bit hcounteren, hgatp not legalised (PPN[1:0], MODE), vsip without
# STIP/SEIP and masked by mideleg in VS-mode, MRET with MPP=M honouring MPV; h_traps: GVA never
# cleared / set for non-address tvals, exception causes 2 delegated to VS "translated" to 1,
# interrupt priority by cause number; h_twostage: GPA bit 40 treated as a sign bit, AMO
# guest-page fault as a load one, HS-level MXR ignored while V=1, implicit-access faults
# reported as loads, G-stage faults under MPRV as page faults; h_hlv: HLV ignoring vsstatus.SUM
# and MXR, VS-stage faults of HLV/HSV as access faults, HLVX needing R instead of X, GVA
# not set with V=0; h_hfence: hgatp accessible under TVM; h_virtinst: stale mtval for HLV/HSV,
# VTVM not covering satp, TSR/TVM applied in VS-mode, supervisor CSRs / SRET / SFENCE /
# HFENCE in VU-mode illegal instead of virtual, WFI in VU with TW=1 virtual instead of illegal.
KNOWN_QEMU_BUGS: dict[str, set[int]] = {
    "h_csrs": {20, 26, 28, 35, 42, 57},
    "h_traps": {10, 12, 28, 46, 47},
    "h_twostage": {6, 10, 18, 35, 41, 42, 44, 52},
    "h_hlv": {6, 7, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 24, 27, 28, 29},
    "h_hfence": {18},
    "h_virtinst": {10, 18, 20, 22, 23, 26, 27, 28, 29},
}

TAG = re.compile(r"#\s*qemu-7\.2-bug:(.*)$")

_PASS_BODY = """\
    li t0, 0x10000000             # UART: "PASS\\n"
    li t1, 'P'
    sb t1, 0(t0)
    li t1, 'A'
    sb t1, 0(t0)
    li t1, 'S'
    sb t1, 0(t0)
    sb t1, 0(t0)
    li t1, 10
    sb t1, 0(t0)
    li t0, 0x100000               # SiFive test finisher: pass
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
"""

_FAIL_BODY = f"""\
    li a7, {MAGIC}                # to M-mode (see h_framework.inc's trap handlers)
    ecall
    .globl fail_m
fail_m:
    li t0, 0x10000000             # UART: "FAIL <gp> a0=<a0> ... s9=<s9>\\n" (hex)
    la t4, fail_text
    mv t5, gp
    li t6, 0
4:  lbu t1, 0(t4)                 # the text before the next number ...
    addi t4, t4, 1
    beqz t1, 5f
    sb t1, 0(t0)
    j 4b
5:  li t2, 60                     # ... and the number, 16 hex digits
2:  srl t1, t5, t2
    andi t1, t1, 15
    addi t1, t1, '0'
    li t3, '9'
    ble t1, t3, 3f
    addi t1, t1, 'a' - '0' - 10
3:  sb t1, 0(t0)
    addi t2, t2, -4
    bgez t2, 2b
    addi t6, t6, 1
    mv t5, a0
    li t1, 1
    beq t6, t1, 4b
    mv t5, a1
    li t1, 2
    beq t6, t1, 4b
    mv t5, a2
    li t1, 3
    beq t6, t1, 4b
    mv t5, s2
    li t1, 4
    beq t6, t1, 4b
    mv t5, s3
    li t1, 5
    beq t6, t1, 4b
    mv t5, s4
    li t1, 6
    beq t6, t1, 4b
    mv t5, s8
    li t1, 7
    beq t6, t1, 4b
    mv t5, s9
    li t1, 8
    beq t6, t1, 4b
    li t1, 10
    sb t1, 0(t0)
    li t0, 0x100000               # SiFive test finisher: fail with code gp
    slli t1, gp, 16
    li t2, 0x3333
    or t1, t1, t2
    sw t1, 0(t0)
1:  j 1b
    .data                         # (in .text, the strings would misalign what follows)
fail_text:
    .asciz "FAIL "
    .asciz " a0="
    .asciz " a1="
    .asciz " a2="
    .asciz " s2="
    .asciz " s3="
    .asciz " s4="
    .asciz " s8="
    .asciz " s9="
    .text
"""


def qemu_prelude() -> str:
    """prelude.s with the bodies of pass and fail (HTIF tohost stores) replaced."""
    lines = (GUEST_DIR / "prelude.s").read_text().splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        label = line.strip()
        if label in ("pass:", "fail:", "unexpected_trap:"):
            out.append(line)
            j = i + 1
            while j < len(lines) and lines[j].strip() and not lines[j].lstrip().startswith("."):
                j += 1
            body = "".join(lines[i + 1:j])
            if label == "unexpected_trap:":
                assert "j fail" in body, body
                out.append("    j fail_m                      # already in M-mode\n")
            else:
                assert "tohost" in body, f"prelude.s changed: {label} {body!r}"
                out.append(_PASS_BODY if label == "pass:" else _FAIL_BODY)
            i = j
            continue
        out.append(line)
        i += 1
    text = "".join(out)
    assert text.count("fail_m:") == 1 and "0x100000" in text
    return text


def tags(source: str) -> dict[int, list[int]]:
    """{check number: [line indexes of qemu-7.2-bug tags in that check]}"""
    found: dict[int, list[int]] = {}
    check = 0
    for n, line in enumerate(source.splitlines()):
        code = line.split("#", 1)[0]
        m = re.match(r"\s*(?:\w+:\s*)*li\s+gp\s*,\s*(\d+)\s*$", code)
        if m:
            check = int(m.group(1))
        if TAG.search(line):
            found.setdefault(check, []).append(n)
    return found


def apply_tags(source: str, keep: set[int]) -> str:
    """The source with every tagged line replaced by QEMU's behaviour, except in checks `keep`."""
    lines = source.splitlines()
    for check, where in tags(source).items():
        if check in keep:
            continue
        for n in where:
            line = lines[n]
            replacement = TAG.search(line).group(1).strip() or "nop"
            m = re.match(r"(\s*(?:\w+:\s*)*)", line)
            lines[n] = f"{m.group(1)}{replacement}    # (QEMU 7.2 behaviour)"
    return "\n".join(lines) + "\n"


def binutils() -> tuple[str, str] | None:
    for prefix in ("riscv64-unknown-elf-", "riscv64-linux-gnu-"):
        asm, ld = shutil.which(prefix + "as"), shutil.which(prefix + "ld")
        if asm and ld:
            return asm, ld
    return None


# vkernel's assembler does not compress unless told to (.option rvc): neither do we (no C)
MARCH = "rv64ima_zicsr_zifencei_h"


def build(source: str, workdir: Path, name: str) -> Path:
    tools = binutils()
    assert tools is not None
    asm, ld = tools
    assert source.count('.include "prelude.s"') == 1, f"{name} does not include the prelude"
    src = workdir / f"{name}.s"
    src.write_text(source)
    # the guest's .include "prelude.s" finds this one: GNU as looks in its working directory
    # before the -I directories
    (workdir / "prelude.s").write_text(qemu_prelude())
    obj, elf = workdir / f"{name}.o", workdir / f"{name}.elf"
    run = subprocess.run([asm, f"-march={MARCH}", "-mabi=lp64", "-mno-relax", f"-I{GUEST_DIR}",
                          str(src), "-o", str(obj)], capture_output=True, text=True,
                         cwd=workdir)
    assert run.returncode == 0, f"GNU as rejected {name}:\n{run.stderr}"
    run = subprocess.run([ld, "--no-relax", "-Ttext=0x80000000", "-e", "_start", str(obj),
                          "-o", str(elf)], capture_output=True, text=True)
    assert run.returncode == 0, f"ld failed for {name}:\n{run.stderr}"
    return elf


def run_qemu(elf: Path, output: list[str] | None = None) -> tuple[str, int | None]:
    """('pass', None), ('fail', gp), ('hang', None) or ('error', None); QEMU's console output
    is appended to `output` if given."""
    try:
        run = subprocess.run([QEMU, *QEMU_ARGS, "-kernel", str(elf)], capture_output=True,
                             text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "hang", None
    out = run.stdout
    if output is not None:
        output.append(out)
    if "PASS" in out and run.returncode == 0:
        return "pass", None
    m = re.search(r"FAIL ([0-9a-f]{16})", out)
    if m:
        return "fail", int(m.group(1), 16)
    return "error", None


def h_guests() -> list[str]:
    return sorted(p.stem for p in GUEST_DIR.glob("h_*.s"))


def _skip_reason() -> str | None:
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed"
    if binutils() is None:
        return "RISC-V GNU binutils are not installed"
    return None


@pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")
@pytest.mark.parametrize("name", h_guests())
def test_h_guest_on_qemu(name, tmp_path):
    source = (GUEST_DIR / f"{name}.s").read_text()
    known = KNOWN_QEMU_BUGS.get(name, set())
    tagged = set(tags(source))
    assert not tags(H_FRAMEWORK.read_text()), "qemu-7.2-bug tags belong in the guests"
    assert tagged == known, (f"{name}: checks tagged qemu-7.2-bug {sorted(tagged)} but "
                             f"KNOWN_QEMU_BUGS lists {sorted(known)}")
    result = run_qemu(build(apply_tags(source, keep=set()), tmp_path, name))
    assert result == ("pass", None), f"{name} on QEMU: {result}"
    for check in sorted(known):
        elf = build(apply_tags(source, keep={check}), tmp_path, f"{name}_{check}")
        result = run_qemu(elf)
        assert result == ("fail", check), (
            f"{name}: QEMU 7.2 was expected to fail check {check} (a known QEMU bug), "
            f"got {result}")


if __name__ == "__main__":  # python tests/test_h_qemu.py h_csrs [--raw]
    import sys
    import tempfile

    name = sys.argv[1]
    src = (GUEST_DIR / f"{name}.s").read_text()
    with tempfile.TemporaryDirectory() as d:
        keep = set(tags(src)) if "--raw" in sys.argv else set()
        output: list[str] = []
        print(name, run_qemu(build(apply_tags(src, keep=keep), Path(d), name), output))
        print("".join(output).strip())
