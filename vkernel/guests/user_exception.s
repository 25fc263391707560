# user_exception.s -- the "exception" benchmark: BENCH_N breakpoints, alternately the
# 2-byte c.ebreak and the 4-byte ebreak. The kernel's handler steps over each (it looks
# at the instruction's low bits to know its length) and returns (Adams & Agesen's
# "fault" round trip, without page tables involved). Then "exception: <N> done".

        .include "user_lib.s"           # the C library in miniature (before _start)

        .equ BENCH_N, 1000

        .globl _start
_start:
        li    s0, BENCH_N
1:      beqz  s0, 4f
        andi  t0, s0, 1
        beqz  t0, 2f
        c.ebreak                        # 2 bytes
        j     3f
2:      .option push
        .option norvc
        ebreak                          # 4 bytes
        .option pop
3:      addi  s0, s0, -1
        j     1b
4:      la    a0, msg_name
        li    a1, BENCH_N
        j     bench_done

        .section .rodata
msg_name: .asciz "exception"
