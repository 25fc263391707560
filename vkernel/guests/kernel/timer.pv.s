# kernel/timer.pv.s -- the timer (twin: timer.native.s).
#
# The set_timer_op hypercall: an event on the timer's port at an absolute time (0: none).
# It comes as a trap with cause IRQ_S_TIMER in the trap frame (kernel/trap.pv.s).
        .equ  HYPERVISOR_set_timer_op, 15
        .equ  TIMER_NONE,  0                # set_timer(TIMER_NONE): no deadline

# set_timer(a0 = absolute time, 0: none): a new deadline also acknowledges a timer event
# that is pending, as SBI's set_timer does. The flags the hypervisor raised in the
# shared-info page are ours to clear (the timer's port; the upcall flag too unless another
# port, the balloon's, still waits), and before the hypercall: cleared after it, they
# could hide an event the new deadline raised at once.
set_timer:
        ld    t0, shared_info
        ld    t1, SH_EVTCHN_PENDING(t0)
        andi  t1, t1, -2                # port 0, the timer's
        sd    t1, SH_EVTCHN_PENDING(t0)
        bnez  t1, 1f
        sb    zero, SH_UPCALL_PENDING(t0)
1:      li    a7, HYPERVISOR_set_timer_op
        ecall
        ret
