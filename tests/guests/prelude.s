# Prelude of every self-checking guest (tests/guests/*.s): each guest's first statement is
# `.include "prelude.s"` (tests/test_h_qemu.py swaps in a QEMU variant of this file).
# Conventions (those of riscv-tests):
#   gp holds the number of the check being made; `j fail` reports it, `j pass` ends well.
#   An unexpected trap in M-mode fails with the current gp.
# Results go to the host through HTIF: tohost = 1 passes, (n << 1) | 1 fails check n.
    .text
    .globl _start
_start:
    la t0, unexpected_trap
    csrw mtvec, t0
    li gp, 0
    j main

    .globl pass
pass:
    fence
    li t0, 1
    la t1, tohost
    sd t0, 0(t1)
1:  j 1b

    .globl fail
fail:
    fence
    slli t0, gp, 1
    ori t0, t0, 1
    la t1, tohost
    sd t0, 0(t1)
1:  j 1b

    .align 2
unexpected_trap:
    j fail

    .data
    .align 3
    .globl tohost
tohost: .dword 0
    .globl fromhost
fromhost: .dword 0

    .text
# ---- the rest of the guest's source follows -----------------------------------------------
