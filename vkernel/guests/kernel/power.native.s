# kernel/power.native.s -- switching the machine off (twin: power.pv.s).
#
# SBI's system reset (SRST): type 0 is a shutdown; the reason says whether it failed.
        .equ  EID_SRST,    0x53525354       # "SRST"

# shutdown(a0 = reason: 0, or 1 for a system failure): the machine stops (power_off in
# kernel/output.s prints the console's last line first)
shutdown:
        mv    a1, a0                        # the reason
        li    a0, 0                         # type 0: shutdown
        li    a7, EID_SRST
        li    a6, 0                         # FID 0: sbi_system_reset
        ecall
        ret
