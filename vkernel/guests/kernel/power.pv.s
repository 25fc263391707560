# kernel/power.pv.s -- switching the machine off (twin: power.native.s).
#
# The sched_op hypercall's SCHEDOP_shutdown, with the reason. The console's last line
# goes first: it may still be in the line buffer (kernel/console.pv.s).
        .equ  HYPERVISOR_sched_op, 29
        .equ  SCHEDOP_shutdown, 2

# power_off(a0 = reason: 0, or 1 for a system failure): the machine stops
power_off:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        sd    a0, 0(sp)
        call  console_flush
        ld    a1, 0(sp)                 # the reason
        li    a0, SCHEDOP_shutdown
        li    a7, HYPERVISOR_sched_op
        ecall
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret
