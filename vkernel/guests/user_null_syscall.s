# user_null_syscall.s -- the "null-syscall" benchmark: BENCH_N getpid() system calls,
# the cheapest round trip into the kernel and back (Adams & Agesen's "syscall").
# Then "null-syscall: <N> done" and exit(0).

        .include "user_lib.s"           # the C library in miniature (before _start)

        .equ BENCH_N, 1000

        .globl _start
_start:
        li    s0, BENCH_N
1:      beqz  s0, 2f
        li    a7, SYS_GETPID
        ecall
        li    t0, 1                     # the only process is pid 1
        bne   a0, t0, 3f
        addi  s0, s0, -1
        j     1b
2:      la    a0, msg_name
        li    a1, BENCH_N
        j     bench_done
3:      la    a0, msg_bad_pid
        j     fail

        .section .rodata
msg_name:    .asciz "null-syscall"
msg_bad_pid: .asciz "getpid() is not 1"
