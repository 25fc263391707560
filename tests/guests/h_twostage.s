# H extension: two-stage address translation. G-stage Sv39x4 through hgatp (16 KiB root
# table with an 11-bit index, 41-bit guest physical addresses), VS-stage Sv39 through vsatp,
# and the guest-page faults (20 instruction, 21 load, 23 store/AMO) with mtval / stval = the
# guest virtual address and mtval2 / htval = the guest physical address >> 2, including the
# G-stage fault of an implicit VS-stage page-table access; G-stage permissions (every access
# is a U-level one), HS-level MXR against vsstatus.MXR, SUM, MPRV with MPV, and delegation.
# Reference: RISC-V privileged spec, chapter "Hypervisor Extension": "Two-Stage Address
# Translation", "Guest Physical Address Translation" (Sv39x4), "Guest-Page Faults",
# "Hypervisor Guest Address Translation and Protection (hgatp)", "Virtual Supervisor Address
# Translation and Protection (vsatp)", "Machine Status (mstatus)" (MPRV table), "Hypervisor
# Trap Value (htval)", "Machine Second Trap Value (mtval2)", "Transformed Instruction or
# Pseudoinstruction for mtinst or htinst"; the Sv39 chapter for the walk itself.
#
# mtval2 / htval "is written with either zero or the guest physical address that faulted,
# shifted right by 2 bits": this file asks for the address (vkernel writes it), except for a
# guest physical address of 2^41 and above, which the register need not be able to hold.
# Every PTE has A and D set, so nothing depends on hardware A/D updating.
#
# Memory (physical = guest physical for the program itself: G-stage root[2] maps the 1 GiB
# at 0x8000_0000 to itself, U+RWX; VS-stage root[2] maps guest virtual 0x8000_0000 to it, RWX)
#   G-stage, GPA_BASE = 0x1_0000_0000 (root[4] -> g_l1 -> g_l0), 4 KiB pages:
#     GPA_A   -> pageC URW       GPA_B  -> pageA URW      GPA_RO -> pageB UR
#     GPA_INV    invalid         GPA_NOU -> pageA RW, U=0 GPA_X  -> xstub UX
#     GPA_NX  -> xstub URW       GPA_W  -> pageA UW (reserved)
#     GPA_PT_X  -> vs_l0x UX (a VS page table the G-stage does not let be read)
#     GPA_PT_RO -> vs_l0ro UR (a VS page table, read-only)
#   GPA_MEGA 2 MiB leaf -> 0x8000_0000 URW; GPA_MEGA_BAD 2 MiB leaf, misaligned PPN
#   GPA_HI1 = 2^40 (root[1024]) and GPA_HI2 = 0x1ff_c000_0000 (root[2047]): 1 GiB leaves
#     -> 0x8000_0000 URW (root[0], root[511], root[1023] stay invalid)
#   GPA_NONE = 0x1_4000_0000: nothing (root[5] invalid)
#   VS-stage, GVA_BASE = 0x4000_0000 (vs_root[1] -> vs_l1 -> vs_l0):
#     GVA_A -> GPA_A RW          GVA_B -> GPA_B RW        GVA_GINV -> GPA_INV RW
#     GVA_VINV  invalid          GVA_VX -> GPA_A X        GVA_VX_GX -> GPA_X X
#     GVA_VR_GX -> GPA_X R       GVA_U -> GPA_A URW       GVA_GRO -> GPA_RO RW
#     GVA_GNX -> GPA_NX RX       GVA_GNOU -> GPA_NOU RW
#     GVA_PTNONE: vs_l1[1] points at GPA_NONE (the level-0 PTE cannot be read)
#     GVA_PTX:    vs_l1[2] points at GPA_PT_X;  vs_l0x[0] -> GPA_A RWX
#     GVA_PTRO:   vs_l1[3] points at GPA_PT_RO; vs_l0ro[0] -> GPA_A RW
#   pageA/B/C hold 0x1111.., 0x2222.., 0x3333.. at offset 0; xstub is `li a0, 42; ret`.
#
# Conventions (h_init, trap records in s1-s9, expect, to_hs / to_u / to_vs / to_vu, MAGIC
# for "back to M-mode", irq_log, set_pte) and the shared constants (LVL_*, IRQ, mstatus and
# hstatus bits, RAM, PTE flags): see h_framework.inc, which this file includes.

    .include "prelude.s"
    .include "h_framework.inc"

    .equ VMID,       5
    .equ GPA_BASE,   0x100000000
    .equ GPA_A,      GPA_BASE + 0x0000
    .equ GPA_B,      GPA_BASE + 0x1000
    .equ GPA_RO,     GPA_BASE + 0x2000
    .equ GPA_INV,    GPA_BASE + 0x3000
    .equ GPA_NOU,    GPA_BASE + 0x4000
    .equ GPA_X,      GPA_BASE + 0x5000
    .equ GPA_NX,     GPA_BASE + 0x6000
    .equ GPA_W,      GPA_BASE + 0x7000
    .equ GPA_PT_X,   GPA_BASE + 0x8000
    .equ GPA_PT_RO,  GPA_BASE + 0x9000
    .equ GPA_MEGA_BAD, GPA_BASE + 0x200000
    .equ GPA_MEGA,   GPA_BASE + 0x400000
    .equ GPA_HI1,    0x10000000000
    .equ GPA_HI2,    0x1ffc0000000
    .equ GPA_NONE,   0x140000000
    .equ GVA_BASE,   0x40000000
    .equ GVA_A,      GVA_BASE + 0x0000
    .equ GVA_B,      GVA_BASE + 0x1000
    .equ GVA_GINV,   GVA_BASE + 0x2000
    .equ GVA_VINV,   GVA_BASE + 0x3000
    .equ GVA_VX,     GVA_BASE + 0x4000
    .equ GVA_VX_GX,  GVA_BASE + 0x5000
    .equ GVA_VR_GX,  GVA_BASE + 0x6000
    .equ GVA_U,      GVA_BASE + 0x7000
    .equ GVA_GRO,    GVA_BASE + 0x8000
    .equ GVA_GNX,    GVA_BASE + 0x9000
    .equ GVA_GNOU,   GVA_BASE + 0xa000
    .equ GVA_PTNONE, GVA_BASE + 0x203000
    .equ GVA_PTX,    GVA_BASE + 0x400000
    .equ GVA_PTRO,   GVA_BASE + 0x600000
    .equ VAL_A,      0x1111111111111111
    .equ VAL_B,      0x2222222222222222
    .equ VAL_C,      0x3333333333333333

main:
    jal h_init
    csrw medeleg, zero
    csrw hedeleg, zero
    csrw satp, zero
    csrw vsatp, zero
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

    li gp, 1                      # hgatp = Sv39x4 | VMID | PPN of the 16 KiB root
    la t0, g_root
    srli t0, t0, 12
    li t1, HGATP_SV39X4 | (VMID << 44)
    or t0, t0, t1
    csrw hgatp, t0
    hfence.gvma zero, zero
    csrr a0, hgatp
    bne a0, t0, fail
    bnez s9, fail                 # (and no trap on the way)

# ---- G-stage only (vsatp Bare: guest virtual = guest physical) -----------------------------
    li gp, 2                      # VS-mode runs through the G-stage identity gigapage: code
    jal to_vs                     # and data at their physical addresses
    la a0, pageA
    ld a1, 0(a0)
    li a2, VAL_A
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 3                      # scattered pages: GPA_A reaches pageC, GPA_B pageA
    li a0, GPA_A
    ld a1, 0(a0)
    li a2, VAL_C
    bne a1, a2, fail
    li a0, GPA_B
    ld a1, 0(a0)
    li a2, VAL_A
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 4                      # a store through GPA_A + 8 lands in pageC + 8
    li a0, GPA_A
    li a1, 0x5a5a
    sd a1, 8(a0)
    bnez s9, fail                 # (and no trap on the way)
    li a7, MAGIC
    ecall
    la a0, pageC
    ld a0, 8(a0)
    li a1, 0x5a5a
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 5                      # a 2 MiB G-stage leaf (level 1): GPA_MEGA + x -> RAM + x
    jal to_vs
    la a0, pageA
    li t0, GPA_MEGA - RAM
    add a0, a0, t0
    ld a1, 0(a0)
    li a2, VAL_A
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 6                      # the Sv39x4 root index is 11 bits, GPA[40:30]: root[1024]
    la a0, pageA                  # (GPA 2^40) and root[2047] map RAM; root[0] and root[511],
    li t0, GPA_HI1 - RAM          # the 9-bit aliases, are invalid
    add a0, a0, t0
    li a1, 0
    ld a1, 0(a0)
    li a2, VAL_A
    # QEMU 7.2 checks a guest physical address as if it had to be sign-extended from bit 40
    # (like a virtual address), so any GPA with bit 40 set takes a guest-page fault
    bne a1, a2, fail              # qemu-7.2-bug:
    la a0, pageA
    li t0, GPA_HI2 - RAM
    add a0, a0, t0
    li a1, 0
    ld a1, 0(a0)
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0

    li gp, 7                      # "Address bits 63:41 must all be zeros, or else a guest-page
    la a3, pageA                  # fault exception occurs": GPA = 2^41 + pageA (bits 40:0 are
    li t0, 1 << 41                # those of a mapped address) gives a load guest-page fault
    add a3, a3, t0                # (21) into M: mtval = the address, mtval2 = 0 or address
1:  ld a1, 0(a3)                  # >> 2, MPV=1, GVA=1
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    bne s3, a3, fail
    beqz s6, 2f
    srli t0, a3, 2
    bne s6, t0, fail
2:  li t0, MPV | GVA_M
    and a0, s5, t0
    bne a0, t0, fail

    li gp, 8                      # an invalid G-stage PTE: load guest-page fault, mtval = the
    li a3, GPA_INV + 0x128        # guest virtual address, mtval2 = the guest physical address
1:  lw a1, 0(a3)                  # >> 2 (here they are the same address)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    bne s3, a3, fail
    srli t0, a3, 2
    bne s6, t0, fail

    li gp, 9                      # a store to it: store/AMO guest-page fault (23)
1:  sw a1, 0(a3)
    li a0, LVL_M
    li a1, 23
    la a2, 1b
    jal expect
    bne s3, a3, fail
    srli t0, a3, 2
    bne s6, t0, fail

    li gp, 10                     # an AMO too is a store/AMO guest-page fault
1:  amoadd.d a1, a1, (a3)
    li a0, LVL_M
    # QEMU 7.2 reports an AMO's G-stage fault as a load guest-page fault (21)
    li a1, 23                     # qemu-7.2-bug: li a1, 21
    la a2, 1b
    jal expect

    li gp, 11                     # a read-only G-stage page: loads work, a store faults (23)
    li a3, GPA_RO + 0x40
    ld a1, -0x40(a3)
    li a2, VAL_B
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)
1:  sd a1, 0(a3)
    li a0, LVL_M
    li a1, 23
    la a2, 1b
    jal expect
    bne s3, a3, fail
    srli t0, a3, 2
    bne s6, t0, fail

    li gp, 12                     # G-stage accesses are all U-level ("as though executed in
    li a3, GPA_NOU                # U-mode"): a leaf with U=0 faults even for VS-mode
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    srli t0, a3, 2
    bne s6, t0, fail

    li gp, 13                     # W without R is reserved in a G-stage PTE too: 21 / 23
    li a3, GPA_W
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
1:  sd a1, 0(a3)
    li a0, LVL_M
    li a1, 23
    la a2, 1b
    jal expect

    li gp, 14                     # a misaligned 2 MiB G-stage leaf: guest-page fault
    li a3, GPA_MEGA_BAD + 0x80
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect

    li gp, 15                     # an execute-only G-stage page runs (xstub returns 42) ...
    li a0, 0
    li a1, GPA_X
    jalr a1
    li a2, 42
    bne a0, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 16                     # ... but is not readable (21) ...
    li a3, GPA_X
1:  lw a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect

    li gp, 17                     # ... not even with vsstatus.MXR = 1, which "only overrides
    li t0, MXR                    # VS-stage page protection"
    csrs sstatus, t0              # (VS-mode: this is vsstatus)
1:  lw a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    li t0, MXR
    csrc vsstatus, t0

    li gp, 18                     # with the HS-level MXR (mstatus.MXR) it is: "Setting MXR at
    li t0, MXR                    # HS-level overrides both VS-stage and G-stage execute-only
    csrs mstatus, t0              # permissions"
    jal to_vs
    li a3, GPA_X
    lw a1, 0(a3)
    la a2, xstub
    lw a2, 0(a2)
    # QEMU 7.2 does not apply the HS-level MXR to the G-stage: the load faults (21)
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0
    li a7, MAGIC
    ecall
    li t0, MXR
    csrc mstatus, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 19                     # a G-stage page without X: fetching from it is an instruction
    jal to_vs                     # guest-page fault (20), mtval = epc = the target, mtval2 =
    li a3, GPA_NX                 # its guest physical address >> 2
    la s0, 1f
    jalr a3
    j fail
1:  li a0, LVL_M
    li a1, 20
    mv a2, a3
    jal expect
    bne s3, a3, fail
    srli t0, a3, 2
    bne s6, t0, fail
    li a7, MAGIC
    ecall

    li gp, 20                     # guest-page faults delegated to HS-mode (medeleg 20, 21,
    li t0, (1 << 20) | (1 << 21) | (1 << 23)  # 23): scause 21, stval = the guest virtual
    csrw medeleg, t0              # address, htval = the guest physical address >> 2;
    li t0, -1                     # hstatus.GVA=1, SPV=1, SPVP=1, sstatus.SPP=1. hedeleg
    csrw hedeleg, t0              # cannot send them on to VS (bits 20, 21, 23 read-only 0).
    jal to_vs
    li a3, GPA_INV + 0x30
1:  ld a1, 0(a3)
    li a0, LVL_HS
    li a1, 21
    la a2, 1b
    jal expect
    bne s3, a3, fail
    srli t0, a3, 2
    bne s6, t0, fail
    li t0, H_GVA | H_SPV | H_SPVP
    and a0, s7, t0
    bne a0, t0, fail
    andi a0, s5, SPP
    beqz a0, fail

    li gp, 21                     # a store guest-page fault into HS (23)
    li a3, GPA_RO + 0x48
1:  sd a1, 0(a3)
    li a0, LVL_HS
    li a1, 23
    la a2, 1b
    jal expect
    bne s3, a3, fail
    srli t0, a3, 2
    bne s6, t0, fail

    li gp, 22                     # an instruction guest-page fault into HS (20)
    li a3, GPA_NX
    la s0, 1f
    jalr a3
    j fail
1:  li a0, LVL_HS
    li a1, 20
    mv a2, a3
    jal expect
    bne s3, a3, fail
    srli t0, a3, 2
    bne s6, t0, fail
    li a7, MAGIC
    ecall

    li gp, 23                     # from VU-mode: the same fault, SPVP = 0 and SPP = 0. (VU runs
    jal to_vu                     # the identity-mapped code: with vsatp Bare there is no
    li a3, GPA_INV + 0x38         # VS-level U bit to check, and the G-stage leaf has U=1.)
1:  ld a1, 0(a3)
    li a0, LVL_HS
    li a1, 21
    la a2, 1b
    jal expect
    srli t0, a3, 2
    bne s6, t0, fail
    li t0, H_GVA | H_SPV | H_SPVP
    and a0, s7, t0
    li a1, H_GVA | H_SPV
    bne a0, a1, fail
    andi a0, s5, SPP
    bnez a0, fail
    li a7, MAGIC
    ecall
    csrw medeleg, zero
    csrw hedeleg, zero

# ---- both stages: vsatp = Sv39 ---------------------------------------------------------------
    li gp, 24                     # VS-stage Sv39 over the G-stage: GVA_A -> GPA_A -> pageC,
    la t0, vs_root                # GVA_B -> GPA_B -> pageA
    srli t0, t0, 12
    li t1, SATP_SV39
    or t0, t0, t1
    csrw vsatp, t0
    hfence.vvma zero, zero
    jal to_vs
    li a0, GVA_A
    ld a1, 0(a0)
    li a2, VAL_C
    bne a1, a2, fail
    li a0, GVA_B
    ld a1, 0(a0)
    li a2, VAL_A
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 25                     # a store through GVA_B + 0x10 reaches pageA + 0x10
    li a0, GVA_B
    li a1, 0x7e57
    sd a1, 0x10(a0)
    bnez s9, fail                 # (and no trap on the way)
    li a7, MAGIC
    ecall
    la a0, pageA
    ld a0, 0x10(a0)
    li a1, 0x7e57
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 26                     # an invalid VS-stage PTE: an ordinary load page fault (13),
    jal to_vs                     # mtval = the guest virtual address (GVA=1, MPV=1), mtval2 = 0
    li a3, GVA_VINV + 0x10        # (not a guest-page fault)
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 13
    la a2, 1b
    jal expect
    bne s3, a3, fail
    bnez s6, fail
    li t0, MPV | GVA_M
    and a0, s5, t0
    bne a0, t0, fail

    li gp, 27                     # VS-stage fine, G-stage invalid: guest-page fault (21),
    li a3, GVA_GINV + 0x18        # mtval = the guest virtual address, mtval2 = the guest
1:  ld a1, 0(a3)                  # physical address it translated to, >> 2
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, (GPA_INV + 0x18) >> 2
    bne s6, t0, fail

    li gp, 28                     # VS-stage RW over a read-only G-stage page: a store is a
    li a3, GVA_GRO + 0x20         # store guest-page fault (23)
1:  sd a1, 0(a3)
    li a0, LVL_M
    li a1, 23
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, (GPA_RO + 0x20) >> 2
    bne s6, t0, fail

    li gp, 29                     # VS-stage RX over a G-stage page without X: instruction
    li a3, GVA_GNX                # guest-page fault (20)
    la s0, 1f
    jalr a3
    j fail
1:  li a0, LVL_M
    li a1, 20
    mv a2, a3
    jal expect
    bne s3, a3, fail
    li t0, GPA_NX >> 2
    bne s6, t0, fail

    li gp, 30                     # VS-stage over a G-stage leaf with U=0: guest-page fault
    li a3, GVA_GNOU
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    li t0, GPA_NOU >> 2
    bne s6, t0, fail

    li gp, 31                     # VS-stage execute-only page: a load faults at the VS stage
    li a3, GVA_VX                 # (13) ...
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 13
    la a2, 1b
    jal expect

    li gp, 32                     # ... unless vsstatus.MXR = 1 (G-stage: URW)
    li t0, MXR
    csrs sstatus, t0
    li a3, GVA_VX
    ld a1, 0(a3)
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 33                     # VS X-only over G-stage X-only: vsstatus.MXR gets past the
    li a3, GVA_VX_GX              # VS stage but not the G stage: 21
1:  lw a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    li t0, GPA_X >> 2
    bne s6, t0, fail

    li gp, 34                     # the same page executes (X at both stages)
    li a0, 0
    li a1, GVA_VX_GX
    jalr a1
    li a2, 42
    bne a0, a2, fail
    bnez s9, fail                 # (and no trap on the way)
    li a7, MAGIC
    ecall
    li t0, MXR
    csrc vsstatus, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 35                     # with the HS-level MXR, both stages' execute-only pages are
    li t0, MXR                    # readable: GVA_VX_GX, and GVA_VR_GX (VS R, G-stage X)
    csrs mstatus, t0
    jal to_vs
    la a2, xstub
    lw a2, 0(a2)
    li a3, GVA_VX_GX
    lw a1, 0(a3)
    # QEMU 7.2 ignores the HS-level MXR while V=1, at both stages (page fault 13 here, and a
    # guest-page fault 21 below)
    bne a1, a2, fail              # qemu-7.2-bug:
    li a3, GVA_VR_GX
    lw a1, 0(a3)
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0
    li a7, MAGIC
    ecall
    li t0, MXR
    csrc mstatus, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 36                     # without it, VS R over G-stage X-only faults (21)
    jal to_vs
    li a3, GVA_VR_GX
1:  lw a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect

    li gp, 37                     # a VS-stage U page from VS-mode with vsstatus.SUM = 0: page
    li a3, GVA_U                  # fault (13), even with the HS-level sstatus.SUM set
    li a7, MAGIC
    ecall
    li t0, SUM
    csrs mstatus, t0
    jal to_vs
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 13
    la a2, 1b
    jal expect

    li gp, 38                     # vsstatus.SUM = 1: the load works
    li t0, SUM
    csrs sstatus, t0
    ld a1, 0(a3)
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)
    csrc sstatus, t0
    li a7, MAGIC
    ecall
    li t0, SUM
    csrc mstatus, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 39                     # a G-stage fault on an implicit access of the VS-stage walk:
    jal to_vs                     # vs_l1[1] points at GPA_NONE, where nothing is mapped. The
    li a3, GVA_PTNONE + 0x28      # load gets a load guest-page fault; mtval = the guest virtual
1:  ld a1, 0(a3)                  # address, mtval2 = the guest physical address of the PTE
    li a0, LVL_M                  # that could not be read (GPA_NONE + 8 * 3), >> 2
    li a1, 21
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, (GPA_NONE + 0x18) >> 2
    bne s6, t0, fail

    li gp, 40                     # with mtval2 nonzero for a fault "caused by an implicit
    li t0, 0x3000                 # memory access for VS-stage address translation", mtinst
    bne s1, t0, fail              # must hold a pseudoinstruction ("zero is not allowed"):
    bnez s9, fail                 # (and no trap on the way)
                                  # 0x00003000, a 64-bit read for VS-stage translation

    li gp, 41                     # the same walk for a store: the fault is reported for the
1:  sd a1, 0(a3)                  # original access type, store/AMO (23), with the PTE's
    li a0, LVL_M                  # address in mtval2
    # QEMU 7.2 reports the type of the implicit access (a read: 21), not the store's
    li a1, 23                     # qemu-7.2-bug: li a1, 21
    la a2, 1b
    jal expect
    li t0, (GPA_NONE + 0x18) >> 2
    bne s6, t0, fail

    li gp, 42                     # ... and for a fetch: instruction guest-page fault (20)
    la s0, 1f
    jalr a3
    j fail
1:  li a0, LVL_M
    # QEMU 7.2: 21 again, the type of the implicit access
    li a1, 20                     # qemu-7.2-bug: li a1, 21
    mv a2, a3
    jal expect
    li t0, (GPA_NONE + 0x18) >> 2
    bne s6, t0, fail

    li gp, 43                     # "permissions ... are checked as though for an implicit load":
    li a3, GVA_PTX + 0x30         # a VS page table in a G-stage execute-only page cannot be
1:  ld a1, 0(a3)                  # read by the walk: 21, mtval2 = the PTE's address >> 2
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    li t0, GPA_PT_X >> 2
    bne s6, t0, fail

    li gp, 44                     # a fetch through that table: reported as an instruction
    la s0, 1f                     # guest-page fault (20), although X is what the page has
    jalr a3
    j fail
1:  li a0, LVL_M
    # QEMU 7.2: 21, the type of the implicit access
    li a1, 20                     # qemu-7.2-bug: li a1, 21
    mv a2, a3
    jal expect
    li t0, GPA_PT_X >> 2
    bne s6, t0, fail

    li gp, 45                     # a VS page table in a G-stage read-only page is fine for a
    li a3, GVA_PTRO               # load and, with A and D already set, for a store too
    ld a1, 0(a3)
    li a2, VAL_C
    bne a1, a2, fail
    li a1, 0x600d
    sd a1, 0x18(a3)
    li a0, GVA_A
    ld a2, 0x18(a0)
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 46                     # VS-stage page faults can be delegated to VS-mode (medeleg
    li a7, MAGIC                  # [13], hedeleg[13]): vscause 13, vstval = the address
    ecall
    li t0, 1 << 13
    csrw medeleg, t0
    csrw hedeleg, t0
    jal to_vs
    li a3, GVA_VINV + 0x40
1:  ld a1, 0(a3)
    li a0, LVL_VS
    li a1, 13
    la a2, 1b
    jal expect
    bne s3, a3, fail

    li gp, 47                     # a guest-page fault with the same delegation still goes to M
    li a3, GVA_GINV               # (medeleg[21] = 0)
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 21
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall

    li gp, 48                     # delegated to HS: scause 21, stval = the guest virtual
    li t0, (1 << 20) | (1 << 21) | (1 << 23)  # address, htval = the guest physical one >> 2,
    csrw medeleg, t0              # hstatus.GVA = 1, SPV = 1
    jal to_vs
    li a3, GVA_GINV + 0x50
1:  ld a1, 0(a3)
    li a0, LVL_HS
    li a1, 21
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, (GPA_INV + 0x50) >> 2
    bne s6, t0, fail
    li t0, H_GVA | H_SPV
    and a0, s7, t0
    bne a0, t0, fail

    li gp, 49                     # the implicit-access fault into HS: htval = the PTE's guest
    li a3, GVA_PTNONE             # physical address >> 2 and htinst = 0x3000
1:  ld a1, 0(a3)
    li a0, LVL_HS
    li a1, 21
    la a2, 1b
    jal expect
    li t0, (GPA_NONE + 0x18) >> 2
    bne s6, t0, fail
    li t0, 0x3000
    bne s1, t0, fail
    li a7, MAGIC
    ecall
    csrw medeleg, zero
    csrw hedeleg, zero

# ---- MPRV with MPV = 1: M-mode loads and stores as though in VS / VU -----------------------
    li gp, 50                     # MPRV=1, MPV=1, MPP=S: "VS-level access with two-stage
    li t0, MPP_MASK               # translation and protection": M-mode reads GVA_A -> pageC
    csrc mstatus, t0
    li t0, MPRV | MPV | MPP_S
    csrs mstatus, t0
    li a0, GVA_A
    ld a1, 0(a0)
    li t0, MPRV | MPV | MPP_MASK
    csrc mstatus, t0
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 51                     # MPRV=1, MPV=1, MPP=U (VU-level): a VS-stage U page works
    li t0, MPRV | MPV             # (vsstatus.SUM does not matter) ...
    csrs mstatus, t0
    li a0, GVA_U
    ld a1, 0(a0)
    li t0, MPRV | MPV | MPP_MASK
    csrc mstatus, t0
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 52                     # ... and a G-stage fault under MPRV is a guest-page fault
    li t0, MPRV | MPV | MPP_S     # taken from M-mode: mtval = the guest virtual address, so
    csrs mstatus, t0              # GVA = 1; MPV = 0 (V was 0); mtval2 = GPA >> 2
    li a3, GVA_GINV + 0x60
1:  ld a1, 0(a3)
    li t0, MPRV | MPV | MPP_MASK
    csrc mstatus, t0
    li a0, LVL_M
    # QEMU 7.2 reports a G-stage fault under MPRV as a page fault (13) (mtval2 is right)
    li a1, 21                     # qemu-7.2-bug: li a1, 13
    la a2, 1b
    jal expect
    bne s3, a3, fail
    li t0, (GPA_INV + 0x60) >> 2
    bne s6, t0, fail
    li t0, MPV | GVA_M
    and a0, s5, t0
    li a1, GVA_M
    bne a0, a1, fail

    li gp, 53                     # vsatp back to Bare: VS-mode addresses are guest physical
    csrw vsatp, zero              # again (GPA_A -> pageC)
    hfence.vvma zero, zero
    jal to_vs
    li a0, GPA_A
    ld a1, 0(a0)
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 54                     # hgatp back to Bare: guest physical = physical; GPA_A is
    csrw hgatp, zero              # no memory now (access fault, 5, not a guest-page fault)
    hfence.gvma zero, zero
    jal to_vs
    la a0, pageC
    ld a1, 0(a0)
    li a2, VAL_C
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)
    li a3, GPA_A
1:  ld a1, 0(a3)
    li a0, LVL_M
    li a1, 5
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall

    j pass

# build_tables: the G-stage and VS-stage tables described at the top
build_tables:
    mv s11, ra
    # G-stage root: identity gigapage, GPA_BASE's gigabyte, the two high gigapages
    la a2, g_root
    li a0, RAM
    li a1, F_URWX
    li a3, 2
    jal set_pte
    li a1, F_URW
    li a3, 1024
    jal set_pte
    li a3, 2047
    jal set_pte
    la a0, g_l1
    li a1, PTR
    li a3, 4
    jal set_pte
    # g_l1: [0] -> g_l0, [1] misaligned 2 MiB leaf, [2] 2 MiB leaf -> RAM
    la a2, g_l1
    la a0, g_l0
    li a1, PTR
    li a3, 0
    jal set_pte
    li a0, RAM + 0x1000
    li a1, F_URW
    li a3, 1
    jal set_pte
    li a0, RAM
    li a3, 2
    jal set_pte
    # g_l0: the 4 KiB pages
    la a2, g_l0
    la a0, pageC
    li a1, F_URW
    li a3, 0                      # GPA_A
    jal set_pte
    la a0, pageA
    li a3, 1                      # GPA_B
    jal set_pte
    la a0, pageB
    li a1, F_UR
    li a3, 2                      # GPA_RO
    jal set_pte
    la a0, pageA                  # GPA_INV: index 3 stays 0
    li a1, F_RW
    li a3, 4                      # GPA_NOU
    jal set_pte
    la a0, xstub
    li a1, F_UX
    li a3, 5                      # GPA_X
    jal set_pte
    li a1, F_URW
    li a3, 6                      # GPA_NX
    jal set_pte
    la a0, pageA
    li a1, F_UW
    li a3, 7                      # GPA_W
    jal set_pte
    la a0, vs_l0x
    li a1, F_UX
    li a3, 8                      # GPA_PT_X
    jal set_pte
    la a0, vs_l0ro
    li a1, F_UR
    li a3, 9                      # GPA_PT_RO
    jal set_pte
    # VS-stage root: identity gigapage for the program, GVA_BASE's gigabyte
    vs_tables vs_root, vs_l1, vs_l0
    # vs_l1: [0] -> vs_l0 (vs_tables), [1] -> GPA_NONE, [2] -> GPA_PT_X, [3] -> GPA_PT_RO
    li a0, GPA_NONE
    li a3, 1
    jal set_pte
    li a0, GPA_PT_X
    li a3, 2
    jal set_pte
    li a0, GPA_PT_RO
    li a3, 3
    jal set_pte
    # vs_l0
    la a2, vs_l0
    li a0, GPA_A
    li a1, F_RW
    li a3, 0                      # GVA_A
    jal set_pte
    li a0, GPA_B
    li a3, 1                      # GVA_B
    jal set_pte
    li a0, GPA_INV
    li a3, 2                      # GVA_GINV (GVA_VINV: index 3 stays 0)
    jal set_pte
    li a0, GPA_A
    li a1, F_X
    li a3, 4                      # GVA_VX
    jal set_pte
    li a0, GPA_X
    li a3, 5                      # GVA_VX_GX
    jal set_pte
    li a1, F_R
    li a3, 6                      # GVA_VR_GX
    jal set_pte
    li a0, GPA_A
    li a1, F_URW
    li a3, 7                      # GVA_U
    jal set_pte
    li a0, GPA_RO
    li a1, F_RW
    li a3, 8                      # GVA_GRO
    jal set_pte
    li a0, GPA_NX
    li a1, F_RX
    li a3, 9                      # GVA_GNX
    jal set_pte
    li a0, GPA_NOU
    li a1, F_RW
    li a3, 10                     # GVA_GNOU
    jal set_pte
    # the tables behind GPA_PT_X and GPA_PT_RO
    la a2, vs_l0x
    li a0, GPA_A
    li a1, F_RWX
    li a3, 0
    jal set_pte
    la a2, vs_l0ro
    li a1, F_RW
    jal set_pte
    mv ra, s11
    ret

    .align 12
xstub:                            # a page of code: returns 42 in a0
    li a0, 42
    ret
    .align 12

    .bss
    .align 14
g_root:  .zero 16384
g_l1:    .zero 4096
g_l0:    .zero 4096
vs_root: .zero 4096
vs_l1:   .zero 4096
vs_l0:   .zero 4096
vs_l0x:  .zero 4096
vs_l0ro: .zero 4096
pageA:   .zero 4096
pageB:   .zero 4096
pageC:   .zero 4096
    .text
