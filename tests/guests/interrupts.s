# Interrupts: the CLINT timer and software interrupts, Sstc's stimecmp, the supervisor
# software interrupt, delegation (mideleg), the global enables (mstatus.MIE/SIE), the
# priority order, vectored mtvec, wfi, and external interrupts through the PLIC.
# References: RISC-V privileged spec 1.12, 3.1.9 (mip/mie), 3.3.3 (wfi), 4.1.3 (sip/sie);
# the Sstc extension; the SiFive/RISC-V PLIC spec; the 16550 UART.
#
# Which interrupts a hart takes (spec 3.1.9): an interrupt i traps to M if mip[i] and
# mie[i] are set, it is not delegated (mideleg[i] = 0) and either the hart is below M or
# mstatus.MIE = 1. A delegated one traps to S if the hart is in U, or in S with
# sstatus.SIE = 1; it is never taken in M. Pending M-level interrupts go first, then by
# cause: MEI (11) > MSI (3) > MTI (7) > SEI (9) > SSI (1) > STI (5).
#
# Register conventions of this file:
#   s2 cause, s3 tval, s4 epc, s6 status, s8 mip / sip at entry of the last trap;
#   s5 counts traps taken by m_trap, s1 those taken by s_trap;
#   s7 a log of causes: each trap shifts it left by 8 and adds its cause's low byte;
#   s9 set to the cause by the vectored entries of m_vec;
#   s10, s11 scratch of the handlers (never used by the checks).
# For an interrupt, the handlers clear its enable bit (in mie / sie) so that it is not
# taken again at once, and resume at the interrupted instruction. Exceptions are
# recorded and skipped; an ecall from S/U with a7 = 0x4d4d returns to M instead.
#
# Devices: CLINT msip 0x0200_0000, mtimecmp 0x0200_4000, mtime 0x0200_BFF8 (mtime =
# instructions retired / 10 on vkernel). PLIC 0x0c00_0000: priority[i] at 4*i, pending
# bits at 0x1000, enables of context c at 0x2000 + 0x80*c, threshold of context c at
# 0x20_0000 + 0x1000*c and claim/complete at +4 (context 0 = M, 1 = S of hart 0).
# UART 0x1000_0000 (PLIC source 10): IER at +1 (bit 1: THR-empty interrupt), IIR at +2.

    .include "prelude.s"
    .include "trap_handler.inc"

main:
    recording_init                # mtvec, stvec, s1 = s5 = s7 = 0, a7 = 0, PMP open
    li t0, -1                     # stimecmp far in the future (Sstc is off until used)
    csrw stimecmp, t0

# ---- machine timer interrupt (CLINT) -----------------------------------------------------
    li gp, 1                      # mtimecmp = mtime + 50 with MTIE and MIE: an interrupt
    li t0, 0x0200bff8             # with mcause = (1 << 63) | 7 arrives during the loop
    ld t1, 0(t0)
    addi t1, t1, 50
    li t0, 0x02004000
    sd t1, 0(t0)
    li t0, 1 << 7
    csrs mie, t0
    csrsi mstatus, 8
    li t2, 100000
1:  bnez s5, 2f
    addi t2, t2, -1
    bnez t2, 1b
    j fail
2:  csrci mstatus, 8
    li a0, 1
    bne s5, a0, fail
    li a0, (1 << 63) | 7
    bne s2, a0, fail
    la a1, 1b                     # mepc: the instruction the interrupt came before
    bltu s4, a1, fail
    la a1, 2b
    bgeu s4, a1, fail
    bnez s3, fail                 # mtval = 0 for interrupts

    li gp, 2                      # in the handler: mip.MTIP = 1, MPIE = 1, MIE = 0, MPP = M
    andi a0, s8, 1 << 7
    beqz a0, fail
    li t0, 0x1888
    and a0, s6, t0
    li a1, 0x1880
    bne a0, a1, fail

    li gp, 3                      # MTIP is a level: still pending after the handler (which
    csrr a0, mip                  # only masked it in mie) ...
    andi a0, a0, 1 << 7
    beqz a0, fail
    li t0, 0x02004000             # ... until mtimecmp is written with a later time
    li t1, -1
    sd t1, 0(t0)
    csrr a0, mip
    andi a0, a0, 1 << 7
    bnez a0, fail
    li s5, 0

    li gp, 4                      # in M with mstatus.MIE = 0 nothing is taken, even with
    li t0, 0x02004000             # MTIP pending and enabled
    sd zero, 0(t0)                # mtimecmp = 0: pending now
    li t0, 1 << 7
    csrs mie, t0
    nop
    nop
    nop
    bnez s5, fail
    csrr a0, mip
    andi a0, a0, 1 << 7
    beqz a0, fail

    li gp, 5                      # setting MIE takes it before the next instruction
    csrsi mstatus, 8
1:  nop
    csrci mstatus, 8
    li a0, 1
    bne s5, a0, fail
    li a0, (1 << 63) | 7
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    li t0, 0x02004000
    li t1, -1
    sd t1, 0(t0)
    li s5, 0

# ---- machine software interrupt (CLINT msip) -------------------------------------------
    li gp, 6                      # writing 1 to msip raises MSIP: cause 3, right after the
    li t0, 1 << 3                 # store
    csrs mie, t0
    csrsi mstatus, 8
    li t0, 0x02000000
    li t1, 1
    sw t1, 0(t0)
1:  nop
    csrci mstatus, 8
    li a0, 1
    bne s5, a0, fail
    li a0, (1 << 63) | 3
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    li s5, 0

    li gp, 7                      # msip reads 1 until software writes 0, which clears MSIP
    li t0, 0x02000000
    lw a0, 0(t0)
    li a1, 1
    bne a0, a1, fail
    csrr a0, mip
    andi a0, a0, 1 << 3
    beqz a0, fail
    sw zero, 0(t0)
    csrr a0, mip
    andi a0, a0, 1 << 3
    bnez a0, fail

# ---- vectored mtvec: interrupts go to BASE + 4 * cause ------------------------------------
    li gp, 8                      # MSI (3) enters at m_vec + 12
    la t0, m_vec
    ori t0, t0, 1
    csrw mtvec, t0
    li s9, 0
    li t0, 1 << 3
    csrs mie, t0
    csrsi mstatus, 8
    li t0, 0x02000000
    li t1, 1
    sw t1, 0(t0)
    nop
    csrci mstatus, 8
    sw zero, 0(t0)
    li a0, 3
    bne s9, a0, fail
    li a0, (1 << 63) | 3
    bne s2, a0, fail

    li gp, 9                      # MTI (7) enters at m_vec + 28
    li t0, 0x02004000
    sd zero, 0(t0)
    li t0, 1 << 7
    csrs mie, t0
    csrsi mstatus, 8
    nop
    csrci mstatus, 8
    li t0, 0x02004000
    li t1, -1
    sd t1, 0(t0)
    li a0, 7
    bne s9, a0, fail
    li a0, (1 << 63) | 7
    bne s2, a0, fail

    li gp, 10                     # an exception (ecall, cause 11) still enters at BASE
    li s9, 0
    ecall
    bnez s9, fail
    li a0, 11
    bne s2, a0, fail
    la t0, m_trap
    csrw mtvec, t0
    li s5, 0

# ---- wfi ------------------------------------------------------------------------------------
    li gp, 11                     # wfi waits for an interrupt that is pending in mip and
    li t0, 0x0200bff8             # enabled in mie, whatever mstatus.MIE says. MIE = 0 here,
    ld t1, 0(t0)                  # so the hart just continues after the wfi (no trap).
    li t2, 1000                   # (wfi may legally return early; vkernel sleeps until
    add a2, t1, t2                # the timer, and no instruction retires meanwhile)
    li t0, 0x02004000
    sd a2, 0(t0)
    li t0, 1 << 7
    csrs mie, t0
    csrr a3, minstret
    wfi
    csrr a4, minstret
    bnez s5, fail
    li t0, 0x0200bff8
    ld a0, 0(t0)
    bltu a0, a2, fail             # mtime reached mtimecmp
    csrr a0, mip
    andi a0, a0, 1 << 7
    beqz a0, fail
    sub a4, a4, a3
    li t0, 20
    bgeu a4, t0, fail             # time went on 1000 ticks while ~1 instruction retired

    li gp, 12                     # with MIE = 1, the interrupt is taken after the wfi:
    li t0, 0x0200bff8             # mepc = the instruction that follows it
    ld t1, 0(t0)
    addi t1, t1, 500
    li t0, 0x02004000
    sd t1, 0(t0)
    li t0, 1 << 7
    csrs mie, t0
    csrsi mstatus, 8
    wfi
1:  nop
    csrci mstatus, 8
    li a0, 1
    bne s5, a0, fail
    li a0, (1 << 63) | 7
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    li t0, 0x02004000
    li t1, -1
    sd t1, 0(t0)
    li s5, 0

# ---- supervisor timer interrupt (Sstc) delegated to S ----------------------------------
    li gp, 13                     # menvcfg.STCE = 1 turns on stimecmp; mcounteren.TM lets S
    li t0, 1                      # use time/stimecmp; mideleg.STIP sends STI to S. In S:
    slli t0, t0, 63               # sie.STIE, stimecmp = time + 50, SIE = 1 -> scause =
    csrs menvcfg, t0              # (1 << 63) | 5 in s_trap
    csrwi mcounteren, 2
    li t0, 1 << 5
    csrw mideleg, t0
    jal to_s
    li t0, 1 << 5
    csrs sie, t0
    csrr t1, time
    addi t1, t1, 50
    csrw stimecmp, t1
    csrsi sstatus, 2
    li t2, 100000
1:  bnez s1, 2f
    addi t2, t2, -1
    bnez t2, 1b
    j fail
2:  csrci sstatus, 2
    bnez s5, fail                 # M saw nothing
    li a0, 1
    bne s1, a0, fail
    li a0, (1 << 63) | 5
    bne s2, a0, fail

    li gp, 14                     # at entry: sip.STIP = 1, SPP = S, SPIE = 1, SIE = 0
    andi a0, s8, 1 << 5
    beqz a0, fail
    andi a0, s6, 0x122
    li a1, 0x120
    bne a0, a1, fail

    li gp, 15                     # STIP stays up until stimecmp is written with a later
    csrr a0, sip                  # time (software cannot clear it in mip/sip)
    andi a0, a0, 1 << 5
    beqz a0, fail
    li t0, 1 << 5
    csrc sip, t0
    csrr a0, sip
    andi a0, a0, 1 << 5
    beqz a0, fail
    li t0, -1
    csrw stimecmp, t0
    csrr a0, sip
    andi a0, a0, 1 << 5
    bnez a0, fail
    li a7, 0x4d4d
    ecall
    li s1, 0

    li gp, 16                     # a delegated interrupt is never taken in M, even with
    csrw stimecmp, zero           # MIE = SIE = 1 ...
    li t0, 1 << 5
    csrs mie, t0
    csrsi mstatus, 0xa
    nop
    nop
    csrci mstatus, 0xa
    bnez s1, fail
    bnez s5, fail
    csrr a0, mip
    andi a0, a0, 1 << 5
    beqz a0, fail

    li gp, 17                     # ... but in U it is taken whatever SIE says (SIE = 0):
    jal to_u                   # at once, with sepc = the first U instruction, SPP = U
1:  li a7, 0x4d4d
    ecall
    li a0, 1
    bne s1, a0, fail
    bnez s5, fail
    li a0, (1 << 63) | 5
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    andi a0, s6, 0x100
    bnez a0, fail
    li t0, -1
    csrw stimecmp, t0
    li s1, 0

    li gp, 18                     # and in S with SIE = 0 it waits; setting SIE takes it
    csrw stimecmp, zero           # before the next instruction
    li t0, 1 << 5
    csrs mie, t0
    csrci mstatus, 2
    jal to_s
    nop
    nop
    bnez s1, fail
    csrsi sstatus, 2
1:  csrci sstatus, 2
    li a0, 1
    bne s1, a0, fail
    la a1, 1b
    bne s4, a1, fail
    li a7, 0x4d4d
    ecall
    li t0, -1
    csrw stimecmp, t0
    li t0, 1
    slli t0, t0, 63
    csrc menvcfg, t0
    csrw mcounteren, zero
    li s1, 0

# ---- supervisor software interrupt --------------------------------------------------------
    li gp, 19                     # delegated: S writes sip.SSIP with SSIE and SIE set and
    li t0, 1 << 1                 # takes scause = (1 << 63) | 1 right after the write
    csrw mideleg, t0
    jal to_s
    csrsi sie, 2
    csrsi sstatus, 2
    csrsi sip, 2
1:  csrci sstatus, 2
    li a0, 1
    bne s1, a0, fail
    li a0, (1 << 63) | 1
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    csrr a0, sip                  # SSIP stays set until software clears it
    andi a0, a0, 2
    beqz a0, fail
    csrci sip, 2
    csrr a0, sip
    bnez a0, fail
    li a7, 0x4d4d
    ecall
    li s1, 0

    li gp, 20                     # not delegated: the same bit set through mip traps to M
    csrw mideleg, zero            # with mcause = (1 << 63) | 1
    csrsi mie, 2
    csrsi mstatus, 8
    csrsi mip, 2
1:  csrci mstatus, 8
    li a0, 1
    bne s5, a0, fail
    li a0, (1 << 63) | 1
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    csrci mip, 2
    li s5, 0

# ---- interrupts targeting M are taken below M whatever MIE says --------------------------
    li gp, 21                     # MIE = 0, MSIE = 1, msip = 1: nothing in M ...
    csrci mstatus, 8
    li t0, 1 << 3
    csrs mie, t0
    li t0, 0x02000000
    li t1, 1
    sw t1, 0(t0)
    nop
    bnez s5, fail
    li t0, 1 << 7                 # (make MPIE 0 so mret leaves MIE = 0)
    csrc mstatus, t0
    jal to_s                   # ... but in S it is taken at once: MPP = S, mepc = the
1:  li a7, 0x4d4d                 # first S instruction
    ecall
    li a0, 1
    bne s5, a0, fail
    li a0, (1 << 63) | 3
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    srli a0, s6, 11
    andi a0, a0, 3
    li a1, 1
    bne a0, a1, fail
    li s5, 0

    li gp, 22                     # and in U (MPP = U)
    li t0, 1 << 3
    csrs mie, t0
    jal to_u
1:  li a7, 0x4d4d
    ecall
    li a0, 1
    bne s5, a0, fail
    li a0, (1 << 63) | 3
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    srli a0, s6, 11
    andi a0, a0, 3
    bnez a0, fail
    li t0, 0x02000000
    sw zero, 0(t0)
    li s5, 0

# ---- priority --------------------------------------------------------------------------------
    li gp, 23                     # all six pending at once, all for M: they are taken in
    li t0, 0x0c000000 + 4 * 10    # the order MEI, MSI, MTI, SEI, SSI, STI
    li t1, 1
    sw t1, 0(t0)                  # PLIC: source 10 priority 1,
    li t0, 0x0c002000
    li t1, 1 << 10
    sw t1, 0(t0)                  # enabled for context 0 (M),
    li t0, 0x0c200000
    sw zero, 0(t0)                # threshold 0;
    li t0, 0x10000001
    li t1, 2
    sb t1, 0(t0)                  # UART: THR-empty interrupt on -> MEIP
    li t0, 0x02000000
    li t1, 1
    sw t1, 0(t0)                  # MSIP
    li t0, 0x02004000
    sd zero, 0(t0)                # MTIP
    li t0, 0x222
    csrw mip, t0                  # SEIP, STIP, SSIP (software-writable in mip)
    li a0, 0xaaa
    csrr a1, mip
    bne a0, a1, fail              # all six are pending
    li s7, 0
    csrw mie, a0
    csrsi mstatus, 8
    nop
    csrci mstatus, 8
    li a0, 6
    bne s5, a0, fail
    li a0, 0x0b0307090105
    bne s7, a0, fail
    li s5, 0

    # clean up: msip = 0, mtimecmp = far, mip = 0; the UART and PLIC are dealt with below
    li t0, 0x02000000
    sw zero, 0(t0)
    li t0, 0x02004000
    li t1, -1
    sd t1, 0(t0)
    csrw mip, zero

# ---- the PLIC ------------------------------------------------------------------------------
    li gp, 24                     # the UART's line is still up: source 10 is pending in the
    li t0, 0x0c001000             # PLIC and MEIP is set
    lw a0, 0(t0)
    li t1, 1 << 10
    and a0, a0, t1
    beqz a0, fail
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    beqz a0, fail

    li gp, 25                     # a threshold >= the source's priority masks it: MEIP = 0
    li t0, 0x0c200000
    li t1, 1
    sw t1, 0(t0)
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    bnez a0, fail

    li gp, 26                     # with MEIE and MIE set, lowering the threshold to 0
    li t0, 1 << 11                # brings MEI (mcause = (1 << 63) | 11) right after the
    csrs mie, t0                  # store
    csrsi mstatus, 8
    li t0, 0x0c200000
    sw zero, 0(t0)
1:  csrci mstatus, 8
    li a0, 1
    bne s5, a0, fail
    li a0, (1 << 63) | 11
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    srli a0, s8, 11
    andi a0, a0, 1
    beqz a0, fail
    li s5, 0

    li gp, 27                     # claim (read 0x0c20_0004) returns the source, 10; the
    li t0, 0x0c200004             # source is no longer pending and MEIP drops
    lw a0, 0(t0)
    li a1, 10
    bne a0, a1, fail
    li t0, 0x0c001000
    lw a0, 0(t0)
    li t1, 1 << 10
    and a0, a0, t1
    bnez a0, fail
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    bnez a0, fail

    li gp, 28                     # the UART says why (IIR = 2: THR empty; reading IIR
    li t0, 0x10000002             # acknowledges it and its line goes down); then complete
    lbu a0, 0(t0)                 # by writing 10 to the claim register
    andi a0, a0, 0xf
    li a1, 2
    bne a0, a1, fail
    li t0, 0x0c200004
    li t1, 10
    sw t1, 0(t0)
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    bnez a0, fail
    lw a0, 0(t0)                  # nothing pending: a claim returns 0
    bnez a0, fail

    li gp, 29                     # as QEMU's PLIC: complete a source whose line is still up
    li t0, 0x10000001             # and it is not pending again until the device re-asserts
    sb zero, 0(t0)                # (turning the THR-empty interrupt off and on raises it)
    li t1, 2
    sb t1, 0(t0)
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    beqz a0, fail
    li t0, 0x0c200004
    lw a0, 0(t0)                  # claim: 10, MEIP drops
    li a1, 10
    bne a0, a1, fail
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    bnez a0, fail
    sw a0, 0(t0)                  # completing 0 does nothing
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    bnez a0, fail
    sw a1, 0(t0)                  # complete 10 with the line still up: not pending (QEMU
    csrr a0, mip                  # 7.2's sifive_plic does not sample the line on completion;
    srli a0, a0, 11               # xv6 2022's uartintr, which never reads IIR, relies on it)
    andi a0, a0, 1
    bnez a0, fail
    li t1, 0x10000000             # an RBR read re-asserts the line (QEMU's serial.c calls
    lbu a0, 0(t1)                 # serial_update_irq): pending again
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    beqz a0, fail

    li gp, 30                     # turning the device's interrupt off lowers the line
    li t0, 0x10000001
    sb zero, 0(t0)
    csrr a0, mip
    srli a0, a0, 11
    andi a0, a0, 1
    bnez a0, fail
    li t0, 0x0c001000
    lw a0, 0(t0)
    bnez a0, fail

    li gp, 31                     # context 1 (S) drives SEIP: with the source enabled only
    li t0, 0x0c002000             # there, mip.SEIP (and not MEIP) follows the UART line
    sw zero, 0(t0)
    li t0, 0x0c002080
    li t1, 1 << 10
    sw t1, 0(t0)
    li t0, 0x0c201000
    sw zero, 0(t0)
    li t0, 0x10000001
    li t1, 2
    sb t1, 0(t0)
    csrr a0, mip
    li t0, (1 << 11) | (1 << 9)
    and a0, a0, t0
    li a1, 1 << 9
    bne a0, a1, fail

    li gp, 32                     # delegated to S: an SEI (scause = (1 << 63) | 9) taken in
    li t0, 1 << 9                 # S; the S handler's claim at 0x0c20_1004 returns 10
    csrw mideleg, t0
    csrs mie, t0
    jal to_s
    csrsi sstatus, 2
1:  csrci sstatus, 2
    li a0, 1
    bne s1, a0, fail
    li a0, (1 << 63) | 9
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    andi a0, s8, 1 << 9
    beqz a0, fail
    li t0, 0x0c201004
    lw a0, 0(t0)
    li a1, 10
    bne a0, a1, fail
    li t1, 0x10000001             # quiet the UART, complete
    sb zero, 0(t1)
    sw a1, 0(t0)
    csrr a0, sip
    bnez a0, fail
    li a7, 0x4d4d
    ecall
    csrw mideleg, zero
    li s1, 0

    li gp, 33                     # mip.SEIP reads as (software bit | PLIC line), but a
    li t0, 0x10000001             # csrrs/csrrc of mip only modifies the software bit: an
    li t1, 2                      # RMW done while the line is up must not latch it
    sb t1, 0(t0)                  # (line up again)
    csrr a0, mip
    andi a0, a0, 1 << 9
    beqz a0, fail
    csrsi mip, 2                  # set SSIP by read-modify-write
    sb zero, 0(t0)                # line down
    csrr a0, mip
    li a1, 2                      # only SSIP: SEIP went down with the line
    bne a0, a1, fail
    csrci mip, 2

    li gp, 34                     # and the software SEIP bit alone raises SEIP
    li t0, 1 << 9
    csrs mip, t0
    csrr a0, mip
    bne a0, t0, fail
    csrc mip, t0
    csrr a0, mip
    bnez a0, fail
    li t0, 0x0c002080             # disable the source again
    sw zero, 0(t0)

# ---- M-level before S-level ----------------------------------------------------------------
    li gp, 35                     # in S with SIE = 1: an STI for M (not delegated, lowest
    li t0, 1 << 9                 # cause priority) is taken before a delegated SEI (higher
    csrw mideleg, t0              # cause priority): interrupts for M come first
    csrci mstatus, 8              # in M: MIE = 0 holds the STI back and the SEI is for S;
    csrsi mstatus, 2              # SIE = 1, so on entering S both can be taken
    li t0, (1 << 9) | (1 << 5)
    csrw mip, t0
    csrw mie, t0
    li s7, 0
    nop
    bnez s5, fail
    jal to_s
    nop
    csrci sstatus, 2
    li a0, 1
    bne s5, a0, fail
    bne s1, a0, fail
    li a0, 0x0509
    bne s7, a0, fail
    li a7, 0x4d4d
    ecall
    csrw mip, zero
    csrw mideleg, zero
    li s1, 0
    li s5, 0

# ---- vectored stvec ------------------------------------------------------------------------
    li gp, 36                     # a delegated SSI with stvec in vectored mode enters at
    la t0, s_vec                  # s_vec + 4 * 1, which notes 1 in s9
    ori t0, t0, 1
    csrw stvec, t0
    li t0, 1 << 1
    csrw mideleg, t0
    li s9, 0
    jal to_s
    csrsi sie, 2
    csrsi sstatus, 2
    csrsi sip, 2
1:  csrci sstatus, 2
    csrci sip, 2
    li a0, 1
    bne s1, a0, fail
    bne s9, a0, fail
    li a0, (1 << 63) | 1
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail

    li gp, 37                     # while an exception (a delegated ecall from S) enters at
    li s9, 0                      # BASE (entry 0 is s_trap itself, which leaves s9 alone)
    li a7, 0x4d4d
    ebreak                        # (back to M: ecall from S is about to be delegated)
    li t0, 1 << 9
    csrw medeleg, t0
    jal to_s
1:  ecall
    li a0, 2
    bne s1, a0, fail
    bnez s9, fail
    li a0, 9
    bne s2, a0, fail
    la a1, 1b
    bne s4, a1, fail
    li a7, 0x4d4d
    ebreak
    csrw medeleg, zero
    csrw mideleg, zero
    la t0, s_trap
    csrw stvec, t0
    li s1, 0

    j pass

# ---- helpers and trap handlers (trap_handler.inc) ------------------------------------------
    mode_switches

    m_trap_recording irqs=1

    s_trap_recording irqs=1

# m_vec: vectored table. Entry 0 (exceptions) is m_trap; MSI, MTI and MEI note their
# entry in s9 first; every other entry fails.
    .align 8
m_vec:
    j m_trap                      # 0
    j fail                        # 1
    j fail                        # 2
    j vec_msi                     # 3
    j fail                        # 4
    j fail                        # 5
    j fail                        # 6
    j vec_mti                     # 7
    j fail                        # 8
    j fail                        # 9
    j fail                        # 10
    j vec_mei                     # 11
vec_msi:
    li s9, 3
    j m_trap
vec_mti:
    li s9, 7
    j m_trap
vec_mei:
    li s9, 11
    j m_trap

# s_vec: the vectored table for stvec. Entry 0 is s_trap; SSI notes its entry in s9.
    .align 8
s_vec:
    j s_trap                      # 0
    j vec_ssi                     # 1
    j fail                        # 2
    j fail                        # 3
    j fail                        # 4
    j fail                        # 5
    j fail                        # 6
    j fail                        # 7
    j fail                        # 8
    j fail                        # 9
vec_ssi:
    li s9, 1
    j s_trap
