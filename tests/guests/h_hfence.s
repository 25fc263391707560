# H extension: the hypervisor memory-management fences. After a VS-stage PTE changes,
# HFENCE.VVMA (in M- or HS-mode; any operands) or SFENCE.VMA executed in VS-mode makes the
# new mapping visible to VS-mode; after a G-stage PTE changes, HFENCE.GVMA does (also with a
# guest physical address >> 2 and a VMID); after hgatp / vsatp switch to other tables, the
# fences make those visible. A TLB may keep a stale translation until a fence, so nothing is
# checked before one. mstatus.TVM=1 makes HFENCE.GVMA and hgatp illegal in HS-mode (not
# HFENCE.VVMA or vsatp, and nothing in M-mode); both fences are illegal in U-mode.
# Reference: RISC-V privileged spec, chapter "Hypervisor Extension": "Hypervisor
# Memory-Management Fence Instructions", "Memory-Management Fences", "Hypervisor Guest
# Address Translation and Protection (hgatp)" (TVM), "Machine Status (mstatus)" (TVM).
#
# Memory (G-stage root[2] and VS-stage root[2] map the program's gigabyte to itself):
#   G-stage (root g_root, VMID 1): GPA_P -> page1, GPA_Q -> page2 (URW)
#   G-stage (root g_root2, VMID 2): GPA_P -> page3
#   VS-stage (vs_root, ASID 3): GVA_X -> GPA_P (RW);  vs_root2: GVA_X -> GPA_Q
#   page1..page4 hold VAL1..VAL4 at offset 0.
#
# Conventions (trap records in s1-s9, expect, to_hs / to_u / to_vs / to_vu, MAGIC for
# "back to M-mode"): see the framework at the end of the file.
    .equ MAGIC,     0x4d4d               # a7 value: "back to M-mode" (see the framework)
    .equ LVL_HS,    1
    .equ LVL_VS,    2
    .equ LVL_M,     3
    .equ IRQ,       1 << 63              # interrupt bit of xcause
    # mstatus / sstatus / vsstatus
    .equ SIE,       1 << 1
    .equ MIE,       1 << 3
    .equ SPIE,      1 << 5
    .equ MPIE,      1 << 7
    .equ SPP,       1 << 8
    .equ MPP_MASK,  3 << 11
    .equ MPP_S,     1 << 11
    .equ MPRV,      1 << 17
    .equ SUM,       1 << 18
    .equ MXR,       1 << 19
    .equ TVM,       1 << 20
    .equ TW,        1 << 21
    .equ TSR,       1 << 22
    .equ GVA_M,     1 << 38              # mstatus.GVA
    .equ MPV,       1 << 39              # mstatus.MPV
    # hstatus
    .equ H_GVA,     1 << 6
    .equ H_SPV,     1 << 7
    .equ H_SPVP,    1 << 8
    .equ H_HU,      1 << 9
    .equ H_VTVM,    1 << 20
    .equ H_VTW,     1 << 21
    .equ H_VTSR,    1 << 22
    .equ RAM,        0x80000000
    .equ HGATP_SV39X4, 8 << 60
    .equ SATP_SV39,  8 << 60
    .equ VMID1,      1
    .equ VMID2,      2
    .equ ASID,       3
    .equ PTR,        0x01
    .equ F_URWX,     0xdf
    .equ F_URW,      0xd7
    .equ F_RW,       0xc7
    .equ F_RWX,      0xcf
    .equ GPA_P,      0x100000000
    .equ GPA_Q,      0x100001000
    .equ GVA_X,      0x40000000
    .equ VAL1,       0x1111
    .equ VAL2,       0x2222
    .equ VAL3,       0x3333
    .equ VAL4,       0x4444

main:
    la t0, m_trap
    csrw mtvec, t0
    la t0, hs_trap
    csrw stvec, t0
    la t0, vs_trap
    csrw vstvec, t0
    la tp, irq_log
    li s0, 0
    li s9, 0
    li a7, 0
    li t0, -1                     # PMP entry 0: all of memory, RWX, for HS/U/VS/VU
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    csrw medeleg, zero
    csrw hedeleg, zero
    csrw satp, zero
    la a0, page1
    li a1, VAL1
    sd a1, 0(a0)
    la a0, page2
    li a1, VAL2
    sd a1, 0(a0)
    la a0, page3
    li a1, VAL3
    sd a1, 0(a0)
    la a0, page4
    li a1, VAL4
    sd a1, 0(a0)
    jal build_tables
    jal hgatp1
    jal vsatp1
    hfence.gvma zero, zero
    hfence.vvma zero, zero

    li gp, 1                      # the starting mapping: GVA_X -> GPA_P -> page1
    jal to_vs
    jal read_x
    li a1, VAL1
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

# ---- VS-stage changes ------------------------------------------------------------------------
    li gp, 2                      # M changes the VS-stage PTE (GVA_X -> GPA_Q -> page2) and
    la a2, vs_l0                  # runs HFENCE.VVMA with x0, x0: VS-mode sees page2
    li a0, GPA_Q
    li a1, F_RW
    li a3, 0
    jal set_pte
    hfence.vvma zero, zero
    jal to_vs
    jal read_x
    li a1, VAL2
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 3                      # HS-mode changes it back (GVA_X -> GPA_P) and fences with
    jal to_hs                     # HFENCE.VVMA x0, x0, then enters VS-mode with sret: page1
    la a2, vs_l0
    li a0, GPA_P
    li a1, F_RW
    li a3, 0
    jal set_pte
    hfence.vvma zero, zero
    jal hs_to_vs
    jal read_x
    li a1, VAL1
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 4                      # HFENCE.VVMA with rs1 = the guest virtual address (rs2 = x0)
    jal to_hs
    la a2, vs_l0
    li a0, GPA_Q
    li a1, F_RW
    li a3, 0
    jal set_pte
    li a0, GVA_X
    hfence.vvma a0, zero
    jal hs_to_vs
    jal read_x
    li a1, VAL2
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 5                      # HFENCE.VVMA with rs1 = the address and rs2 = the guest ASID
    jal to_hs
    la a2, vs_l0
    li a0, GPA_P
    li a1, F_RW
    li a3, 0
    jal set_pte
    li a0, GVA_X
    li a1, ASID
    hfence.vvma a0, a1
    jal hs_to_vs
    jal read_x
    li a1, VAL1
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 6                      # HFENCE.VVMA with rs1 = x0 and rs2 = the ASID
    jal to_hs
    la a2, vs_l0
    li a0, GPA_Q
    li a1, F_RW
    li a3, 0
    jal set_pte
    li a1, ASID
    hfence.vvma zero, a1
    jal hs_to_vs
    jal read_x
    li a1, VAL2
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 7                      # SFENCE.VMA in VS-mode fences VS-stage translation: VS-mode
    jal to_vs                     # edits its own page table (GVA_X -> GPA_P; the tables are
    la a2, vs_l0                  # mapped by the identity gigapages) and runs SFENCE.VMA
    li a0, GPA_P
    li a1, F_RW
    li a3, 0
    jal set_pte
    sfence.vma
    jal read_x
    li a1, VAL1
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 8                      # ... and SFENCE.VMA with the address and ASID operands
    la a2, vs_l0
    li a0, GPA_Q
    li a1, F_RW
    li a3, 0
    jal set_pte
    li a0, GVA_X
    li a1, ASID
    sfence.vma a0, a1
    jal read_x
    li a1, VAL2
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 9                      # vsatp switched to other tables (vs_root2: GVA_X -> GPA_Q),
    jal to_hs                     # then HFENCE.VVMA: VS-mode sees them. First the old tables
    la a2, vs_l0                  # go back to GVA_X -> GPA_P, so that only the new root can
    li a0, GPA_P                  # give page2.
    li a1, F_RW
    li a3, 0
    jal set_pte
    hfence.vvma zero, zero
    jal hs_to_vs
    jal read_x
    li a1, VAL1
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    la t0, vs_root2
    srli t0, t0, 12
    li t1, SATP_SV39 | (ASID << 44)
    or t0, t0, t1
    csrw vsatp, t0
    hfence.vvma zero, zero
    jal to_vs
    jal read_x
    li a1, VAL2
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    jal vsatp1
    hfence.vvma zero, zero
    bnez s9, fail                 # (and no trap on the way)

# ---- G-stage changes ------------------------------------------------------------------------
    li gp, 10                     # M changes the G-stage PTE of GPA_P (-> page3) and runs
    la a2, g_l0                   # HFENCE.GVMA x0, x0: VS-mode (GVA_X -> GPA_P) sees page3
    la a0, page3
    li a1, F_URW
    li a3, 0
    jal set_pte
    hfence.gvma zero, zero
    jal to_vs
    jal read_x
    li a1, VAL3
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 11                     # HS-mode: GPA_P -> page4, HFENCE.GVMA with rs1 = the guest
    jal to_hs                     # physical address >> 2 and rs2 = the VMID
    la a2, g_l0
    la a0, page4
    li a1, F_URW
    li a3, 0
    jal set_pte
    li a0, GPA_P >> 2
    li a1, VMID1
    hfence.gvma a0, a1
    jal hs_to_vs
    jal read_x
    li a1, VAL4
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 12                     # HFENCE.GVMA with rs1 = the address only (GPA_P -> page1)
    jal to_hs
    la a2, g_l0
    la a0, page1
    li a1, F_URW
    li a3, 0
    jal set_pte
    li a0, GPA_P >> 2
    hfence.gvma a0, zero
    jal hs_to_vs
    jal read_x
    li a1, VAL1
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 13                     # HFENCE.GVMA with rs2 = the VMID only (GPA_P -> page3)
    jal to_hs
    la a2, g_l0
    la a0, page3
    li a1, F_URW
    li a3, 0
    jal set_pte
    li a1, VMID1
    hfence.gvma zero, a1
    jal hs_to_vs
    jal read_x
    li a1, VAL3
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 14                     # a G-stage change above the leaf: the root entry of GPA_P's
    la a2, g_root                 # gigabyte now points at another level-1 table (g_l1b ->
    la a0, g_l1b                  # g_l0b: GPA_P -> page2); HFENCE.GVMA makes that visible
    li a1, PTR                    # too
    li a3, 4
    jal set_pte
    hfence.gvma zero, zero
    jal to_vs
    jal read_x
    li a1, VAL2
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    la a2, g_root
    la a0, g_l1
    li a1, PTR
    li a3, 4
    jal set_pte
    hfence.gvma zero, zero
    bnez s9, fail                 # (and no trap on the way)

    li gp, 15                     # hgatp switched to other tables and another VMID (g_root2,
    la t0, g_root2                # VMID 2, where GPA_P -> page3): VS-mode sees page3. (g_root
    srli t0, t0, 12               # maps GPA_P to page3 as well by now: first page1 there.)
    li t1, HGATP_SV39X4 | (VMID2 << 44)
    or t0, t0, t1
    la a2, g_l0
    la a0, page1
    li a1, F_URW
    li a3, 0
    jal set_pte
    hfence.gvma zero, zero
    csrw hgatp, t0
    hfence.gvma zero, zero
    hfence.vvma zero, zero
    jal to_vs
    jal read_x
    li a1, VAL3
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 16                     # and back to g_root, VMID 1: page1
    jal hgatp1
    hfence.gvma zero, zero
    hfence.vvma zero, zero
    jal to_vs
    jal read_x
    li a1, VAL1
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

# ---- who may execute them --------------------------------------------------------------------
    li gp, 17                     # mstatus.TVM = 1: HFENCE.GVMA in HS-mode is an illegal
    li t0, TVM                    # instruction (2)
    csrs mstatus, t0
    jal to_hs
1:  hfence.gvma zero, zero
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
    jal tval_is_insn

    li gp, 18                     # ... and so is accessing hgatp (read or write)
1:  csrr a1, hgatp
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    # QEMU 7.2 lets HS-mode access hgatp whatever TVM says: no trap
    jal expect                    # qemu-7.2-bug: li s9, 0
1:  csrw hgatp, zero
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect                    # qemu-7.2-bug: li s9, 0

    li gp, 19                     # TVM has "no effect on accesses to vsatp or instructions
    csrr a0, vsatp                # HFENCE.VVMA"
    csrw vsatp, a0
    hfence.vvma zero, zero
    li a0, GVA_X
    li a1, ASID
    hfence.vvma a0, a1
    bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 20                     # in M-mode TVM changes nothing: HFENCE.GVMA and hgatp work
    hfence.gvma zero, zero
    csrr a0, hgatp
    csrw hgatp, a0
    bnez s9, fail
    li t0, TVM
    csrc mstatus, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 21                     # TVM = 0: HFENCE.GVMA in HS-mode is fine
    jal to_hs
    hfence.gvma zero, zero
    li a0, GPA_P >> 2
    hfence.gvma a0, zero
    bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 22                     # in U-mode both fences are illegal instructions, even with
    li t0, H_HU                   # hstatus.HU = 1 (HU opens HLV / HLVX / HSV only)
    csrs hstatus, t0
    jal to_u
1:  hfence.vvma zero, zero
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
1:  hfence.gvma zero, zero
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall
    li t0, H_HU
    csrc hstatus, t0

    li gp, 23                     # ... and with HU = 0
    jal to_u
1:  hfence.vvma zero, zero
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
1:  hfence.gvma zero, zero
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
    li a7, MAGIC
    ecall

    j pass

# read_x: a0 <- the dword at GVA_X (in VS-mode); fails if it trapped
read_x:
    li a0, 0
    li t0, GVA_X
    ld a0, 0(t0)
    bnez s9, fail
    ret

# hs_to_vs: from HS-mode, sret to the caller in VS-mode (hstatus.SPV = 1, SPP = 1)
hs_to_vs:
    li t0, H_SPV
    csrs hstatus, t0
    li t0, SPP
    csrs sstatus, t0
    csrw sepc, ra
    sret

hgatp1:                           # hgatp <- g_root, Sv39x4, VMID 1
    la t0, g_root
    srli t0, t0, 12
    li t1, HGATP_SV39X4 | (VMID1 << 44)
    or t0, t0, t1
    csrw hgatp, t0
    ret

vsatp1:                           # vsatp <- vs_root, Sv39, ASID 3
    la t0, vs_root
    srli t0, t0, 12
    li t1, SATP_SV39 | (ASID << 44)
    or t0, t0, t1
    csrw vsatp, t0
    ret

# set_pte: table a2, index a3 <- a PTE for (guest) physical address a0 with flags a1
set_pte:
    srli t2, a0, 12
    slli t2, t2, 10
    or t2, t2, a1
    slli t3, a3, 3
    add t3, a2, t3
    sd t2, 0(t3)
    ret

build_tables:
    mv s11, ra
    la a2, g_root
    li a0, RAM
    li a1, F_URWX
    li a3, 2
    jal set_pte
    la a0, g_l1
    li a1, PTR
    li a3, 4
    jal set_pte
    la a2, g_l1
    la a0, g_l0
    li a3, 0
    jal set_pte
    la a2, g_l0
    la a0, page1
    li a1, F_URW
    li a3, 0                      # GPA_P
    jal set_pte
    la a0, page2
    li a3, 1                      # GPA_Q
    jal set_pte
    la a2, g_l1b                  # g_l1b -> g_l0b: GPA_P -> page2
    la a0, g_l0b
    li a1, PTR
    li a3, 0
    jal set_pte
    la a2, g_l0b
    la a0, page2
    li a1, F_URW
    li a3, 0
    jal set_pte
    la a2, g_root2                # g_root2: the same, GPA_P -> page3
    li a0, RAM
    li a1, F_URWX
    li a3, 2
    jal set_pte
    la a0, g_l1_2
    li a1, PTR
    li a3, 4
    jal set_pte
    la a2, g_l1_2
    la a0, g_l0_2
    li a3, 0
    jal set_pte
    la a2, g_l0_2
    la a0, page3
    li a1, F_URW
    li a3, 0
    jal set_pte
    la a2, vs_root                # VS-stage
    li a0, RAM
    li a1, F_RWX
    li a3, 2
    jal set_pte
    la a0, vs_l1
    li a1, PTR
    li a3, 1
    jal set_pte
    la a2, vs_l1
    la a0, vs_l0
    li a3, 0
    jal set_pte
    la a2, vs_l0
    li a0, GPA_P
    li a1, F_RW
    li a3, 0
    jal set_pte
    la a2, vs_root2               # vs_root2: GVA_X -> GPA_Q
    li a0, RAM
    li a1, F_RWX
    li a3, 2
    jal set_pte
    la a0, vs_l1_2
    li a1, PTR
    li a3, 1
    jal set_pte
    la a2, vs_l1_2
    la a0, vs_l0_2
    li a3, 0
    jal set_pte
    la a2, vs_l0_2
    li a0, GPA_Q
    li a1, F_RW
    li a3, 0
    jal set_pte
    mv ra, s11
    ret

    .data
    .align 3
irq_log:
    .zero 64
    .bss
    .align 14
g_root:  .zero 16384
g_root2: .zero 16384
g_l1:    .zero 4096
g_l0:    .zero 4096
g_l1b:   .zero 4096
g_l0b:   .zero 4096
g_l1_2:  .zero 4096
g_l0_2:  .zero 4096
vs_root: .zero 4096
vs_l1:   .zero 4096
vs_l0:   .zero 4096
vs_root2: .zero 4096
vs_l1_2: .zero 4096
vs_l0_2: .zero 4096
page1:   .zero 4096
page2:   .zero 4096
page3:   .zero 4096
page4:   .zero 4096
    .text

# ==== framework (the same in every h_*.s guest) ===========================================
# Trap handlers m_trap (mtvec), hs_trap (stvec) and vs_trap (vstvec) record a trap as
#   s8 level it was taken to (LVL_M 3, LVL_HS 1, LVL_VS 2)   s9 += 1 (traps since `expect`)
#   s2 cause   s3 tval   s4 epc   s5 mstatus / HS sstatus / vsstatus at entry
#   s6 mtval2 / htval   s1 mtinst / htinst   s7 hstatus   (s6, s1, s7 = -1 for VS)
# and resume at s0 if s0 != 0 (clearing s0), else after the trapping instruction (every
# instruction is 4 bytes: the guests are assembled without compression). An interrupt is
# also logged at tp (cause, level; tp += 16), its enable bit is cleared (mie; sie and hie;
# vsie) and the interrupted instruction resumed. s10, s11 are the handlers' scratch registers.
# A trap with a7 = MAGIC is not recorded: execution goes on at the next instruction in
# M-mode, a7 = 0 ("back to M"). hs_trap / vs_trap pass it on with an ecall of their own
# and, back in M-mode, jump to sepc + 4 / vsepc + 4.

to_hs:                            # mret to the caller in HS-mode (V=0, S)
    li t0, MPV | MPP_MASK
    csrc mstatus, t0
    li t0, MPP_S
    csrs mstatus, t0
    csrw mepc, ra
    mret
to_u:                             # mret to the caller in U-mode (V=0)
    li t0, MPV | MPP_MASK
    csrc mstatus, t0
    csrw mepc, ra
    mret
to_vs:                            # mret to the caller in VS-mode (MPV=1, MPP=S)
    li t0, MPV | MPP_MASK
    csrc mstatus, t0
    li t0, MPV | MPP_S
    csrs mstatus, t0
    csrw mepc, ra
    mret
to_vu:                            # mret to the caller in VU-mode (MPV=1, MPP=U)
    li t0, MPV | MPP_MASK
    csrc mstatus, t0
    li t0, MPV
    csrs mstatus, t0
    csrw mepc, ra
    mret

# expect: exactly one trap since the last expect, to level a0 with cause a1 at epc a2
expect:
    li t0, 1
    bne s9, t0, fail
    bne s8, a0, fail
    bne s2, a1, fail
    bne s4, a2, fail
    li s9, 0
    ret

# tval_is_insn: s3 (xtval of an illegal- or virtual-instruction trap) is 0 or the bits of
# the instruction at a2: either is allowed ("mtval may be written with the faulting
# instruction bits, or zero"; a virtual-instruction trap writes it "the same as for an
# illegal-instruction trap")
tval_is_insn:
    beqz s3, 1f
    lwu t0, 0(a2)
    bne s3, t0, fail
1:  ret

    .align 6
m_trap:
    li s10, MAGIC
    bne a7, s10, 1f
    li a7, 0
    li s10, MPP_MASK              # MPP = M: mret stays in M-mode (and clears MPV, ignored
    csrs mstatus, s10             # with MPP = M: cleared here all the same, for QEMU 7.2,
    li s10, MPV                   # whose mret would set V=1)
    csrc mstatus, s10
    csrr s10, mepc
    addi s10, s10, 4
    csrw mepc, s10
    mret
1:  csrr s2, mcause
    csrr s3, mtval
    csrr s4, mepc
    csrr s5, mstatus
    csrr s6, mtval2
    csrr s1, mtinst
    csrr s7, hstatus
    li s8, LVL_M
    addi s9, s9, 1
    bltz s2, 3f
    beqz s0, 2f
    csrw mepc, s0
    li s0, 0
    mret
2:  addi s10, s4, 4
    csrw mepc, s10
    mret
3:  sd s2, 0(tp)
    sd s8, 8(tp)
    addi tp, tp, 16
    slli s10, s2, 1
    srli s10, s10, 1
    li s11, 1
    sll s11, s11, s10
    csrc mie, s11
    mret

    .align 6
hs_trap:
    li s10, MAGIC
    bne a7, s10, 1f
    ecall                         # on to M (an ecall from HS-mode is never delegated here)
    csrr s10, sepc                # m_trap returned here, in M-mode
    addi s10, s10, 4
    jr s10
1:  csrr s2, scause
    csrr s3, stval
    csrr s4, sepc
    csrr s5, sstatus
    csrr s6, htval
    csrr s1, htinst
    csrr s7, hstatus
    li s8, LVL_HS
    addi s9, s9, 1
    bltz s2, 3f
    beqz s0, 2f
    csrw sepc, s0
    li s0, 0
    sret
2:  addi s10, s4, 4
    csrw sepc, s10
    sret
3:  sd s2, 0(tp)
    sd s8, 8(tp)
    addi tp, tp, 16
    slli s10, s2, 1
    srli s10, s10, 1
    li s11, 1
    sll s11, s11, s10
    csrc sie, s11
    csrc hie, s11
    sret

    .align 6
vs_trap:
    li s10, MAGIC
    bne a7, s10, 1f
    ecall                         # on to M (through hs_trap if ecalls from VS go to HS)
    csrr s10, vsepc               # back here in M-mode
    addi s10, s10, 4
    jr s10
1:  csrr s2, scause               # (vscause: V=1)
    csrr s3, stval
    csrr s4, sepc
    csrr s5, sstatus
    li s6, -1
    li s1, -1
    li s7, -1
    li s8, LVL_VS
    addi s9, s9, 1
    bltz s2, 3f
    beqz s0, 2f
    csrw sepc, s0
    li s0, 0
    sret
2:  addi s10, s4, 4
    csrw sepc, s10
    sret
3:  sd s2, 0(tp)
    sd s8, 8(tp)
    addi tp, tp, 16
    slli s10, s2, 1
    srli s10, s10, 1
    li s11, 1
    sll s11, s11, s10
    csrc sie, s11                 # (vsie)
    sret
