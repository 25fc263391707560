# kernel/irq.pv.s -- the interrupt mask (twin: irq.native.s).
#
# Para-virtualized, interrupts are events, and the kernel's interrupt enable is a byte in
# the shared-info page: evtchn_upcall_mask (1 = masked, "interrupts off"). Masking and
# unmasking are plain byte stores: no exit, where kernel.s's csrc/csrs sstatus trap under
# trap-and-emulate. The hypervisor looks at the mask only when something makes it exit, so
# an event that came while events were masked waits, pending (evtchn_upcall_pending = 1):
# after unmasking, the kernel asks for it with the null hypercall (xen_version), and it is
# delivered (kernel_trap) on the way back. The timer's event port is always bound: there
# is nothing like sie.STIE to set.
#
# The kernel runs with events masked except in the boot self-check (kernel/boot.s) and the
# irq-mask benchmark below; a timer event that arrives then is counted and leaves
# need_resched set (kernel/traps.s, kernel_tick).
        .equ  SH_UPCALL_PENDING, 0          # u8: an event waits
        .equ  SH_UPCALL_MASK,    1          # u8: 1 = events masked ("interrupts off")
        .equ  SH_EVTCHN_PENDING, 8          # u64: one bit per port
        .equ  HYPERVISOR_xen_version, 17

        .macro irq_timer_on             # (the timer's port is always bound)
        .endm
        .macro irq_off
        call  events_off
        .endm
        .macro irq_on
        call  events_on
        .endm
        # the self-check's step 3: the hypervisor must hold the event for us
        .macro irq_check_masked
        ld    t0, shared_info
        lbu   t0, SH_UPCALL_PENDING(t0)
        la    a0, msg_not_pending
        beqz  t0, panic                 # the event was lost, not held
        .endm

# vk_bench kind 1 (kernel/syscalls.s; s1 = n): n times events off, events on: two stores
bench_irq_mask:
        ld    s3, shared_info
        lbu   s2, SH_UPCALL_MASK(s3)    # as they were (masked: we are in the kernel)
        li    s4, 1
1:      beqz  s1, 2f
        sb    s4, SH_UPCALL_MASK(s3)    # masked
        sb    zero, SH_UPCALL_MASK(s3)  # unmasked: a pending event is taken here, by
        lbu   t0, SH_UPCALL_PENDING(s3) # asking for it (kernel_trap runs)
        beqz  t0, 3f
        call  hyp_xen_version
3:      addi  s1, s1, -1
        j     1b
2:      sb    s2, SH_UPCALL_MASK(s3)    # back as they were
        j     bench_done

# events_off(): mask events: a byte store to the shared-info page, no exit
events_off:
        ld    t0, shared_info
        li    t1, 1
        sb    t1, SH_UPCALL_MASK(t0)
        ret

# events_on(): unmask events, and ask for one that is pending
events_on:
        ld    t0, shared_info
        sb    zero, SH_UPCALL_MASK(t0)
        lbu   t1, SH_UPCALL_PENDING(t0)
        beqz  t1, 1f
        j     hyp_xen_version           # tail call
1:      ret

hyp_xen_version:                        # the null hypercall: its exit delivers events
        li    a0, 0
        li    a7, HYPERVISOR_xen_version
        ecall
        ret

        .section .rodata
msg_irq_off:        .asciz "event delivered with events masked"
msg_not_pending:    .asciz "timer event not pending after it came while masked"
msg_irq_lost:       .asciz "timer event not delivered after unmasking"
msg_irq_twice:      .asciz "timer event delivered more than once"
msg_irq_not_kernel: .asciz "timer event not seen as taken in the kernel (status.SPP)"
        .text
