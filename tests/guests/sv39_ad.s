# Sv39 accessed (A) and dirty (D) bits. menvcfg.ADUE (bit 61) chooses who keeps them:
#   ADUE=1  the hardware sets A on any access and A+D on a store, writing the PTE in memory;
#   ADUE=0  an access to a page with A=0, or a store to a page with D=0, raises a page
#           fault; the OS sets the bit itself, does sfence.vma, and the retried access works.
#
# Mode switching and expected traps work as in sv39.s:
#   call to_s   continue in S mode;   ecall   continue in M mode (see mtrap)
#   s10 = resume address for an expected trap; the handler leaves mepc in s7, mcause in s8
#   and mtval in s9. s7..s11 belong to the handler; to_s clobbers t0.
# Page tables: root[2] identity-maps RAM as one 1 GiB page (A and D already set), so S mode
# can read and write the page tables directly; root[1] -> l1 -> l0 hold the test pages.

    .include "prelude.s"
    .include "trap_handler.inc"
    .include "paging.inc"

    .equ ADUE,       1 << 61
    .equ PTE_A,      0x40
    .equ PTE_D,      0x80
    .equ F_RW_NOAD,  0x07                # V R W, A=0 D=0
    .equ F_RW_A,     0x47                # V R W A, D=0
    .equ F_X_NOA,    0x09                # V X, A=0
    .equ VA0,        0x40000000          # l0[i] maps VA0 + i * 0x1000
    .equ MEGA_VA,    0x40200000          # l1[1]: 2 MiB page, A=0
    .equ MEGA_VA2,   0x40400000          # l1[2]: the same 2 MiB page, A=0
    .equ MEGA_PA,    0x80200000

main:
    resuming_init                 # mtvec = mtrap, s10 = 0, PMP open
    la a0, pageA
    li a1, 0x1111222233334444
    sd a1, 0(a0)
    la a0, pageB
    li a1, 0x5555666677778888
    sd a1, 0(a0)

    li gp, 1                      # ADUE resets to 1 here (hardware A/D updating)
    csrr a0, menvcfg
    li a1, ADUE
    and a0, a0, a1
    beqz a0, fail

    call build_tables
    satp_sv39 root
    call to_s                     # ---- S mode, ADUE=1 ---------------------------

    li gp, 2                      # a load sets A (and only A) in the leaf PTE in memory
    li a0, VA0
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail
    la a0, l0
    ld a1, 0(a0)
    andi a2, a1, PTE_A | PTE_D
    li a3, PTE_A
    bne a2, a3, fail

    li gp, 3                      # a store to that page then sets D as well
    li a0, VA0
    li a1, 0x99
    sd a1, 8(a0)
    la a0, l0
    ld a1, 0(a0)
    andi a2, a1, PTE_A | PTE_D
    li a3, PTE_A | PTE_D
    bne a2, a3, fail

    li gp, 4                      # a first access that is a store sets A and D at once
    li a0, VA0 + 0x1000
    li a1, 0x77
    sd a1, 0x10(a0)
    la a0, l0
    ld a1, 8(a0)
    andi a2, a1, PTE_A | PTE_D
    li a3, PTE_A | PTE_D
    bne a2, a3, fail
    la a0, pageB                  # and the store itself happened
    ld a1, 0x10(a0)
    li a2, 0x77
    bne a1, a2, fail

    li gp, 5                      # an instruction fetch sets A (not D)
    li a0, 0
    li a1, VA0 + 0x2000
    jalr a1
    li a2, 42
    bne a0, a2, fail
    la a0, l0
    ld a1, 16(a0)
    andi a2, a1, PTE_A | PTE_D
    li a3, PTE_A
    bne a2, a3, fail

    li gp, 6                      # a superpage: A is set in its leaf, the level-1 PTE
    li a0, MEGA_VA + 0x5008
    ld a1, 0(a0)
    la a0, l1
    ld a1, 8(a0)
    andi a2, a1, PTE_A | PTE_D
    li a3, PTE_A
    bne a2, a3, fail

    li gp, 7                      # pointer (non-leaf) PTEs are never changed: their A/D/U
    la a0, root                   # bits are reserved and stay zero
    ld a1, 8(a0)                  # root[1] -> l1
    la a2, l1
    srli a2, a2, 12
    slli a2, a2, 10
    ori a2, a2, F_PTR
    bne a1, a2, fail
    la a0, l1
    ld a1, 0(a0)                  # l1[0] -> l0
    la a2, l0
    srli a2, a2, 12
    slli a2, a2, 10
    ori a2, a2, F_PTR
    bne a1, a2, fail

    ecall                         # ---- M mode: turn hardware updating off ---------
    li gp, 8                      # csrc menvcfg clears ADUE; it reads back 0
    li a0, ADUE
    csrc menvcfg, a0
    csrr a1, menvcfg
    and a1, a1, a0
    bnez a1, fail
    call to_s                     # ---- S mode, ADUE=0 ---------------------------

    li gp, 9                      # A=0: a load page-faults (13), stval = the VA
    li a1, VA0 + 0x3000 + 0x28
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 10                     # the fault left the PTE alone (A still 0)
    la a0, l0
    ld a1, 3*8(a0)
    andi a2, a1, PTE_A | PTE_D
    bnez a2, fail

    li gp, 11                     # the OS's part: set A, sfence.vma that page, retry:
    ori a1, a1, PTE_A             # now the load works (and the PTE is as software left it)
    sd a1, 3*8(a0)
    li a1, VA0 + 0x3000 + 0x28
    sfence.vma a1
    ld a2, -0x28(a1)
    li a3, 0x1111222233334444
    bne a2, a3, fail
    ld a1, 3*8(a0)
    andi a2, a1, PTE_A | PTE_D
    li a3, PTE_A
    bne a2, a3, fail

    li gp, 12                     # A=1 D=0: loads need no D
    li a1, VA0 + 0x4000
    ld a2, 0(a1)
    li a3, 0x5555666677778888
    bne a2, a3, fail

    li gp, 13                     # ... but a store page-faults (15): the load's successful
    li a1, VA0 + 0x4000 + 0x30    # translation does not make the page writable
    li a2, 0xAB
    la s10, 1f
    sd a2, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 14                     # nothing was written, neither to memory nor to the PTE
    la a0, pageB
    ld a1, 0x30(a0)
    bnez a1, fail
    la a0, l0
    ld a1, 4*8(a0)
    andi a2, a1, PTE_D
    bnez a2, fail

    li gp, 15                     # set D, sfence.vma: the store goes through
    ori a1, a1, PTE_D
    sd a1, 4*8(a0)
    li a1, VA0 + 0x4000 + 0x30
    sfence.vma a1
    li a2, 0xAB
    sd a2, 0(a1)
    la a0, pageB
    ld a3, 0x30(a0)
    bne a2, a3, fail

    li gp, 16                     # A=0 D=0: a store faults as a STORE page fault (15)
    li a1, VA0 + 0x5000 + 0x38
    la s10, 1f
    sd a1, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 17                     # setting only A is not enough for a store
    la a0, l0
    ld a2, 5*8(a0)
    ori a2, a2, PTE_A
    sd a2, 5*8(a0)
    sfence.vma a1
    la s10, 1f
    sd a1, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 18                     # A and D set: the store works
    la a0, l0
    ld a2, 5*8(a0)
    ori a2, a2, PTE_D
    sd a2, 5*8(a0)
    sfence.vma a1
    sd a1, 0(a1)
    la a0, pageA
    ld a3, 0x38(a0)
    bne a1, a3, fail

    li gp, 19                     # A=0 on an X page: the fetch faults (12), stval = pc
    li a1, VA0 + 0x6000
    la s10, 1f
    jalr a1
    j fail
1:  li a0, 12
    call expect

    li gp, 20                     # set A, sfence.vma: the code runs
    la a0, l0
    ld a2, 6*8(a0)
    ori a2, a2, PTE_A
    sd a2, 6*8(a0)
    sfence.vma a1
    li a0, 0
    jalr a1
    li a2, 42
    bne a0, a2, fail

    li gp, 21                     # an AMO writes: D=0 makes it a store/AMO page fault (15)
    li a1, VA0 + 0x8000 + 0x40
    li a2, 1
    la s10, 1f
    amoadd.d a3, a2, (a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 22                     # a 2 MiB page with A=0 faults too
    li a1, MEGA_VA2 + 0x1000
    la s10, 1f
    lw a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    ecall                         # ---- M mode: hardware updating back on ----------
    li a0, ADUE
    csrs menvcfg, a0
    sfence.vma
    call to_s

    li gp, 23                     # ADUE=1 again: the store to the D=0 page just works
    li a1, VA0 + 0x7000           # and the hardware sets D
    li a2, 0x5A
    sd a2, 0x48(a1)
    la a0, pageB
    ld a3, 0x48(a0)
    bne a2, a3, fail
    la a0, l0
    ld a1, 7*8(a0)
    andi a2, a1, PTE_A | PTE_D
    li a3, PTE_A | PTE_D
    bne a2, a3, fail

    li gp, 24                     # ... and the AMO that faulted in check 21 goes through
    li a1, VA0 + 0x8000 + 0x40
    li a2, 5
    amoadd.d a3, a2, (a1)
    ld a3, 0(a1)
    li a2, 5
    bne a2, a3, fail
    la a0, l0
    ld a1, 8*8(a0)
    andi a2, a1, PTE_A | PTE_D
    li a3, PTE_A | PTE_D
    bne a2, a3, fail

    ecall
    j pass

# ---- helpers ------------------------------------------------------------------------
    mode_switches

    expect_cause

    setpte_routine

build_tables:
    mv s6, ra
    base_tables root, l1, l0      # root[1] -> l1 -> l0, root[2] = RAM
    li a1, 1                      # l1[1]: 2 MiB page, A=0 D=0
    li a2, MEGA_PA
    li a3, F_RW_NOAD
    call setpte
    li a1, 2                      # l1[2]: the same, for the ADUE=0 check
    li a2, MEGA_PA
    li a3, F_RW_NOAD
    call setpte
    la a0, l0
    li a1, 0                      # l0[0] pageA RW, A=0 D=0
    la a2, pageA
    li a3, F_RW_NOAD
    call setpte
    li a1, 1                      # l0[1] pageB RW, A=0 D=0
    la a2, pageB
    li a3, F_RW_NOAD
    call setpte
    li a1, 2                      # l0[2] xstub X, A=0
    la a2, xstub
    li a3, F_X_NOA
    call setpte
    li a1, 3                      # l0[3] pageA RW, A=0 D=0
    la a2, pageA
    li a3, F_RW_NOAD
    call setpte
    li a1, 4                      # l0[4] pageB RW, A=1 D=0
    la a2, pageB
    li a3, F_RW_A
    call setpte
    li a1, 5                      # l0[5] pageA RW, A=0 D=0
    la a2, pageA
    li a3, F_RW_NOAD
    call setpte
    li a1, 6                      # l0[6] xstub X, A=0
    la a2, xstub
    li a3, F_X_NOA
    call setpte
    li a1, 7                      # l0[7] pageB RW, A=1 D=0
    la a2, pageB
    li a3, F_RW_A
    call setpte
    li a1, 8                      # l0[8] pageC RW, A=1 D=0
    la a2, pageC
    li a3, F_RW_A
    call setpte
    mv ra, s6
    ret

# ---- M-mode trap handler (trap_handler.inc) ----------------------------------------
    mtrap_resuming

    .align 12
xstub:                            # a page of code for the fetch checks
    li a0, 42
    ret

    .bss
    .align 12
root:   .zero 4096
l1:     .zero 4096
l0:     .zero 4096
pageA:  .zero 4096
pageB:  .zero 4096
pageC:  .zero 4096
