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
# Conventions (h_init, trap records in s1-s9, expect, to_hs / to_u / to_vs / to_vu, MAGIC
# for "back to M-mode", irq_log, set_pte) and the shared constants (LVL_*, IRQ, mstatus and
# hstatus bits, RAM, PTE flags): see h_framework.inc, which this file includes.

    .include "prelude.s"
    .include "h_framework.inc"

    .equ VMID1,      1
    .equ VMID2,      2
    .equ ASID,       3
    .equ GPA_P,      0x100000000
    .equ GPA_Q,      0x100001000
    .equ GVA_X,      0x40000000
    .equ VAL1,       0x1111
    .equ VAL2,       0x2222
    .equ VAL3,       0x3333
    .equ VAL4,       0x4444

main:
    jal h_init
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
    li a0, GPA_Q                  # runs HFENCE.VVMA with x0, x0: VS-mode sees page2
    jal vs_map_x
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
    li a0, GPA_P
    jal vs_map_x
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
    li a0, GPA_Q
    jal vs_map_x
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
    li a0, GPA_P
    jal vs_map_x
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
    li a0, GPA_Q
    jal vs_map_x
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
    li a0, GPA_P                  # mapped by the identity gigapages) and runs SFENCE.VMA
    jal vs_map_x
    sfence.vma
    jal read_x
    li a1, VAL1
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 8                      # ... and SFENCE.VMA with the address and ASID operands
    li a0, GPA_Q
    jal vs_map_x
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
    li a0, GPA_P                  # go back to GVA_X -> GPA_P, so that only the new root can
    jal vs_map_x                  # give page2.
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
    la a0, page3                  # HFENCE.GVMA x0, x0: VS-mode (GVA_X -> GPA_P) sees page3
    jal g_map_p
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
    la a0, page4
    jal g_map_p
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
    la a0, page1
    jal g_map_p
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
    la a0, page3
    jal g_map_p
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
    la a0, page1
    jal g_map_p
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
    la a2, 1b
    jal illegal
    jal tval_is_insn

    li gp, 18                     # ... and so is accessing hgatp (read or write)
1:  csrr a1, hgatp
    la a2, 1b
    # QEMU 7.2 lets HS-mode access hgatp whatever TVM says: no trap
    jal illegal                   # qemu-7.2-bug: li s9, 0
1:  csrw hgatp, zero
    la a2, 1b
    jal illegal                   # qemu-7.2-bug: li s9, 0

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
    la a2, 1b
    jal illegal
1:  hfence.gvma zero, zero
    la a2, 1b
    jal illegal
    li a7, MAGIC
    ecall
    li t0, H_HU
    csrc hstatus, t0

    li gp, 23                     # ... and with HU = 0
    jal to_u
1:  hfence.vvma zero, zero
    la a2, 1b
    jal illegal
1:  hfence.gvma zero, zero
    la a2, 1b
    jal illegal
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

# illegal: exactly one trap since the last check, an illegal-instruction exception (2) at
# a2, taken into M-mode
illegal:
    li a0, LVL_M
    li a1, 2
    j expect

# vs_map_x: the VS-stage PTE of GVA_X (vs_l0[0]) <- guest physical address a0, RW
vs_map_x:
    la a2, vs_l0
    li a1, F_RW
    li a3, 0
    j set_pte

# g_map_p: the G-stage PTE of GPA_P (g_l0[0]) <- physical address a0, URW
g_map_p:
    la a2, g_l0
    li a1, F_URW
    li a3, 0
    j set_pte

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

build_tables:
    mv s11, ra
    g_tables g_root, g_l1, g_l0
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
    vs_tables vs_root, vs_l1, vs_l0    # VS-stage: GVA_X -> GPA_P
    la a2, vs_l0
    li a0, GPA_P
    li a1, F_RW
    li a3, 0
    jal set_pte
    vs_tables vs_root2, vs_l1_2, vs_l0_2  # vs_root2: GVA_X -> GPA_Q
    la a2, vs_l0_2
    li a0, GPA_Q
    li a1, F_RW
    li a3, 0
    jal set_pte
    mv ra, s11
    ret

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
