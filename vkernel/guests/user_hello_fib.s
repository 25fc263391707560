# user_hello_fib.s -- process 1 of the "hello" workload.
#
# Greets, then prints the first FIB_COUNT Fibonacci numbers, fib(0) = 0, fib(1) = 1, one
# line each, and keeps them in the array `fibs` in its data page (the tests read it back
# from guest memory). It calls sched_yield() after every line, so its lines are spread
# over many turns of the scheduler, interleaved with process 2's work.
# (user_lib.s, put in front of this file, provides exit, sched_yield and lb_*.)

        .include "user_lib.s"           # the C library in miniature (before _start)

        .equ FIB_COUNT, 10

        .globl _start
_start:
        la    a0, msg_hello
        call  lb_puts
        call  lb_flush
        call  sched_yield
        li    s0, 0                     # i
        li    s1, 0                     # fib(i)
        li    s2, 1                     # fib(i + 1)
        la    s3, fibs                  # &fibs[i]
1:      sd    s1, 0(s3)
        la    a0, msg_fib               # "fib(i) = fib(i)\n"
        call  lb_puts
        mv    a0, s0
        call  lb_putu
        la    a0, msg_equals
        call  lb_puts
        mv    a0, s1
        call  lb_putu
        li    a0, '\n'
        call  lb_putc
        call  lb_flush
        call  sched_yield
        add   t0, s1, s2                # (fib(i), fib(i+1)) -> (fib(i+1), fib(i+2))
        mv    s1, s2
        mv    s2, t0
        addi  s3, s3, 8
        addi  s0, s0, 1
        li    t0, FIB_COUNT
        blt   s0, t0, 1b
        li    a0, 0
        call  exit

        .section .rodata
msg_hello:  .asciz "hello from process 1\n"
msg_fib:    .asciz "fib("
msg_equals: .asciz ") = "

        .data
        .balign 8
        .globl fibs
fibs:   .zero 8 * FIB_COUNT
