# user_efault.s -- process 1 of the "faults" workload: write() with bad buffers.
#
# The kernel must check a user pointer before it reads through it: a buffer that is not
# entirely in the process's program image or stack gets -EFAULT (-14), and the process
# carries on. Four bad buffers: address 0, a kernel address, a range that wraps around
# the end of the address space, and the (unmapped) heap. Then a good one from the stack.

        .include "user_lib.s"           # the C library in miniature (before _start)

        .globl _start
_start:
        li    s0, 0                     # rejected so far
        la    s1, bad_buffers
        li    s2, 4
1:      ld    a1, 0(s1)
        ld    a2, 8(s1)
        li    a0, 1
        call  write
        li    t0, -EFAULT
        bne   a0, t0, 2f
        addi  s0, s0, 1
2:      addi  s1, s1, 16
        addi  s2, s2, -1
        bnez  s2, 1b
        li    t0, 4
        la    a0, msg_accepted
        bne   s0, t0, fail
        addi  sp, sp, -48               # a good buffer: msg_stack, copied to the stack
        la    t0, msg_stack
        mv    t1, sp
3:      lbu   t2, 0(t0)
        beqz  t2, 4f
        sb    t2, 0(t1)
        addi  t0, t0, 1
        addi  t1, t1, 1
        j     3b
4:      li    a0, 1
        mv    a1, sp
        sub   a2, t1, sp
        mv    s1, a2
        call  write
        mv    t1, a0
        la    a0, msg_stack_refused
        bne   t1, s1, fail              # write() returns the length it took
        la    a0, msg_result            # "efault: 4 bad buffers refused"
        call  lb_puts
        mv    a0, s0
        call  lb_putu
        la    a0, msg_result_2
        call  lb_puts
        call  lb_flush
        li    a0, 0
        call  exit

        .section .rodata
        .balign 8
bad_buffers:                            # address, length
        .dword 0, 5
        .dword 0x80200000, 16
        .dword bad_buffers, -2
        .dword 0x40000000, 8
msg_stack:         .asciz "efault: a buffer on the stack is fine\n"
msg_accepted:      .asciz "a bad buffer was accepted"
msg_stack_refused: .asciz "a buffer on the stack was refused"
msg_result:        .asciz "efault: "
msg_result_2:      .asciz " bad buffers refused\n"
