# kernel/power.pv.s -- switching the machine off (twin: power.native.s).
#
# The sched_op hypercall's SCHEDOP_shutdown, with the reason.
        .equ  HYPERVISOR_sched_op, 29
        .equ  SCHEDOP_shutdown, 2

# shutdown(a0 = reason: 0, or 1 for a system failure): the machine stops (power_off in
# kernel/output.s prints the console's last line first)
shutdown:
        mv    a1, a0                    # the reason
        li    a0, SCHEDOP_shutdown
        li    a7, HYPERVISOR_sched_op
        ecall
        ret
