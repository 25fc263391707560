# user_segv.s -- process 2 of the "faults" workload: a store to an address where nothing
# is mapped (and which is not the heap). The kernel kills the process: its output ends
# with "killed: store page fault (pc .., address 0x20000000)" and its exit status is 139.

        .include "user_lib.s"           # the C library in miniature (before _start)

        .equ NOWHERE, 0x20000000

        .globl _start
_start:
        la    a0, msg
        call  lb_puts
        call  lb_flush
        li    t0, NOWHERE
        .globl faulting_store
faulting_store:
        sd    zero, 0(t0)
        la    a0, msg_survived
        j     fail

        .section .rodata
msg:          .asciz "segv: storing to 0x20000000\n"
msg_survived: .asciz "the store did not fault"
