# H extension: traps with virtualization. Exception delegation through medeleg and hedeleg,
# interrupt delegation through mideleg and hideleg; what a trap into VS-, HS- and M-mode
# writes (vscause/vsepc/vstval/vsstatus; scause/sepc/stval/sstatus with hstatus.SPV, SPVP,
# GVA and htval; mcause/mepc/mtval/mstatus with MPV, GVA and mtval2); the ECALL causes of
# VS- and VU-mode; SRET and MRET returning into VS / VU; the VS-level interrupts raised
# through hvip, their translation to causes 1, 5, 9 in VS-mode, and their priority against
# HS- and M-level interrupts.
# Reference: RISC-V privileged spec, chapter "Hypervisor Extension": "Hypervisor Trap
# Delegation (hedeleg and hideleg)", "Hypervisor Interrupt (hvip, hip, and hie) Registers",
# "Virtual Supervisor Interrupt (vsip and vsie) Registers", "Trap Cause Codes", "Trap
# Entry", "Trap Return", "Machine Status (mstatus)" (MPV, GVA), "Machine Second Trap Value
# (mtval2)"; and the privileged spec's interrupt rules ("must be evaluated immediately
# following the execution of an xRET instruction or an explicit write to a CSR on which
# these interrupt trap conditions expressly depend").
#
# Translation is off (vsatp, hgatp and satp Bare): guest addresses are physical addresses.
# Access faults come from NOWHERE, a physical address with nothing behind it (on vkernel and
# on QEMU's virt board alike). PMP is not used for them: vkernel has the PMP CSRs but does
# not check accesses against them.
#
# Conventions (h_init, trap records in s1-s9, expect, to_hs / to_u / to_vs / to_vu, MAGIC
# for "back to M-mode", irq_log, set_pte) and the shared constants (LVL_*, IRQ, mstatus and
# hstatus bits, RAM, PTE flags): see h_framework.inc, which this file includes.

    .include "prelude.s"
    .include "h_framework.inc"

    .equ NOWHERE,   0x08000000           # no memory, no device: access faults

main:
    jal h_init
    li t0, 1 << 63                # STCE = 0: hip.VSTIP and mip.STIP are software's only
    csrc menvcfg, t0
    csrc henvcfg, t0
    csrw satp, zero
    csrw vsatp, zero
    csrw hgatp, zero
    csrw medeleg, zero
    csrw hedeleg, zero
    csrw mideleg, zero
    csrw hideleg, zero
    csrw hvip, zero
    csrw hie, zero
    csrw mie, zero

# ---- traps into M-mode ---------------------------------------------------------------------
    li gp, 1                      # ecall in VS-mode: cause 10 ("environment call from VS-mode")
    jal to_vs
1:  ecall
    li a0, LVL_M
    li a1, 10
    la a2, 1b
    jal expect

    li gp, 2                      # a trap from VS into M sets MPV=1 and MPP=S; an ecall writes
    li t0, MPV | MPP_MASK         # no guest virtual address: GVA=0, mtval=0, and mtval2=0
    and a0, s5, t0                # (mtval2 is zero for anything but a guest-page fault)
    li a1, MPV | MPP_S
    bne a0, a1, fail
    li t0, GVA_M
    and a0, s5, t0
    bnez a0, fail
    bnez s3, fail
    bnez s6, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 3                      # mret with MPV=1 went back to VS: the next ecall is cause 10
1:  ecall                         # again
    li a0, LVL_M
    li a1, 10
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall

    li gp, 4                      # ecall in VU-mode: cause 8 (from U-mode or VU-mode), MPV=1,
    jal to_vu                     # MPP=U
1:  ecall
    li a0, LVL_M
    li a1, 8
    la a2, 1b
    jal expect
    li t0, MPV | MPP_MASK
    and a0, s5, t0
    li a1, MPV
    bne a0, a1, fail
    li a7, MAGIC
    ecall

    li gp, 5                      # ecall in HS-mode: cause 9, MPV=0, MPP=S
    jal to_hs
1:  ecall
    li a0, LVL_M
    li a1, 9
    la a2, 1b
    jal expect
    li t0, MPV | MPP_MASK
    and a0, s5, t0
    li a1, MPP_S
    bne a0, a1, fail
    li a7, MAGIC
    ecall

    li gp, 6                      # ecall in U-mode: cause 8, MPV=0, MPP=U
    jal to_u
1:  ecall
    li a0, LVL_M
    li a1, 8
    la a2, 1b
    jal expect
    li t0, MPV | MPP_MASK
    and a0, s5, t0
    bnez a0, fail
    li a7, MAGIC
    ecall

    li gp, 7                      # a trap from M-mode sets MPV=0 (V was 0), whatever MPV held
    li t0, MPV
    csrs mstatus, t0
1:  ecall
    li a0, LVL_M
    li a1, 11
    la a2, 1b
    jal expect
    li t0, MPV
    and a0, s5, t0
    bnez a0, fail

    li gp, 8                      # a load access fault in VS-mode, into M: mtval = the guest
    jal to_vs                     # virtual address, so GVA=1; MPV=1; mtval2 = 0
    li a3, NOWHERE + 0x18
1:  ld a4, 0(a3)
    li a0, LVL_M
    li a1, 5
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, MPV | GVA_M
    and a0, s5, t0
    bne a0, t0, fail
    bnez s6, fail

    li gp, 9                      # a store access fault: cause 7, the same
1:  sd a4, 0(a3)
    li a0, LVL_M
    li a1, 7
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, MPV | GVA_M
    and a0, s5, t0
    bne a0, t0, fail
    li a7, MAGIC
    ecall

    li gp, 10                     # the same access from HS-mode: mtval is no guest virtual
    jal to_hs                     # address, GVA=0, MPV=0
    li a3, NOWHERE + 0x20
1:  ld a4, 0(a3)
    li a0, LVL_M
    li a1, 5
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, MPV | GVA_M
    and a0, s5, t0
    # QEMU 7.2 never clears mstatus.GVA on a trap into M: it is still 1 from the last check
    bnez a0, fail                 # qemu-7.2-bug:
    li a7, MAGIC
    ecall

    li gp, 11                     # ebreak in VS-mode: cause 3; mtval is 0 or the guest virtual
    li t0, GVA_M                  # address of the ebreak, and GVA=1 exactly when it is not 0
    csrc mstatus, t0              # (GVA cleared first: the previous check is about clearing)
    jal to_vs
1:  ebreak                        # ("for any trap (breakpoint, ...) that writes a guest
    li a0, LVL_M                  # virtual address to mtval, GVA is set to 1")
    li a1, 3
    la a2, 1b
    jal expect
    li t0, GVA_M
    and a0, s5, t0
    beqz s3, 2f
    bne s3, a2, fail
    beqz a0, fail
    j 3f
2:  bnez a0, fail
3:  li a7, MAGIC
    ecall

    li gp, 12                     # an M-level CSR in VS-mode is an illegal instruction (2),
    jal to_vs                     # mtval = its bits (or 0), GVA=0
1:  csrr a0, mscratch
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
    jal tval_is_insn
    li t0, GVA_M
    and a0, s5, t0
    # QEMU 7.2 sets GVA whenever V was 1 and mtval is not 0, the instruction bits here too
    bnez a0, fail                 # qemu-7.2-bug:
    li a7, MAGIC
    ecall

# ---- traps into HS-mode ----------------------------------------------------------------------
    li gp, 13                     # medeleg[10]: an ecall from VS-mode goes to HS-mode: scause
    li t0, 0x55a8                 # 10, sepc, stval = 0; hstatus.SPV=1 (V was 1), SPVP=1 (=SPP),
    csrw vsepc, t0                # GVA=0; htval = 0; sstatus.SPP=1, SPIE = the HS-level SIE
    li t0, 1 << 10                # before (1), SIE=0
    csrw medeleg, t0
    csrw hstatus, zero
    csrsi sstatus, SIE            # (nothing is pending: SIE only shows up in SPIE)
    jal to_vs
1:  ecall
    li a0, LVL_HS
    li a1, 10
    la a2, 1b
    jal expect
    bnez s3, fail
    bnez s6, fail
    li t0, H_SPV | H_SPVP | H_GVA
    and a0, s7, t0
    li a1, H_SPV | H_SPVP
    bne a0, a1, fail
    andi a0, s5, SPP | SPIE | SIE
    li a1, SPP | SPIE
    bne a0, a1, fail

    li gp, 14                     # sret from HS-mode with SPV=1, SPP=1 went back to VS-mode:
1:  ecall                         # another ecall is cause 10 into HS again
    li a0, LVL_HS
    li a1, 10
    la a2, 1b
    jal expect
    li a7, MAGIC                  # (through hs_trap's own ecall to M)
    ecall

    li gp, 15                     # a trap into HS-mode does not touch the VS CSRs: vsepc kept
    csrr a0, vsepc                # its value
    li a1, 0x55a8
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 16                     # medeleg[8]: an ecall from VU-mode into HS: cause 8, SPV=1,
    li t0, 1 << 8                 # SPVP=0, SPP=0
    csrw medeleg, t0
    jal to_vu
1:  ecall
    li a0, LVL_HS
    li a1, 8
    la a2, 1b
    jal expect
    li t0, H_SPV | H_SPVP
    and a0, s7, t0
    li a1, H_SPV
    bne a0, a1, fail
    andi a0, s5, SPP
    bnez a0, fail
    li a7, MAGIC
    ecall

    li gp, 17                     # an ecall from U-mode (V=0) into HS: SPV=0, SPP=0 and "if V
    li t0, H_SPVP                 # was 0 before a trap, SPVP is left unchanged" (1 here)
    csrs hstatus, t0
    jal to_u
1:  ecall
    li a0, LVL_HS
    li a1, 8
    la a2, 1b
    jal expect
    li t0, H_SPV | H_SPVP
    and a0, s7, t0
    li a1, H_SPVP
    bne a0, a1, fail
    li a7, MAGIC
    ecall

    li gp, 18                     # ebreak from HS-mode into HS (medeleg[3]): SPV=0, SPP=1,
    li t0, 1 << 3                 # SPVP unchanged (0 now), GVA=0 (no guest address)
    csrw medeleg, t0
    li t0, H_SPVP
    csrc hstatus, t0
    jal to_hs
1:  ebreak
    li a0, LVL_HS
    li a1, 3
    la a2, 1b
    jal expect
    li t0, H_SPV | H_SPVP | H_GVA
    and a0, s7, t0
    bnez a0, fail
    andi a0, s5, SPP
    beqz a0, fail
    li a7, MAGIC
    ecall

    li gp, 19                     # ebreak from VS-mode into HS: SPV=1, SPVP=1; stval is 0 or
    jal to_vs                     # the guest virtual address of the ebreak, GVA=1 exactly when
1:  ebreak                        # it is not 0; htval = 0
    li a0, LVL_HS
    li a1, 3
    la a2, 1b
    jal expect
    bnez s6, fail
    li t0, H_SPV | H_SPVP
    and a0, s7, t0
    bne a0, t0, fail
    andi a0, s7, H_GVA
    beqz s3, 2f
    bne s3, a2, fail
    beqz a0, fail
    j 3f
2:  bnez a0, fail
3:  li a7, MAGIC
    ecall

    li gp, 20                     # a load access fault from VS-mode into HS (medeleg[5]):
    li t0, 1 << 5                 # stval = the guest virtual address, GVA=1, SPV=1; htval = 0
    csrw medeleg, t0
    jal to_vs
    li a3, NOWHERE + 0x28
1:  lw a4, 0(a3)
    li a0, LVL_HS
    li a1, 5
    la a2, 1b
    jal expect
    bne s3, a3, fail
    bnez s6, fail
    li t0, H_SPV | H_GVA
    and a0, s7, t0
    bne a0, t0, fail
    li a7, MAGIC
    ecall

    li gp, 21                     # the same fault from HS-mode: stval is not a guest virtual
    jal to_hs                     # address, GVA=0, SPV=0
    li a3, NOWHERE + 0x30
1:  lw a4, 0(a3)
    li a0, LVL_HS
    li a1, 5
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, H_SPV | H_GVA
    and a0, s7, t0
    bnez a0, fail
    li a7, MAGIC
    ecall

# ---- traps into VS-mode ----------------------------------------------------------------------
    li gp, 22                     # medeleg[8] and hedeleg[8]: an ecall from VU-mode goes to
    li t0, 0x1234                 # VS-mode (vstvec): vscause 8, vsepc, vstval = 0, vsstatus.SPP
    csrw sepc, t0                 # = 0, SPIE = the old vsstatus.SIE (1), SIE = 0
    li t0, 7
    csrw scause, t0
    li t0, H_SPVP
    csrw hstatus, t0
    li t0, 1 << 8
    csrw medeleg, t0
    csrw hedeleg, t0
    csrwi vsstatus, SIE           # (nothing pending: SIE only shows in SPIE)
    csrw vstval, t0               # (not 0 before the trap)
    jal to_vu
1:  ecall
    li a0, LVL_VS
    li a1, 8
    la a2, 1b
    jal expect
    bnez s3, fail
    andi a0, s5, SPP | SPIE | SIE
    li a1, SPIE
    bne a0, a1, fail

    li gp, 23                     # V stayed 1: the VS handler's sret returned to VU-mode, where
1:  ecall                         # another ecall goes to VS again
    li a0, LVL_VS
    li a1, 8
    la a2, 1b
    jal expect
    li a7, MAGIC                  # (ecall to VS, which passes it on to M)
    ecall

    li gp, 24                     # "Register hstatus and the HS-level sstatus are not modified"
    csrr a0, hstatus              # by a trap into VS-mode, nor sepc / scause
    andi a0, a0, H_SPV | H_SPVP | H_GVA
    li a1, H_SPVP
    bne a0, a1, fail
    csrr a0, sepc
    li a1, 0x1234
    bne a0, a1, fail
    csrr a0, scause
    li a1, 7
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 25                     # the VS handler's sret set vsstatus.SIE = SPIE (1): the trap
    csrr a0, vsstatus             # into VS of the "back to M" ecall then saved that 1 in SPIE
    andi a0, a0, SPP | SPIE | SIE # (and cleared SIE; SPP = 0 from VU-mode)
    li a1, SPIE
    bne a0, a1, fail
    csrw vsstatus, zero
    bnez s9, fail                 # (and no trap on the way)

    li gp, 26                     # hedeleg alone does not delegate: with medeleg[8] = 0 an
    csrw medeleg, zero            # ecall from VU-mode goes to M
    jal to_vu
1:  ecall
    li a0, LVL_M
    li a1, 8
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall

    li gp, 27                     # hedeleg only applies when V=1: an ecall from U-mode (V=0)
    li t0, 1 << 8                 # with medeleg[8] = hedeleg[8] = 1 goes to HS
    csrw medeleg, t0
    jal to_u
1:  ecall
    li a0, LVL_HS
    li a1, 8
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall

    li gp, 28                     # an illegal instruction in VS-mode, delegated to VS (medeleg
    li t0, 1 << 2                 # [2], hedeleg[2]): vscause 2, vstval = its bits (or 0),
    csrw medeleg, t0              # vsstatus.SPP = 1 (from VS-mode)
    csrw hedeleg, t0
    jal to_vs
1:  csrr a0, mscratch
    li a0, LVL_VS
    # QEMU 7.2 "translates" exception causes 2, 6, 10 delegated to VS as if they were the VS
    # interrupts 2, 6, 10: vscause reads 1 (instruction access fault)
    li a1, 2                      # qemu-7.2-bug: li a1, 1
    la a2, 1b
    jal expect
    jal tval_is_insn
    andi a0, s5, SPP
    beqz a0, fail
    li a7, MAGIC
    ecall

    li gp, 29                     # a load access fault in VU-mode, delegated to VS: vstval =
    li t0, 1 << 5                 # the address, vsstatus.SPP = 0
    csrw hedeleg, t0
    csrw medeleg, t0
    jal to_vu
    li a3, NOWHERE + 0x38
1:  lhu a4, 0(a3)
    li a0, LVL_VS
    li a1, 5
    la a2, 1b
    jal expect
    bne s3, a3, fail
    andi a0, s5, SPP
    bnez a0, fail
    li a7, MAGIC
    ecall
    csrw medeleg, zero
    csrw hedeleg, zero

# ---- SRET / MRET into VS and VU -------------------------------------------------------------
    li gp, 30                     # sret in HS-mode with SPV=1, SPP=0 enters VU-mode (an ecall
    jal to_hs                     # is cause 8 with MPV=1) ...
    li t0, H_SPV
    csrs hstatus, t0
    li t0, SPP
    csrc sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  ecall
    li a0, LVL_M
    li a1, 8
    la a2, 1b
    jal expect
    li t0, MPV
    and a0, s5, t0
    beqz a0, fail

    li gp, 31                     # ... and sets hstatus.SPV = 0 (s7 = hstatus at the ecall)
    andi a0, s7, H_SPV
    bnez a0, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 32                     # sret in VS-mode uses vsstatus and vsepc: with vsstatus.SPP=0
    li t0, SPIE                   # it enters VU-mode; vsstatus then has SIE = SPIE = 1, SPIE=1,
    csrw vsstatus, t0             # SPP = 0. HS-level state is untouched (hstatus.SPV=1, sepc
    li t0, H_SPV                  # and sstatus.SPP stay).
    csrw hstatus, t0
    li t0, 0x4320
    csrw sepc, t0
    li t0, SPP
    csrs sstatus, t0
    la t0, 1f
    csrw vsepc, t0
    jal to_vs
    sret
    j fail
1:  ecall
    li a0, LVL_M
    li a1, 8
    la a2, 1b
    jal expect
    li t0, MPV
    and a0, s5, t0
    beqz a0, fail
    li a7, MAGIC
    ecall
    csrr a0, vsstatus
    andi a0, a0, SPP | SPIE | SIE
    li a1, SPIE | SIE
    bne a0, a1, fail
    csrr a0, hstatus
    andi a0, a0, H_SPV
    beqz a0, fail
    csrr a0, sepc
    li a1, 0x4320
    bne a0, a1, fail
    csrr a0, sstatus
    andi a0, a0, SPP
    beqz a0, fail

    li gp, 33                     # sret in VS-mode with vsstatus.SPP = 1 stays in VS-mode
    li t0, SPP                    # (cause 10)
    csrw vsstatus, t0
    la t0, 1f
    csrw vsepc, t0
    jal to_vs
    sret
    j fail
1:  ecall
    li a0, LVL_M
    li a1, 10
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    csrw hstatus, zero
    csrw vsstatus, zero

# ---- VS-level interrupts --------------------------------------------------------------------
    # S-level interrupts (1, 5, 9) go to HS (mideleg); VS-level ones (2, 6, 10) to HS always
    # (mideleg's bits are read-only one), and on to VS where hideleg says so.
    li t0, 0x222
    csrw mideleg, t0
    li t0, 0x444
    csrw hideleg, t0
    csrw mstatus, zero            # HS-level SIE = 0, MIE = 0

    li gp, 34                     # hvip.VSSIP with hideleg[2] and hie.VSSIE: in VS-mode with
    csrwi hvip, 4                 # vsstatus.SIE = 1, a supervisor software interrupt in VS:
    csrwi hie, 4                  # vscause = interrupt | 1 (translated from 2), vsepc = the
    jal to_vs                     # next instruction once the write to sstatus enabled it
    csrsi sstatus, SIE
1:  nop
    li a0, LVL_VS
    li a1, IRQ | 1
    la a2, 1b
    jal expect

    li gp, 35                     # at entry vsstatus.SPP = 1, SPIE = 1, SIE = 0
    andi a0, s5, SPP | SPIE | SIE
    li a1, SPP | SPIE
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 36                     # the handler cleared vsie.SSIE, which is hie.VSSIE; hvip
    csrr a0, hie                  # .VSSIP is still set (only the hypervisor clears it)
    andi a0, a0, 4
    bnez a0, fail
    csrr a0, hvip
    andi a0, a0, 4
    beqz a0, fail
    csrw hvip, zero
    la tp, irq_log
    bnez s9, fail                 # (and no trap on the way)

    li gp, 37                     # hvip.VSTIP: vscause = interrupt | 5
    li t0, 0x40
    csrw hvip, t0
    csrw hie, t0
    csrw vsstatus, zero
    jal to_vs
    csrsi sstatus, SIE
1:  nop
    li a0, LVL_VS
    li a1, IRQ | 5
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    csrw hvip, zero

    li gp, 38                     # hvip.VSEIP: vscause = interrupt | 9
    li t0, 0x400
    csrw hvip, t0
    csrw hie, t0
    csrw vsstatus, zero
    jal to_vs
    csrsi sstatus, SIE
1:  nop
    li a0, LVL_VS
    li a1, IRQ | 9
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    csrw hvip, zero
    la tp, irq_log

    li gp, 39                     # in VS-mode with vsstatus.SIE = 0 it is not taken ...
    csrwi hvip, 4
    csrwi hie, 4
    csrw vsstatus, zero
    jal to_vs
    nop
    nop
    bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 40                     # ... but in VU-mode it is, whatever vsstatus.SIE: right at
    jal to_vu                     # the mret (vsstatus.SPP = 0)
1:  nop
    li a0, LVL_VS
    li a1, IRQ | 1
    la a2, 1b
    jal expect
    andi a0, s5, SPP
    bnez a0, fail
    li a7, MAGIC
    ecall

    li gp, 41                     # with V=0 a VS-level interrupt delegated to VS is never
    csrwi hie, 4                  # taken: not in HS-mode with sstatus.SIE = 1 ...
    li t0, SIE
    csrw vsstatus, t0
    csrs mstatus, t0
    jal to_hs
    nop
    nop
    bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 42                     # ... nor in U-mode ("VS-mode interrupts are globally
    jal to_u                      # disabled when executing in U-mode")
    nop
    nop
    bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 43                     # ... and right after an sret from HS into VS-mode (vsstatus
    jal to_hs                     # .SIE = 1) it is taken, at the sret's target
    li t0, H_SPV
    csrs hstatus, t0
    li t0, SPP
    csrs sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  nop
    li a0, LVL_VS
    li a1, IRQ | 1
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    csrw hvip, zero
    csrw mstatus, zero
    csrw vsstatus, zero
    la tp, irq_log

    li gp, 44                     # hideleg[2] = 0: the VS-level software interrupt goes to HS,
    csrw hideleg, zero            # untranslated (scause = interrupt | 2); from VS-mode HS-level
    csrwi hvip, 4                 # interrupts are enabled whatever sstatus.SIE (0 here).
    csrwi hie, 4                  # hstatus.SPV = 1.
    jal to_vs
1:  nop
    li a0, LVL_HS
    li a1, IRQ | 2
    la a2, 1b
    jal expect
    andi a0, s7, H_SPV
    beqz a0, fail
    li a7, MAGIC
    ecall

    li gp, 45                     # in HS-mode with sstatus.SIE = 0 it waits; once SIE is set,
    csrwi hie, 4                  # it is taken right after that write, with SPV = 0
    jal to_hs
    nop
    bnez s9, fail
    csrsi sstatus, SIE
1:  nop
    li a0, LVL_HS
    li a1, IRQ | 2
    la a2, 1b
    jal expect
    andi a0, s7, H_SPV
    bnez a0, fail
    li a7, MAGIC
    ecall
    csrw hvip, zero
    csrw mstatus, zero
    la tp, irq_log

    li gp, 46                     # priority of the interrupts for HS-mode: "SEI, SSI, STI,
    li t0, 0x222                  # SGEI, VSEI, VSSI, VSTI". All six pending and enabled
    csrw mip, t0                  # (hideleg = 0), entering VS-mode: each taken in turn as
    li t0, 0x444                  # the handler disables the one before.
    csrw hvip, t0
    li t0, 0x666
    csrw mie, t0
    jal to_vs
    nop
    li a0, 6
    la a1, order_hs
    # QEMU 7.2 takes them in the order of their cause numbers: SSI, VSSI, STI, VSTI, SEI, VSEI
    jal check_log                 # qemu-7.2-bug: la tp, irq_log
    li a7, MAGIC
    ecall
    csrw mip, zero
    csrw hvip, zero

    li gp, 47                     # priority in VS-mode: all three delegated by hideleg, in
    li t0, 0x444                  # VS-mode: SEI (9), SSI (1), STI (5), the translated codes
    csrw hideleg, t0
    csrw hvip, t0
    csrw hie, t0
    li t0, SIE
    csrw vsstatus, t0
    jal to_vs
    nop
    li a0, 3
    la a1, order_vs
    # QEMU 7.2 takes them in the order of their cause numbers here too: SSI, STI, SEI
    jal check_log                 # qemu-7.2-bug: la tp, irq_log
    li a7, MAGIC
    ecall
    csrw hvip, zero

    li gp, 48                     # an HS-level interrupt (SSI, mideleg) comes before a VS-level
    csrsi mip, 2                  # one delegated to VS (VSSI), both pending in VS-mode: "a
    csrsi mie, 2                  # trap to a higher privilege first"; then the VS one
    csrwi hvip, 4
    csrwi hie, 4
    li t0, SIE
    csrw vsstatus, t0
    jal to_vs
    nop
    li a0, 2
    la a1, order_hs_vs
    jal check_log
    li a7, MAGIC
    ecall
    csrw mip, zero
    csrw hvip, zero

    li gp, 49                     # an M-level interrupt (SSI with mideleg[1] = 0) comes before
    li t0, 0x220                  # an HS-level one (VSSI with hideleg = 0), both pending in
    csrw mideleg, t0              # VS-mode
    csrw hideleg, zero
    csrsi mip, 2
    csrsi mie, 2
    csrwi hvip, 4
    csrwi hie, 4
    jal to_vs
    nop
    li a0, 2
    la a1, order_m_hs
    jal check_log
    li a7, MAGIC
    ecall
    csrw mip, zero
    csrw hvip, zero

    li gp, 50                     # vsie as a view of hie through hideleg: with hideleg[2] = 1
    li t0, 0x222                  # and VSSIP pending (vsip.SSIP reads 1), VS-mode setting
    csrw mideleg, t0              # sie.SSIE sets hie.VSSIE, and the interrupt is taken right
    li t0, 0x444                  # after that write
    csrw hideleg, t0
    csrwi hvip, 4
    csrw hie, zero
    li t0, SIE
    csrw vsstatus, t0
    jal to_vs
    csrr a0, sip
    andi a0, a0, 2
    beqz a0, fail
    bnez s9, fail
    csrsi sie, 2
1:  nop
    li a0, LVL_VS
    li a1, IRQ | 1
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    la tp, irq_log

    li gp, 51                     # with hideleg[2] = 0, vsie.SSIE and vsip.SSIP are read-only
    li t0, 0x440                  # zero: VS-mode sees no SSIP, and setting sie.SSIE neither
    csrw hideleg, t0              # enables anything nor reaches hie
    csrw hie, zero
    jal to_vs
    csrr a0, sip
    andi a0, a0, 2
    bnez a0, fail
    csrsi sie, 2
    nop
    bnez s9, fail
    li a7, MAGIC
    ecall
    csrr a0, hie
    bnez a0, fail
    csrw hvip, zero
    csrw vsstatus, zero
    bnez s9, fail                 # (and no trap on the way)

    j pass

# check_log: the interrupt log holds exactly the a0 entries (cause, level) of the table at
# a1, in order; then it is emptied and s9 reset
check_log:
    la t0, irq_log
    slli t1, a0, 4
    add t1, t0, t1
    bne tp, t1, fail
1:  beq t0, tp, 2f
    ld t2, 0(t0)
    ld t3, 0(a1)
    bne t2, t3, fail
    ld t2, 8(t0)
    ld t3, 8(a1)
    bne t2, t3, fail
    addi t0, t0, 16
    addi a1, a1, 16
    j 1b
2:  la tp, irq_log
    li s9, 0
    ret

    .data
    .align 3
order_hs:
    .dword IRQ | 9, LVL_HS
    .dword IRQ | 1, LVL_HS
    .dword IRQ | 5, LVL_HS
    .dword IRQ | 10, LVL_HS
    .dword IRQ | 2, LVL_HS
    .dword IRQ | 6, LVL_HS
order_vs:
    .dword IRQ | 9, LVL_VS
    .dword IRQ | 1, LVL_VS
    .dword IRQ | 5, LVL_VS
order_hs_vs:
    .dword IRQ | 1, LVL_HS
    .dword IRQ | 1, LVL_VS
order_m_hs:
    .dword IRQ | 1, LVL_M
    .dword IRQ | 2, LVL_HS
    .text
