# Synchronous traps: ecall/ebreak, the xRET instructions, delegation to S-mode, the
# virtualization traps TSR/TW/TVM, illegal instructions, and trap-vector modes.
# Reference: RISC-V privileged spec 1.12, sections 3.1.6 (mstatus), 3.1.8 (medeleg),
# 3.3 (ECALL, EBREAK, MRET/SRET, WFI), 4.1 (supervisor CSRs).
#
# Register conventions of this file:
#   s2 cause, s3 tval, s4 epc, s6 status (mstatus / sstatus at entry) of the last trap;
#   s8 minstret as m_trap's first instruction reads it;
#   s5 counts traps taken by m_trap (M-mode), s1 those taken by s_trap (S-mode)
#   s10, s11 scratch of the handlers (never used by the checks)
# Both handlers resume after the trapping instruction (2 or 4 bytes, by its low bits).
# An ecall or ebreak from S or U with a7 = 0x4d4d is not recorded by m_trap: it returns
# to the caller in M-mode ("go back to M"). to_s / to_u continue at the caller in
# S / U with the rest of mstatus unchanged.
#
# mstatus bits: SIE 1, MIE 3, SPIE 5, MPIE 7, SPP 8, MPP 12:11, MPRV 17, TVM 20, TW 21, TSR 22

    .include "prelude.s"
    .include "trap_handler.inc"

main:
    recording_init                # mtvec, stvec, s1 = s5 = s7 = 0, a7 = 0, PMP open

# ---- ecall ----------------------------------------------------------------------------------
    li gp, 1                      # ecall in M: cause 11, mepc = the ecall, mtval = 0
    li s3, -1
1:  ecall
    li a0, 11
    la a1, 1b
    jal expect_m
    bnez s3, fail

    li gp, 2                      # on entry MPP = 3 (from M), MPIE = old MIE (0), MIE = 0
    srli a0, s6, 11
    andi a0, a0, 3
    li a1, 3
    bne a0, a1, fail
    andi a0, s6, 0x88
    bnez a0, fail

    li gp, 3                      # with MIE = 1 (no interrupt enabled in mie): on entry
    csrsi mstatus, 8              # MPIE = 1 and MIE = 0; mret puts MIE back to 1
1:  ecall
    li a0, 11
    la a1, 1b
    jal expect_m
    andi a0, s6, 0x88
    li a1, 0x80
    bne a0, a1, fail
    csrr a0, mstatus
    andi a0, a0, 8
    beqz a0, fail
    csrci mstatus, 8

    li gp, 4                      # ecall in S: cause 9, MPP = 1
    jal to_s
1:  ecall
    li a0, 9
    la a1, 1b
    jal expect_m
    srli a0, s6, 11
    andi a0, a0, 3
    li a1, 1
    bne a0, a1, fail
    bnez s3, fail
    li a7, 0x4d4d                 # back to M
    ecall

    li gp, 5                      # ecall in U: cause 8, MPP = 0
    jal to_u
1:  ecall
    li a0, 8
    la a1, 1b
    jal expect_m
    srli a0, s6, 11
    andi a0, a0, 3
    bnez a0, fail
    li a7, 0x4d4d
    ecall

# ---- ebreak -------------------------------------------------------------------------------
    li gp, 6                      # ebreak: cause 3 and mepc = the ebreak; mtval is either
1:  ebreak                        # 0 or the ebreak's address
    li a0, 3
    la a1, 1b
    jal expect_m
    beqz s3, 2f
    bne s3, a1, fail
2:

    li gp, 7                      # c.ebreak (16 bits): the same cause; the handler skips
    li a2, 0                      # 2 bytes, so the next instruction does run
1:  c.ebreak
    li a2, 1
    li a0, 3
    la a1, 1b
    jal expect_m
    beqz a2, fail
    beqz s3, 2f
    bne s3, a1, fail
2:

    li gp, 8                      # the cause does not depend on the mode: ebreak in U
    jal to_u
1:  ebreak
    li a0, 3
    la a1, 1b
    jal expect_m
1:  c.ebreak
    la a1, 1b
    jal expect_m
    li a7, 0x4d4d
    ecall

# ---- mret ------------------------------------------------------------------------------------
    li gp, 9                      # mret: mode <- MPP, MIE <- MPIE, MPIE <- 1, MPP <- U (the
    li t0, (3 << 11) | 0x80 | (1 << 17)   # least-privileged mode). With MPP = M, MPRV
    csrw mstatus, t0              # (bit 17) is kept.
    la t0, 1f
    csrw mepc, t0
    mret
    j fail
1:  csrr a0, mstatus              # still in M: mstatus is readable
    li t0, 0x219aa                # MPRV | MPP | SPP | MPIE | SPIE | MIE | SIE
    and a0, a0, t0
    li a1, (1 << 17) | 0x88       # MPRV, MPIE, MIE; MPP = 0
    bne a0, a1, fail

    li gp, 10                     # mret with MPIE = 0: MIE <- 0 (and MPIE <- 1)
    li t0, (3 << 11) | 0x8
    csrw mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
    j fail
1:  csrr a0, mstatus
    andi a0, a0, 0x88
    li a1, 0x80
    bne a0, a1, fail

    li gp, 11                     # mret to S with MPRV = 1: the hart is in S (an ecall says
    li t0, (1 << 11) | (1 << 17)  # cause 9) and MPRV was cleared (returning below M)
    csrw mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
    j fail
1:  ecall
    li a0, 9
    la a1, 1b
    jal expect_m
    li t0, 1 << 17
    and a0, s6, t0
    bnez a0, fail
    li a7, 0x4d4d
    ecall

    li gp, 12                     # mret to U with MPRV = 1: in U (cause 8), MPRV cleared
    li t0, 1 << 17
    csrw mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
    j fail
1:  ecall
    li a0, 8
    la a1, 1b
    jal expect_m
    li t0, 1 << 17
    and a0, s6, t0
    bnez a0, fail
    li a7, 0x4d4d
    ecall

# ---- sret ------------------------------------------------------------------------------------
    li gp, 13                     # sret (legal in M): mode <- SPP, SIE <- SPIE, SPIE <- 1,
    li t0, 0x120                  # SPP <- U. Here SPP = S, SPIE = 1, SIE = 0.
    csrw mstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  csrr a0, sstatus              # in S now: sstatus is readable
    andi a0, a0, 0x122
    li a1, 0x22                   # SIE = 1, SPIE = 1, SPP = 0
    bne a0, a1, fail
1:  ecall                         # cause 9: S-mode
    li a0, 9
    la a1, 1b
    jal expect_m
    li a7, 0x4d4d
    ecall

    li gp, 14                     # sret to U with SPIE = 0: U-mode, SIE <- 0; sret also
    li t0, 0x2 | (1 << 17)        # clears MPRV (its target is never M)
    csrw mstatus, t0              # SIE = 1, SPIE = 0, SPP = U, MPRV = 1, MPP = U
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  ecall
    li a0, 8
    la a1, 1b
    jal expect_m
    andi a0, s6, 0x22
    li a1, 0x20
    bne a0, a1, fail
    li t0, 1 << 17
    and a0, s6, t0
    bnez a0, fail
    li a7, 0x4d4d
    ecall

# ---- delegation to S-mode --------------------------------------------------------------------
    li gp, 15                     # medeleg bit 8: an ecall from U goes to stvec in S with
    csrw mstatus, zero            # scause = 8, sepc = the ecall, stval = 0, SPP = 0 (from
    csrsi sstatus, 2              # U), SPIE = old SIE (1), SIE = 0. M sees nothing.
    li t0, 1 << 8
    csrw medeleg, t0
    jal to_u
    li s3, -1
1:  ecall
    li a0, 8
    la a1, 1b
    jal expect_s
    bnez s3, fail
    andi a0, s6, 0x122
    li a1, 0x20
    bne a0, a1, fail

    li gp, 16                     # sret back to U restored SIE = SPIE = 1: the next
1:  ecall                         # delegated ecall finds SIE = 1 again
    li a0, 8
    la a1, 1b
    jal expect_s
    andi a0, s6, 0x122
    li a1, 0x20
    bne a0, a1, fail

    li gp, 17                     # an exception that is not delegated still goes to M
1:  ebreak
    li a0, 3
    la a1, 1b
    jal expect_m
    li a7, 0x4d4d                 # (ebreak, as ecall from U now goes to S)
    ebreak

    li gp, 18                     # ecall from S delegated (bit 9): a trap from S to S,
    li t0, 1 << 9                 # SPP = 1
    csrw medeleg, t0
    jal to_s
1:  ecall
    li a0, 9
    la a1, 1b
    jal expect_s
    andi a0, s6, 0x100
    beqz a0, fail
    li a7, 0x4d4d
    ebreak

    li gp, 19                     # delegated illegal instruction from U: stval = its bits
    li t0, 1 << 2
    csrw medeleg, t0
    jal to_u
1:  csrr a0, sscratch
    li a0, 2
    la a1, 1b
    jal expect_s
    lwu t0, 0(a1)
    bne s3, t0, fail
    li a7, 0x4d4d
    ecall

    li gp, 20                     # traps never go to a less privileged mode: with
    li t0, -1                     # everything delegated, an ebreak and an illegal
    csrw medeleg, t0              # instruction in M still trap to M
1:  ebreak
    li a0, 3
    la a1, 1b
    jal expect_m
1:  csrr a0, 0x7ff
    li a0, 2
    la a1, 1b
    jal expect_m

    li gp, 21                     # vectored stvec (MODE 1): exceptions still go to BASE
    li t0, 1 << 8
    csrw medeleg, t0
    la t0, s_vec
    ori t0, t0, 1
    csrw stvec, t0
    jal to_u
1:  ecall
    li a0, 8
    la a1, 1b
    jal expect_s
    li a7, 0x4d4d
    ebreak
    la t0, s_trap
    csrw stvec, t0
    csrw medeleg, zero

# ---- xRET from the wrong mode ------------------------------------------------------------
    li gp, 22                     # sret in U is illegal (mtval = its bits 0x10200073)
    jal to_u
1:  sret
    la a1, 1b
    jal expect_illegal

    li gp, 23                     # mret in U is illegal (0x30200073)
1:  mret
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 24                     # mret in S is illegal
    jal to_s
1:  mret
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 25                     # mstatus.TSR = 1 makes sret in S illegal ...
    li t0, 1 << 22
    csrs mstatus, t0
    jal to_s
1:  sret
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 26                     # ... but not in M: sret to S still works
    li t0, 1 << 8
    csrs mstatus, t0              # SPP = S
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  ecall
    li a0, 9
    la a1, 1b
    jal expect_m
    li a7, 0x4d4d
    ecall
    li t0, 1 << 22
    csrc mstatus, t0

    li gp, 27                     # TSR = 0: sret in S is fine (S to U here: ecall cause 8)
    li t0, 1 << 8
    csrc mstatus, t0              # SPP = U
    jal to_s
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  ecall
    li a0, 8
    la a1, 1b
    jal expect_m
    li a7, 0x4d4d
    ecall

# ---- wfi and TW ----------------------------------------------------------------------------
    li gp, 28                     # TW = 1: wfi in S is illegal (0x10500073)
    li t0, 1 << 21
    csrs mstatus, t0
    jal to_s
1:  wfi
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall
    li t0, 1 << 21
    csrc mstatus, t0

    li gp, 29                     # TW = 0: wfi in S is allowed. It returns at once when an
    li t0, 2                      # enabled interrupt is pending, even if it cannot be taken:
    csrw mideleg, t0              # SSI is delegated, enabled in sie and pending, with
    csrw mie, t0                  # sstatus.SIE = 0 (and S interrupts are never taken in M)
    csrw mip, t0
    csrci sstatus, 2
    jal to_s
    wfi
    bnez s1, fail
    bnez s5, fail
    li a7, 0x4d4d
    ecall
    csrw mip, zero
    csrw mie, zero
    csrw mideleg, zero

    li gp, 30                     # wfi in U is illegal (nothing pending: it could not
    jal to_u                   # complete in bounded time)
1:  wfi
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

# ---- TVM: satp and sfence.vma in S --------------------------------------------------------
    li gp, 31                     # TVM = 0: S may read/write satp and run sfence.vma
    jal to_s
    csrr a0, satp
    csrw satp, zero
    sfence.vma
    sfence.vma zero, zero
    bnez s5, fail
    li a7, 0x4d4d
    ecall

    li gp, 32                     # TVM = 1: reading satp in S is illegal
    li t0, 1 << 20
    csrs mstatus, t0
    jal to_s
1:  csrr a0, satp
    la a1, 1b
    jal expect_illegal

    li gp, 33                     # writing it too
1:  csrw satp, zero
    la a1, 1b
    jal expect_illegal

    li gp, 34                     # and sfence.vma (any operands)
1:  sfence.vma
    la a1, 1b
    jal expect_illegal
1:  sfence.vma a0, zero
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 35                     # TVM does not affect M
    csrr a0, satp
    sfence.vma
    bnez s5, fail
    li t0, 1 << 20
    csrc mstatus, t0

    li gp, 36                     # sfence.vma is never allowed in U
    jal to_u
1:  sfence.vma
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

# ---- illegal instructions ----------------------------------------------------------------
    li gp, 37                     # the 16-bit parcel 0x0000 is defined to be illegal:
1:  .half 0                       # cause 2, mtval = 0 (its bits), 2 bytes long
    li a0, 2
    la a1, 1b
    jal expect_m
    bnez s3, fail

    li gp, 38                     # an all-zero 32-bit word is, with C, two such parcels:
    li s3, -1                     # two traps, the second at the word's address + 2
1:  .word 0
    li t0, 2
    bne s5, t0, fail
    li t0, 2
    bne s2, t0, fail
    bnez s3, fail
    la a1, 1b
    addi a1, a1, 2
    bne s4, a1, fail
    li s5, 0

    li gp, 39                     # the all-ones word: mtval = 0xffffffff, zero-extended
1:  .word 0xffffffff
    li a0, 2
    la a1, 1b
    jal expect_m
    li t0, 0xffffffff
    bne s3, t0, fail

    li gp, 40                     # a reserved 16-bit encoding (c.lwsp with rd = x0) gives
1:  .half 0x4002                  # mtval = the 16 bits
    li a0, 2
    la a1, 1b
    jal expect_m
    li t0, 0x4002
    bne s3, t0, fail

    li gp, 41                     # no F extension: fadd.s (0x00000053) is illegal
1:  .word 0x00000053
    la a1, 1b
    jal expect_illegal

    li gp, 42                     # and from U the same (cause 2, not delegated: to M)
    jal to_u
1:  .word 0xffffffff
    li a0, 2
    la a1, 1b
    jal expect_m
    srli a0, s6, 11
    andi a0, a0, 3
    bnez a0, fail                 # MPP = U
    li a7, 0x4d4d
    ecall

# ---- vectored mtvec: only interrupts use BASE + 4 * cause -------------------------------
    li gp, 43                     # an ecall (cause 11) and an illegal instruction (2) go to
    la t0, m_vec                  # BASE, where entry 0 jumps to m_trap; entries 2 and 11
    ori t0, t0, 1                 # fail
    csrw mtvec, t0
1:  ecall
    li a0, 11
    la a1, 1b
    jal expect_m
1:  csrr a0, 0x7ff
    la a1, 1b
    jal expect_illegal
    la t0, m_trap
    csrw mtvec, t0

# ---- a trapping instruction does not retire ---------------------------------------------
    li gp, 44                     # ECALL and EBREAK raise exceptions, so (like any trapping
    csrr a0, minstret             # instruction) they do not retire and are not counted in
    ecall                         # minstret: the handler's first instruction sees just one
    addi a0, a0, 1                # more (the csrr) than a0
    bne s8, a0, fail
    csrr a0, minstret
    ebreak
    addi a0, a0, 1
    bne s8, a0, fail

    li gp, 45                     # the same for an illegal instruction
    csrr a0, minstret
    csrr zero, 0x7ff
    addi a0, a0, 1
    bne s8, a0, fail
    li s5, 0

    j pass

# ---- helpers -------------------------------------------------------------------------------
# expect_m / expect_s: exactly one trap since the last check, taken in M / S, with cause a0
# at address a1. Reset the counts.
expect_m:
    li t0, 1
    bne s5, t0, fail
    bnez s1, fail
    bne s2, a0, fail
    bne s4, a1, fail
    li s5, 0
    ret
expect_s:
    li t0, 1
    bne s1, t0, fail
    bnez s5, fail
    bne s2, a0, fail
    bne s4, a1, fail
    li s1, 0
    ret

# expect_illegal, to_s / to_u, m_trap and s_trap: trap_handler.inc
    expect_illegal_insn

    mode_switches

    m_trap_recording minstret=1

    s_trap_recording

# vector tables: entry 0 (exceptions) is the ordinary handler, every other entry fails
    .align 8
m_vec:
    j m_trap
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail

    .align 8
s_vec:
    j s_trap
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
    j fail
