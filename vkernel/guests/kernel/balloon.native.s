# kernel/balloon.native.s -- the balloon driver's interface (twin: balloon.pv.s).
#
# The SBI's balloon extension (vkernel's own, in the SBI's experimental range; docs/
# hypervisor.md): get_target, get_reservation, give(gpa, count), take(gpa, count), in 4 KiB
# pages. The host's "look at the target" is a supervisor software interrupt (sip.SSIP),
# which we acknowledge by clearing SSIP. The native firmware has no such extension: the
# first call answers SBI_ERR_NOT_SUPPORTED, and the driver stays off.
        .equ  EID_BALLOON, 0x08424C4E       # "BLN"
        .equ  IRQ_BALLOON, (1 << 63) | 1    # the supervisor software interrupt
        .equ  SIP_SSIP,    1 << 1

        .macro balloon_irq_on           # S software interrupts may come, when SIE allows
        li    t0, SIP_SSIP
        csrs  sie, t0
        .endm
        .macro balloon_ack              # the interrupt is taken: clear it
        csrci sip, SIP_SSIP
        .endm

# balloon_reservation() -> a0 = the pages the host backs now, or -1: no balloon
balloon_reservation:
        li    a6, 1                     # FID 1: get_reservation
        j     balloon_sbi

# balloon_target() -> a0 = the pages the host wants us to have
balloon_target:
        li    a6, 0                     # FID 0: get_target
        j     balloon_sbi

# balloon_give(a0 = first page, a1 = count) -> a0 = pages given (inflate)
balloon_give:
        li    a6, 2                     # FID 2: give
        j     balloon_sbi

# balloon_take(a0 = first page, a1 = count) -> a0 = pages backed again (deflate): the
# host stops at the first it cannot back, and says how many it did
balloon_take:
        li    a6, 3                     # FID 3: take
        # fall through

# balloon_sbi(a6 = function, a0, a1) -> a0 = the value, or -1 if unsupported. A give or
# take that stopped early is an error with the count done in a1: the count is what we want.
balloon_sbi:
        li    a7, EID_BALLOON
        ecall
        li    t0, -2                    # SBI_ERR_NOT_SUPPORTED: no balloon here
        beq   a0, t0, 1f
        mv    a0, a1
        ret
1:      li    a0, -1
        ret
