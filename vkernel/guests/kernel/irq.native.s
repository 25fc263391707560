# kernel/irq.native.s -- the interrupt mask (twin: irq.pv.s).
#
# Natively the kernel turns interrupts off and on with one instruction each: `csrc
# sstatus, SIE` and `csrs sstatus, SIE`; a pending interrupt is taken the moment SIE is
# set. Each is a sensitive instruction: under trap-and-emulate, each one traps to the
# hypervisor. sie.STIE makes the timer the one interrupt that may come at all.
#
# The kernel runs with interrupts off except in the boot self-check (kernel/boot.s) and the
# irq-mask benchmark below; a timer tick that arrives then is counted and leaves
# need_resched set (kernel/traps.s, kernel_tick).
        .equ  SSTATUS_SIE, 1 << 1
        .equ  SIE_STIE,    1 << 5

        .macro irq_timer_on             # S timer interrupts may come, when SIE allows
        li    t0, SIE_STIE
        csrs  sie, t0
        .endm
        .macro irq_off
        csrc  sstatus, 2                # SIE = 0: interrupts off
        .endm
        .macro irq_on
        csrs  sstatus, 2                # SIE = 1: interrupts on; a pending one is taken now
        .endm
        # the self-check's step 3: the mask must be what the kernel reads back
        .macro irq_check_masked
        csrr  t0, sstatus
        andi  t0, t0, SSTATUS_SIE
        la    a0, msg_sie_reads_1
        bnez  t0, panic                 # the mask did not stick (or reads wrong)
        .endm

# vk_bench kind 1 (kernel/syscalls.s; s1 = n): n times interrupts off, interrupts on
bench_irq_mask:
        csrr  s2, sstatus
        andi  s2, s2, SSTATUS_SIE       # as they were (off: we are in the kernel)
1:      beqz  s1, 2f
        csrc  sstatus, 2
        csrs  sstatus, 2                # a pending tick is taken here: kernel_trap
        addi  s1, s1, -1
        j     1b
2:      csrc  sstatus, 2
        csrs  sstatus, s2               # back as they were
        j     bench_done

        .section .rodata
msg_irq_off:        .asciz "interrupt taken with interrupts off"
msg_sie_reads_1:    .asciz "sstatus.SIE reads 1 after csrc sstatus, SIE"
msg_irq_lost:       .asciz "timer interrupt not taken after csrs sstatus, SIE"
msg_irq_twice:      .asciz "timer interrupt taken more than once"
msg_irq_not_kernel: .asciz "timer interrupt not seen as taken in the kernel (sstatus.SPP)"
        .text
