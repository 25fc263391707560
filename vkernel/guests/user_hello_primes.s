# user_hello_primes.s -- process 2 of the "hello" workload.
#
# Finds the primes below LIMIT with the sieve of Eratosthenes, keeps them in the array
# `primes` in its data page, and prints how many there are and their sum. Then it checks
# the sieve against trial division, number by number: slow on purpose, so that the
# process runs for several time slices and the timer has to preempt it (it never yields).
# (user_lib.s, put in front of this file, provides exit, fail and lb_*.)

        .include "user_lib.s"           # the C library in miniature (before _start)

        .equ LIMIT, 200

        .globl _start
_start:
        # the sieve: composite[n] = 1 for every multiple n = k*i (k >= i) of each i >= 2
        la    s0, composite
        li    s1, 2                     # i
        li    s4, LIMIT
1:      mul   t0, s1, s1                # start at i*i: smaller multiples are done
        bge   t0, s4, 4f
        add   t2, s0, s1
        lbu   t3, 0(t2)
        bnez  t3, 3f                    # i is composite: its multiples are marked already
        li    t3, 1
2:      add   t2, s0, t0
        sb    t3, 0(t2)
        add   t0, t0, s1
        blt   t0, s4, 2b
3:      addi  s1, s1, 1
        j     1b
        # collect: primes[], their count (s2) and sum (s3)
4:      li    s1, 2
        li    s2, 0
        li    s3, 0
        la    s5, primes
5:      add   t2, s0, s1
        lbu   t3, 0(t2)
        bnez  t3, 6f
        sd    s1, 0(s5)
        addi  s5, s5, 8
        addi  s2, s2, 1
        add   s3, s3, s1
6:      addi  s1, s1, 1
        blt   s1, s4, 5b
        # check every n against trial division: n is prime if no d in 2..n-1 divides it
        li    s1, 2
7:      li    t0, 2                     # d
8:      bge   t0, s1, 9f                # no divisor found: prime
        rem   t1, s1, t0
        beqz  t1, 9f
        addi  t0, t0, 1
        j     8b
9:      sub   t0, t0, s1                # t0 = 0 iff prime
        seqz  t0, t0
        add   t2, s0, s1
        lbu   t3, 0(t2)
        seqz  t3, t3                    # the sieve's verdict
        la    a0, msg_disagree
        bne   t0, t3, fail
        addi  s1, s1, 1
        blt   s1, s4, 7b
        # "primes below 200: <count>, sum <sum>"
        la    a0, msg_primes
        call  lb_puts
        li    a0, LIMIT
        call  lb_putu
        la    a0, msg_colon
        call  lb_puts
        mv    a0, s2
        call  lb_putu
        la    a0, msg_sum
        call  lb_puts
        mv    a0, s3
        call  lb_putu
        li    a0, '\n'
        call  lb_putc
        call  lb_flush
        li    a0, 0
        call  exit

        .section .rodata
msg_primes:   .asciz "primes below "
msg_colon:    .asciz ": "
msg_sum:      .asciz ", sum "
msg_disagree: .asciz "the sieve disagrees with trial division"

        .data
        .balign 8
        .globl primes
primes:    .zero 8 * LIMIT / 2         # more than enough (46 below 200)
        .globl composite
composite: .zero LIMIT
