# user_illegal.s -- process 3 of the "faults" workload: a privileged instruction in U
# (reading sstatus). It raises an illegal-instruction exception, and the kernel kills the
# process: "killed: illegal instruction (pc .., instruction 0x100022f3)", status 132.

        .include "user_lib.s"           # the C library in miniature (before _start)

        .globl _start
_start:
        la    a0, msg
        call  lb_puts
        call  lb_flush
        .globl faulting_csrr
faulting_csrr:
        csrr  t0, sstatus
        la    a0, msg_survived
        j     fail

        .section .rodata
msg:          .asciz "illegal: reading sstatus in user mode\n"
msg_survived: .asciz "csrr sstatus worked in user mode"
