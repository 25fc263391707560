# kernel/timer.native.s -- the timer (twin: timer.pv.s).
#
# The kernel asks the layer below (the firmware vkernel/guests/sbi.s, or a hypervisor)
# for a timer interrupt at an absolute time with SBI's set_timer -- never the CLINT, never
# stimecmp, so that every technique can answer. The interrupt comes as an ordinary S timer
# interrupt (scause IRQ_S_TIMER); the next set_timer acknowledges it (clears sip.STIP).
# SBI calls: a7 = extension, a6 = function, arguments in a0..; the firmware changes only
# a0 (the error) and a1 (a value).
        .equ  EID_TIME,    0x54494D45       # "TIME"
        .equ  TIMER_NONE,  -1               # set_timer(TIMER_NONE): no deadline at all

# set_timer(a0 = absolute time): the next tick; a new deadline acknowledges a pending tick
set_timer:
        li    a7, EID_TIME
        li    a6, 0                         # FID 0: sbi_set_timer
        ecall
        ret
