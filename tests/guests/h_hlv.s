# H extension: the virtual-machine load and store instructions HLV.B/BU/H/HU/W/WU/D,
# HLVX.HU/WU and HSV.B/H/W/D. Where they may run (M, HS, and U with hstatus.HU=1), the
# effective privilege of their accesses (VS or VU, from hstatus.SPVP, whatever MPRV says),
# two-stage translation with vsstatus.SUM / MXR and the HS-level MXR, HLVX needing execute
# permission instead of read, and the faults they raise: a guest virtual address in stval
# / mtval, so hstatus.GVA / mstatus.GVA = 1 while SPV / MPV = 0 (V was 0).
# Reference: RISC-V privileged spec, chapter "Hypervisor Extension": "Hypervisor Virtual-
# Machine Load and Store Instructions", "Hypervisor Status (hstatus)" (HU, SPVP, GVA),
# "Machine Status (mstatus)" (GVA, MPRV: "MPRV does not affect the virtual-machine
# load/store instructions"), "Two-Stage Address Translation", "Guest-Page Faults".
#
# Memory (G-stage root[2] maps the program's gigabyte to itself, U+RWX; HS satp is Bare):
#   G-stage, GPA_BASE = 0x1_0000_0000:  GPA_A -> pageC URWX   GPA_B -> pageA URW
#     GPA_RO -> pageB UR   GPA_INV invalid   GPA_X -> pageC UX   GPA_NX -> pageC URW
#   VS-stage Sv39, GVA_BASE = 0x4000_0000:  GVA_A -> GPA_A RW   GVA_U -> GPA_A URW
#     GVA_RO -> GPA_A R    GVA_X -> GPA_A X      GVA_X_GX -> GPA_X X   GVA_R_GX -> GPA_X R
#     GVA_X_GNX -> GPA_NX X   GVA_GINV -> GPA_INV RW   GVA_VINV invalid
#     GVA_GRO -> GPA_RO RW    GVA_UX -> GPA_A UX       GVA_RX -> GPA_A RX
#   pageC holds 0x8877665544332211 at offset 0 (pageA 0x1111.., pageB 0x2222..).
# Every PTE has A and D set.
#
# Conventions (h_init, trap records in s1-s9, expect, to_hs / to_u / to_vs / to_vu, MAGIC
# for "back to M-mode", irq_log, set_pte) and the shared constants (LVL_*, IRQ, mstatus and
# hstatus bits, RAM, PTE flags): see h_framework.inc, which this file includes.

    .include "prelude.s"
    .include "h_framework.inc"

    .equ GPA_BASE,   0x100000000
    .equ GPA_A,      GPA_BASE + 0x0000
    .equ GPA_B,      GPA_BASE + 0x1000
    .equ GPA_RO,     GPA_BASE + 0x2000
    .equ GPA_INV,    GPA_BASE + 0x3000
    .equ GPA_X,      GPA_BASE + 0x4000
    .equ GPA_NX,     GPA_BASE + 0x5000
    .equ GVA_BASE,   0x40000000
    .equ GVA_A,      GVA_BASE + 0x0000
    .equ GVA_U,      GVA_BASE + 0x1000
    .equ GVA_RO,     GVA_BASE + 0x2000
    .equ GVA_X,      GVA_BASE + 0x3000
    .equ GVA_X_GX,   GVA_BASE + 0x4000
    .equ GVA_R_GX,   GVA_BASE + 0x5000
    .equ GVA_X_GNX,  GVA_BASE + 0x6000
    .equ GVA_GINV,   GVA_BASE + 0x7000
    .equ GVA_VINV,   GVA_BASE + 0x8000
    .equ GVA_GRO,    GVA_BASE + 0x9000
    .equ GVA_UX,     GVA_BASE + 0xa000
    .equ GVA_RX,     GVA_BASE + 0xb000
    .equ VAL_C,      0x8877665544332211
    .equ VAL_A,      0x1111111111111111
    .equ VAL_B,      0x2222222222222222

main:
    jal h_init
    csrw medeleg, zero
    csrw hedeleg, zero
    csrw satp, zero
    la a0, pageA
    li a1, VAL_A
    sd a1, 0(a0)
    la a0, pageB
    li a1, VAL_B
    sd a1, 0(a0)
    la a0, pageC
    li a1, VAL_C
    sd a1, 0(a0)
    jal build_tables
    la t0, g_root
    srli t0, t0, 12
    li t1, HGATP_SV39X4
    or t0, t0, t1
    csrw hgatp, t0
    la t0, vs_root
    srli t0, t0, 12
    li t1, SATP_SV39
    or t0, t0, t1
    csrw vsatp, t0
    hfence.gvma zero, zero
    hfence.vvma zero, zero
    csrw vsstatus, zero
    li t0, H_SPVP                 # SPVP = 1: accesses as VS-mode
    csrw hstatus, t0

# ---- the loads and stores, from HS-mode ----------------------------------------------------
    jal to_hs

    li gp, 1                      # HLV.D / HLV.W / HLV.WU through both stages: GVA_A ->
    li a0, GVA_A                  # GPA_A -> pageC, 0x8877665544332211; W sign-extends bit 31,
    hlv.d a1, (a0)                # WU zero-extends
    li a2, VAL_C
    bne a1, a2, fail
    addi a3, a0, 4
    hlv.w a1, (a3)
    li a2, 0xffffffff88776655
    bne a1, a2, fail
    hlv.wu a1, (a3)
    li a2, 0x88776655
    bne a1, a2, fail
    hlv.w a1, (a0)
    li a2, 0x44332211
    bne a1, a2, fail
    bnez s9, fail

    li gp, 2                      # HLV.H / HLV.HU (offset 6: 0x8877) and HLV.B / HLV.BU
    addi a3, a0, 6                # (offset 7: 0x88; offset 0: 0x11)
    hlv.h a1, (a3)
    li a2, 0xffffffffffff8877
    bne a1, a2, fail
    hlv.hu a1, (a3)
    li a2, 0x8877
    bne a1, a2, fail
    addi a3, a0, 7
    hlv.b a1, (a3)
    li a2, -0x78
    bne a1, a2, fail
    hlv.bu a1, (a3)
    li a2, 0x88
    bne a1, a2, fail
    hlv.b a1, (a0)
    li a2, 0x11
    bne a1, a2, fail
    bnez s9, fail

    li gp, 3                      # HSV.D / W / H / B write through both stages (checked in M)
    li t0, 0x0102030405060708
    hsv.d t0, (a0)
    li t0, 0xa1a2a3a4
    addi a3, a0, 8
    hsv.w t0, (a3)
    li t0, 0xb1b2
    addi a3, a0, 12
    hsv.h t0, (a3)
    li t0, 0xc1
    addi a3, a0, 14
    hsv.b t0, (a3)
    bnez s9, fail
    li a7, MAGIC
    ecall
    la a0, pageC
    ld a1, 0(a0)
    li a2, 0x0102030405060708
    bne a1, a2, fail
    ld a1, 8(a0)
    li a2, 0x00c1b1b2a1a2a3a4
    bne a1, a2, fail
    li a1, VAL_C
    sd a1, 0(a0)
    sd zero, 8(a0)
    bnez s9, fail                 # (and no trap on the way)

    li gp, 4                      # HLV in M-mode works too
    li a0, GVA_A
    hlv.d a1, (a0)
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail

    li gp, 5                      # "MPRV does not affect the virtual-machine load/store
    li t0, MPP_MASK | MPV         # instructions": with MPRV=1, MPP=U, MPV=0 the HLV is still a
    csrc mstatus, t0              # VS-level two-stage access (SPVP=1): GVA_A (not a U page)
    li t0, MPRV                   # works
    csrs mstatus, t0
    li a0, GVA_A
    hlv.d a1, (a0)
    li t0, MPRV
    csrc mstatus, t0
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail

    li gp, 6                      # with SPVP = 1 (VS), a VS-stage U page needs vsstatus.SUM:
    jal to_hs                     # a load page fault (13) into M
    li a3, GVA_U + 8
1:  hlv.d a1, (a3)
    li a0, LVL_M
    li a1, 13
    la a2, 1b
    # QEMU 7.2 lets HLV's VS-level access reach the U page: no fault
    jal expect                    # qemu-7.2-bug: li s9, 0
    li a7, MAGIC
    ecall

    li gp, 7                      # the same with the HS-level sstatus.SUM = 1: "the HS-level
    li t0, SUM                    # sstatus.SUM is ignored"
    csrs mstatus, t0
    jal to_hs
    li a3, GVA_U + 8
1:  hlv.d a1, (a3)
    li a0, LVL_M
    li a1, 13
    la a2, 1b
    jal expect                    # qemu-7.2-bug: li s9, 0

    li gp, 8                      # vsstatus.SUM = 1: the load works
    li a7, MAGIC
    ecall
    li t0, SUM
    csrs vsstatus, t0
    jal to_hs
    li a3, GVA_U
    hlv.d a1, (a3)
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail
    li a7, MAGIC
    ecall
    li t0, SUM
    csrc vsstatus, t0
    csrc mstatus, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 9                      # SPVP = 0 (VU): a U page works, an S page faults (13)
    li t0, H_SPVP
    csrc hstatus, t0
    jal to_hs
    li a3, GVA_U
    hlv.d a1, (a3)
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail
    li a3, GVA_A
1:  hlv.d a1, (a3)
    li a0, LVL_M
    # QEMU 7.2 raises a load access fault (5) for this VU-level HLV, not a page fault
    li a1, 13                     # qemu-7.2-bug: li a1, 5
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    li t0, H_SPVP
    csrs hstatus, t0

    li gp, 10                     # HSV to a VS-stage read-only page: store page fault (15)
    jal to_hs
    li a3, GVA_RO + 0x10
1:  hsv.w a1, (a3)
    li a0, LVL_M
    # QEMU 7.2 reports the VS-stage faults of HLV / HSV as access faults (5, 7)
    li a1, 15                     # qemu-7.2-bug: li a1, 7
    la a2, 1b
    jal expect
    bne s3, a3, fail

    li gp, 11                     # HSV through a read-only G-stage page: store/AMO guest-page
    li a3, GVA_GRO + 0x18         # fault (23), mtval2 = the guest physical address >> 2
1:  hsv.d a1, (a3)
    li a0, LVL_M
    li a1, 23
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, (GPA_RO + 0x18) >> 2
    bne s6, t0, fail
    li t0, MPV | GVA_M | MPP_MASK # (mtval is a guest virtual address: GVA=1; HS-mode
    and a0, s5, t0                # trapped: MPV=0, MPP=S)
    li a1, GVA_M | MPP_S
    # QEMU 7.2 sets GVA only for traps taken while V=1: here it stays 0
    bne a0, a1, fail              # qemu-7.2-bug:

    li gp, 12                     # HLV through an invalid G-stage PTE: load guest-page fault
    li a3, GVA_GINV + 0x20        # (21), mtval2 = the guest physical address >> 2
1:  hlv.h a1, (a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, (GPA_INV + 0x20) >> 2
    bne s6, t0, fail

# ---- HLVX: execute permission instead of read -------------------------------------------------
    li gp, 13                     # a VS-stage execute-only page (G-stage URWX): HLVX.WU and
    li a0, GVA_X                  # HLVX.HU read it (zero-extended) ...
    addi a3, a0, 4
    hlvx.wu a1, (a3)
    li a2, 0x88776655
    # QEMU 7.2 faults (access fault, 5): its HLVX does not accept a VS-stage page without R
    bne a1, a2, fail              # qemu-7.2-bug:
    addi a3, a0, 6
    hlvx.hu a1, (a3)
    li a2, 0x8877
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0

    li gp, 14                     # ... HLV does not (13, vsstatus.MXR = 0)
    li a3, GVA_X
1:  hlv.w a1, (a3)
    li a0, LVL_M
    # QEMU 7.2: an access fault (5) again
    li a1, 13                     # qemu-7.2-bug: li a1, 5
    la a2, 1b
    jal expect

    li gp, 15                     # HLVX on a readable but not executable VS-stage page faults,
    li a3, GVA_RO                 # and as a load: "they still raise the same exceptions as
1:  hlvx.wu a1, (a3)              # other load instructions, rather than raising fetch
    li a0, LVL_M                  # exceptions" (13, not 12)
    li a1, 13
    la a2, 1b
    # QEMU 7.2's HLVX reads the page (it wants R, not X): no fault
    jal expect                    # qemu-7.2-bug: li s9, 0

    li gp, 16                     # "executable in both stages": VS X over a G-stage page
    li a3, GVA_X_GNX              # without X is a load guest-page fault (21)
1:  hlvx.hu a1, (a3)
    li a0, LVL_M
    # QEMU 7.2: an access fault (5) at the VS stage, where its HLVX wants R
    li a1, 21                     # qemu-7.2-bug: li a1, 5
    la a2, 1b
    jal expect
    li t0, GPA_NX >> 2
    bne s6, t0, fail              # qemu-7.2-bug:

    li gp, 17                     # VS X over G-stage X-only: HLVX works
    li a3, GVA_X_GX
    hlvx.wu a1, (a3)
    li a2, 0x44332211
    # QEMU 7.2: an access fault (5) at the VS stage, where its HLVX wants R
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0

    li gp, 18                     # HLVX with SPVP = 0 (VU) on a VS-stage U+X page
    li t0, H_SPVP
    csrc hstatus, t0
    li a3, GVA_UX
    hlvx.wu a1, (a3)
    li a2, 0x44332211
    # QEMU 7.2: an access fault (5) at the VS stage, where its HLVX wants R
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0
    li t0, H_SPVP
    csrs hstatus, t0
    bnez s9, fail                 # (and no trap on the way)

# ---- MXR -----------------------------------------------------------------------------------
    li gp, 19                     # vsstatus.MXR = 1 makes the VS-stage execute-only page
    li a7, MAGIC                  # readable for HLV ...
    ecall
    li t0, MXR
    csrs vsstatus, t0
    jal to_hs
    li a3, GVA_X
    hlv.d a1, (a3)
    li a2, VAL_C
    # QEMU 7.2 ignores vsstatus.MXR for HLV: an access fault (5)
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0

    li gp, 20                     # ... but "vsstatus.MXR affects only the first translation
    li a3, GVA_X_GX               # stage": the G-stage execute-only page still faults (21)
1:  hlv.d a1, (a3)
    li a0, LVL_M
    # QEMU 7.2: an access fault (5) at the VS stage (vsstatus.MXR ignored)
    li a1, 21                     # qemu-7.2-bug: li a1, 5
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    li t0, MXR
    csrc vsstatus, t0

    li gp, 21                     # "HS-level sstatus.MXR makes execute-only pages readable by
    li t0, MXR                    # explicit loads for both stages": GVA_X and GVA_X_GX, and
    csrs mstatus, t0              # GVA_R_GX (VS R over G-stage X)
    jal to_hs
    li a3, GVA_X
    hlv.d a1, (a3)
    li a2, VAL_C
    bne a1, a2, fail
    li a3, GVA_X_GX
    li a1, 0
    hlv.d a1, (a3)
    # QEMU 7.2 does not apply the HS-level MXR to the G-stage: guest-page faults (21)
    bne a1, a2, fail              # qemu-7.2-bug:
    li a3, GVA_R_GX
    li a1, 0
    hlv.d a1, (a3)
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0
    li a7, MAGIC
    ecall
    li t0, MXR
    csrc mstatus, t0
    bnez s9, fail                 # (and no trap on the way)

# ---- faults taken into HS-mode ---------------------------------------------------------------
    li gp, 22                     # a VS-stage page fault of an HLV in HS-mode, delegated
    li t0, (1 << 13) | (1 << 15) | (1 << 21) | (1 << 23) | 0xa0  # (medeleg 13): scause 13,
    csrw medeleg, t0              # stval = the guest virtual address, htval = 0; hstatus.GVA
    li t0, -1                     # = 1 but SPV = 0 (V was 0), SPVP unchanged (1); sstatus.SPP
    csrw hedeleg, t0              # = 1. (hedeleg does not matter: V was 0. medeleg 5, 7 (0xa0):
                                  # see QEMU 7.2 below.)
    jal to_hs
    li a3, GVA_VINV + 0x28
1:  hlv.d a1, (a3)
    li a0, LVL_HS
    # QEMU 7.2: an access fault (5), as above
    li a1, 13                     # qemu-7.2-bug: li a1, 5
    la a2, 1b
    jal expect
    bne s3, a3, fail
    bnez s6, fail
    li t0, H_GVA | H_SPV | H_SPVP
    and a0, s7, t0
    li a1, H_GVA | H_SPVP
    bne a0, a1, fail
    andi a0, s5, SPP
    beqz a0, fail

    li gp, 23                     # a G-stage fault of an HSV into HS: scause 23, htval = the
    li a3, GVA_GRO + 0x30         # guest physical address >> 2, GVA = 1, SPV = 0
1:  hsv.b a1, (a3)
    li a0, LVL_HS
    li a1, 23
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, (GPA_RO + 0x30) >> 2
    bne s6, t0, fail
    li t0, H_GVA | H_SPV
    and a0, s7, t0
    li a1, H_GVA
    bne a0, a1, fail
    li a7, MAGIC
    ecall

    li gp, 24                     # with SPVP = 0 the same rules: a fault is still GVA = 1,
    li t0, H_SPVP                 # SPV = 0, and SPVP stays 0
    csrc hstatus, t0
    jal to_hs
    li a3, GVA_A
1:  hlv.w a1, (a3)
    li a0, LVL_HS
    # QEMU 7.2: an access fault (5), as above
    li a1, 13                     # qemu-7.2-bug: li a1, 5
    la a2, 1b
    jal expect
    li t0, H_GVA | H_SPV | H_SPVP
    and a0, s7, t0
    li a1, H_GVA
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    li t0, H_SPVP
    csrs hstatus, t0

# ---- U-mode: hstatus.HU ----------------------------------------------------------------------
    li gp, 25                     # HU = 0: in U-mode every HLV / HLVX / HSV is an illegal
    csrw medeleg, zero            # instruction (2)
    csrw hedeleg, zero
    li t0, H_HU
    csrc hstatus, t0
    jal to_u
    li a0, GVA_A
1:  hlv.d a1, (a0)
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
    jal tval_is_insn
    li a0, GVA_A
1:  hlvx.hu a1, (a0)
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
    li a0, GVA_A
1:  hsv.w a1, (a0)
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
    jal tval_is_insn
    li a7, MAGIC
    ecall

    li gp, 26                     # HU = 1: "these instructions can be executed in U-mode the
    li t0, H_HU                   # same as in HS-mode", with SPVP's privilege (1: VS)
    csrs hstatus, t0
    jal to_u
    li a0, GVA_A
    hlv.d a1, (a0)
    li a2, VAL_C
    bne a1, a2, fail
    li t0, 0x5151
    addi a3, a0, 0x20
    hsv.h t0, (a3)
    hlv.hu a1, (a3)
    bne a1, t0, fail
    li a3, GVA_RX + 4             # (an RX page: HLVX's own rules are checked above)
    hlvx.wu a1, (a3)
    li a2, 0x88776655
    bne a1, a2, fail
    bnez s9, fail

    li gp, 27                     # SPVP is left alone by U <-> HS transitions: with SPVP = 0
    li a7, MAGIC                  # (VU), U-mode's HLV reads a U page and faults on an S page
    ecall
    li t0, H_SPVP
    csrc hstatus, t0
    jal to_u
    li a0, GVA_U
    hlv.d a1, (a0)
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail
    li a3, GVA_A
1:  hlv.d a1, (a3)
    li a0, LVL_M
    # QEMU 7.2: an access fault (5), as above
    li a1, 13                     # qemu-7.2-bug: li a1, 5
    la a2, 1b
    jal expect

    li gp, 28                     # that fault, taken into M from U-mode: GVA = 1, MPV = 0,
    li t0, MPV | GVA_M | MPP_MASK # MPP = U
    and a0, s5, t0
    li a1, GVA_M
    # QEMU 7.2 sets GVA only for traps taken while V=1
    bne a0, a1, fail              # qemu-7.2-bug:
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 29                     # delegated to HS: hstatus.GVA = 1, SPV = 0, sstatus.SPP = 0
    li t0, (1 << 13) | 0xa0       # (medeleg 5, 7 (0xa0): see QEMU 7.2 below)
    csrw medeleg, t0
    jal to_u
    li a3, GVA_A + 8
1:  hlv.d a1, (a3)
    li a0, LVL_HS
    # QEMU 7.2: an access fault (5), as above
    li a1, 13                     # qemu-7.2-bug: li a1, 5
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, H_GVA | H_SPV
    and a0, s7, t0
    li a1, H_GVA
    bne a0, a1, fail
    andi a0, s5, SPP
    bnez a0, fail
    li a7, MAGIC
    ecall
    csrw medeleg, zero
    li t0, H_SPVP
    csrs hstatus, t0

# ---- Bare stages -----------------------------------------------------------------------------
    li gp, 30                     # vsatp Bare: the HLV address is a guest physical address
    csrw vsatp, zero              # (GPA_B -> pageA)
    hfence.vvma zero, zero
    jal to_hs
    li a0, GPA_B
    hlv.d a1, (a0)
    li a2, VAL_A
    bne a1, a2, fail
    bnez s9, fail

    li gp, 31                     # hgatp Bare too: a physical address (pageB)
    li a7, MAGIC
    ecall
    csrw hgatp, zero
    hfence.gvma zero, zero
    jal to_hs
    la a0, pageB
    hlv.d a1, (a0)
    li a2, VAL_B
    bne a1, a2, fail
    bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    j pass

build_tables:
    mv s11, ra
    g_tables g_root, g_l1, g_l0       # G-stage
    la a2, g_l0
    la a0, pageC
    li a1, F_URWX
    li a3, 0                      # GPA_A
    jal set_pte
    la a0, pageA
    li a1, F_URW
    li a3, 1                      # GPA_B
    jal set_pte
    la a0, pageB
    li a1, F_UR
    li a3, 2                      # GPA_RO (GPA_INV: 3 stays invalid)
    jal set_pte
    la a0, pageC
    li a1, F_UX
    li a3, 4                      # GPA_X
    jal set_pte
    li a1, F_URW
    li a3, 5                      # GPA_NX
    jal set_pte
    vs_tables vs_root, vs_l1, vs_l0    # VS-stage
    la a2, vs_l0
    li a0, GPA_A
    li a1, F_RW
    li a3, 0                      # GVA_A
    jal set_pte
    li a1, F_URW
    li a3, 1                      # GVA_U
    jal set_pte
    li a1, F_R
    li a3, 2                      # GVA_RO
    jal set_pte
    li a1, F_X
    li a3, 3                      # GVA_X
    jal set_pte
    li a0, GPA_X
    li a3, 4                      # GVA_X_GX
    jal set_pte
    li a1, F_R
    li a3, 5                      # GVA_R_GX
    jal set_pte
    li a0, GPA_NX
    li a1, F_X
    li a3, 6                      # GVA_X_GNX
    jal set_pte
    li a0, GPA_INV
    li a1, F_RW
    li a3, 7                      # GVA_GINV (GVA_VINV: 8 stays invalid)
    jal set_pte
    li a0, GPA_RO
    li a3, 9                      # GVA_GRO
    jal set_pte
    li a0, GPA_A
    li a1, F_UX
    li a3, 10                     # GVA_UX
    jal set_pte
    li a1, F_RX
    li a3, 11                     # GVA_RX
    jal set_pte
    mv ra, s11
    ret

    .bss
    .align 14
g_root:  .zero 16384
g_l1:    .zero 4096
g_l0:    .zero 4096
vs_root: .zero 4096
vs_l1:   .zero 4096
vs_l0:   .zero 4096
pageA:   .zero 4096
pageB:   .zero 4096
pageC:   .zero 4096
    .text
