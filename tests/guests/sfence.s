# sfence.vma and ASIDs. A hart may cache translations (a TLB); after software changes a
# PTE, the change is only guaranteed to be seen after an sfence.vma that covers it:
#   sfence.vma                 every address, every address space
#   sfence.vma rs1             the leaf PTE of the address in rs1 (any byte of the page,
#                              for every address space, global mappings included)
#   sfence.vma x0, rs2         every address of ASID rs2 (except global mappings)
#   sfence.vma rs1, rs2        one address in one address space
# satp.ASID tags cached translations: switching satp to another ASID needs no sfence, and
# returning to an ASID still finds its (unchanged) tables' translations correct.
# A flush that does not cover a PTE neither helps nor hurts: a mapping whose PTE did not
# change stays correct whatever is flushed. What may stay stale is implementation-defined,
# so these checks only test what the spec guarantees.
#
# The test runs in S mode, the mode that owns the page tables (they are reachable through
# the identity mapping, so S writes PTEs like a kernel would). Conventions as in sv39.s:
#   call to_s / call to_u / ecall (back to M); s10 = resume address of an expected trap,
#   the handler leaves mcause in s8 and mtval in s9; s7..s11 belong to the handler.
#
# Two address spaces:  ASID 1: satp -> rootA -> l1A -> l0A     ASID 2: rootB -> l1B -> l0B
#   root*[2]  identity 1 GiB page over RAM (RWX, global)     root*[3] its U alias
#   VA1 = 0x4000_0000 (l0*[0])   VA2 = 0x4000_1000 (l0*[1])   VG = 0x4000_2000 (l0*[2], G)
#   VA3 = 0x4000_3000 (l0A[3], invalid at first)   VM = 0x4020_0000 (l1A[1], a 2 MiB page)
# Pages P1..P5 hold 0x111, 0x222, ... 0x555 at offset 0.

    .include "prelude.s"
    .include "trap_handler.inc"
    .include "paging.inc"

    .equ UALIAS,     0x40000000
    .equ TVM,        1 << 20
    .equ F_G,        0x20
    .equ F_RWX_G,    0xEF
    .equ F_U,        0x10
    .equ VA1,        0x40000000
    .equ VA2,        0x40001000
    .equ VG,         0x40002000
    .equ VA3,        0x40003000
    .equ VM,         0x40200000
    .equ MEGA_PA,    0x80200000

main:
    resuming_init                 # mtvec = mtrap, s10 = 0, PMP open
    la a0, P1                     # page contents
    li a1, 0x111
    sd a1, 0(a0)
    la a0, P2
    li a1, 0x222
    sd a1, 0(a0)
    la a0, P3
    li a1, 0x333
    sd a1, 0(a0)
    la a0, P4
    li a1, 0x444
    sd a1, 0(a0)
    la a0, P5
    li a1, 0x555
    sd a1, 0(a0)
    la a0, P1                     # what VM + (P1 - RAM) holds before its remap
    li a1, MEGA_PA - RAM
    add a0, a0, a1
    li a1, 0x999
    sd a1, 0(a0)
    call build_tables
    call to_s                     # ---- S mode ----------------------------------

    li gp, 1                      # satp = Sv39 | ASID 1 | rootA; the ASID field reads back
    la a0, rootA                  # (this hart implements all 16 ASID bits)
    srli a0, a0, 12
    li a1, SATP_SV39 | (1 << 44)
    or a0, a0, a1
    csrw satp, a0
    sfence.vma
    csrr a1, satp
    srli a1, a1, 44
    andi a1, a1, 0xff
    li a2, 1
    bne a1, a2, fail

    li gp, 2                      # VA1 -> P1 (and now the translation may be cached)
    li s0, VA1
    ld a1, 0(s0)
    li a2, 0x111
    bne a1, a2, fail

    li gp, 3                      # remap VA1 -> P2; sfence.vma (everything): P2 is seen
    la a0, P2
    call set_va1_A
    sfence.vma
    ld a1, 0(s0)
    li a2, 0x222
    bne a1, a2, fail

    li gp, 4                      # remap to P1; sfence.vma rs1: rs1 may be any address in
    la a0, P1                     # the page
    call set_va1_A
    addi a0, s0, 0x123
    sfence.vma a0
    ld a1, 0(s0)
    li a2, 0x111
    bne a1, a2, fail

    li gp, 5                      # remap to P2; sfence.vma x0, rs2 = ASID 1
    la a0, P2
    call set_va1_A
    li a0, 1
    sfence.vma zero, a0
    ld a1, 0(s0)
    li a2, 0x222
    bne a1, a2, fail

    li gp, 6                      # remap to P1; sfence.vma rs1 = VA1, rs2 = ASID 1
    la a0, P1
    call set_va1_A
    li a0, 1
    sfence.vma s0, a0
    ld a1, 0(s0)
    li a2, 0x111
    bne a1, a2, fail

    li gp, 7                      # VA2 -> P3, used (cached) before VA1 changes again
    li s1, VA2
    ld a1, 0(s1)
    li a2, 0x333
    bne a1, a2, fail

    li gp, 8                      # remap VA1 -> P2 and flush only VA1: VA1 sees P2 and
    la a0, P2                     # VA2, whose PTE did not change, still sees P3
    call set_va1_A
    sfence.vma s0
    ld a1, 0(s0)
    li a2, 0x222
    bne a1, a2, fail
    ld a1, 0(s1)
    li a2, 0x333
    bne a1, a2, fail

    li gp, 9                      # flushes of other addresses or other ASIDs leave both
    sfence.vma s1                 # (correct) mappings correct
    li a0, 7
    sfence.vma zero, a0
    sfence.vma s0, a0
    ld a1, 0(s0)
    li a2, 0x222
    bne a1, a2, fail
    ld a1, 0(s1)
    li a2, 0x333
    bne a1, a2, fail

    li gp, 10                     # an invalid PTE made valid (what a page-fault handler
    li s2, VA3                    # does): fault, fix the PTE, sfence.vma, retry
    la s10, 1f
    ld a1, 0(s2)
    j fail
1:  li a0, 13
    mv a1, s2
    call expect
    la a0, l0A
    la a1, P4
    srli a1, a1, 12
    slli a1, a1, 10
    ori a1, a1, F_RW
    sd a1, 3*8(a0)
    sfence.vma s2
    ld a1, 0(s2)
    li a2, 0x444
    bne a1, a2, fail

    li gp, 11                     # switch to ASID 2 (rootB maps VA1 -> P4): no sfence is
    call satp_B                   # needed, the ASID tells the address spaces apart
    ld a1, 0(s0)
    li a2, 0x444
    bne a1, a2, fail

    li gp, 12                     # back to ASID 1: its own mapping (P2), no sfence needed
    call satp_A
    ld a1, 0(s0)
    li a2, 0x222
    bne a1, a2, fail

    li gp, 13                     # change ASID 2's table while running as ASID 1, flush
    la a0, l0B                    # ASID 2 by number, switch: ASID 2 sees VA1 -> P5
    la a1, P5
    srli a1, a1, 12
    slli a1, a1, 10
    ori a1, a1, F_RW
    sd a1, 0(a0)
    li a0, 2
    sfence.vma zero, a0
    call satp_B
    ld a1, 0(s0)
    li a2, 0x555
    bne a1, a2, fail

    li gp, 14                     # a global (G=1) mapping is the same in every address
    li s3, VG                     # space: VG -> P3 as ASID 2 ...
    ld a1, 0(s3)
    li a2, 0x333
    bne a1, a2, fail
    call satp_A                   # ... and as ASID 1
    ld a1, 0(s3)
    li a2, 0x333
    bne a1, a2, fail

    li gp, 15                     # change the global PTE (in both tables) to P4; sfence.vma
    la a0, P4                     # rs1 with rs2=x0 covers global mappings: both ASIDs
    call set_vg                   # see P4
    sfence.vma s3
    ld a1, 0(s3)
    li a2, 0x444
    bne a1, a2, fail
    call satp_B
    ld a1, 0(s3)
    li a2, 0x444
    bne a1, a2, fail

    li gp, 16                     # ... and sfence.vma with no operands covers them too
    la a0, P5
    call set_vg
    sfence.vma
    ld a1, 0(s3)
    li a2, 0x555
    bne a1, a2, fail
    call satp_A
    ld a1, 0(s3)
    li a2, 0x555
    bne a1, a2, fail

    li gp, 17                     # a 2 MiB page: read two of its 4 KiB parts (both may be
    li s4, VM                     # cached), remap it to RAM's first 2 MiB, and flush by the
    la a0, P1                     # address of the FIRST part only: sfence.vma rs1 covers
    li a1, RAM                    # the leaf PTE of rs1, which maps the whole superpage, so
    sub a0, a0, a1                # the other part sees the new mapping too
    add s5, s4, a0                # s5 = VM + (P1 - RAM)
    ld a1, 0(s4)
    ld a1, 0(s5)
    li a2, 0x999
    bne a1, a2, fail
    la a0, l1A
    li a1, RAM
    srli a1, a1, 12
    slli a1, a1, 10
    ori a1, a1, F_RW
    sd a1, 8(a0)
    sfence.vma s4
    ld a1, 0(s5)
    li a2, 0x111
    bne a1, a2, fail

    li gp, 18                     # the same for sfence.vma rs1, rs2 (address and ASID):
    li a1, MEGA_PA                # map it back, flush by an address in yet another part
    srli a1, a1, 12
    slli a1, a1, 10
    ori a1, a1, F_RW
    la a0, l1A
    sd a1, 8(a0)
    li a0, 0x1F0000
    add a0, s4, a0
    li a1, 1
    sfence.vma a0, a1
    ld a1, 0(s5)
    li a2, 0x999
    bne a1, a2, fail

    ecall                         # ---- M mode ----------------------------------

    li gp, 19                     # sfence.vma is privileged: illegal (2) in U mode
    call to_u
    la s10, 1f
    sfence.vma
    j fail
1:  li a0, 2
    bne s8, a0, fail
    ecall

    li gp, 20                     # mstatus.TVM=1 traps S-mode sfence.vma (illegal, 2) ...
    li a0, TVM
    csrs mstatus, a0
    call to_s
    la s10, 1f
    sfence.vma
    j fail
1:  li a0, 2
    bne s8, a0, fail

    li gp, 21                     # ... and S-mode access to satp
    la s10, 1f
    csrr a1, satp
    j fail
1:  li a0, 2
    bne s8, a0, fail
    ecall

    li gp, 22                     # M mode is not affected by TVM
    csrr a1, satp
    sfence.vma
    li a0, TVM
    csrc mstatus, a0
    call to_s                     # with TVM clear, S mode may use them again
    csrr a1, satp
    sfence.vma s0
    ld a1, 0(s0)
    li a2, 0x222
    bne a1, a2, fail
    ecall

    j pass

# ---- helpers ------------------------------------------------------------------------
set_va1_A:                        # l0A[0] = PTE(VA1 -> page a0)
    srli a0, a0, 12
    slli a0, a0, 10
    ori a0, a0, F_RW
    la a1, l0A
    sd a0, 0(a1)
    ret

set_vg:                           # l0A[2] = l0B[2] = PTE(VG -> page a0, global)
    srli a0, a0, 12
    slli a0, a0, 10
    ori a0, a0, F_RW | F_G
    la a1, l0A
    sd a0, 2*8(a1)
    la a1, l0B
    sd a0, 2*8(a1)
    ret

satp_A:                           # satp = Sv39 | ASID 1 | rootA
    la a0, rootA
    srli a0, a0, 12
    li a1, SATP_SV39 | (1 << 44)
    or a0, a0, a1
    csrw satp, a0
    ret

satp_B:                           # satp = Sv39 | ASID 2 | rootB
    la a0, rootB
    srli a0, a0, 12
    li a1, SATP_SV39 | (2 << 44)
    or a0, a0, a1
    csrw satp, a0
    ret

    mode_switches ualias=UALIAS

    expect_cause

    setpte_routine

build_tables:
    mv s6, ra
    la a0, rootA
    li a1, 1
    la a2, l1A
    li a3, F_PTR
    call setpte
    li a1, 2                      # identity mapping of RAM, global
    li a2, RAM
    li a3, F_RWX_G
    call setpte
    li a1, 3                      # its U alias
    li a2, RAM
    li a3, F_RWX_G | F_U
    call setpte
    la a0, rootB
    li a1, 1
    la a2, l1B
    li a3, F_PTR
    call setpte
    li a1, 2
    li a2, RAM
    li a3, F_RWX_G
    call setpte
    li a1, 3
    li a2, RAM
    li a3, F_RWX_G | F_U
    call setpte
    la a0, l1A
    li a1, 0
    la a2, l0A
    li a3, F_PTR
    call setpte
    li a1, 1                      # VM: 2 MiB page
    li a2, MEGA_PA
    li a3, F_RW
    call setpte
    la a0, l1B
    li a1, 0
    la a2, l0B
    li a3, F_PTR
    call setpte
    la a0, l0A
    li a1, 0                      # VA1 -> P1
    la a2, P1
    li a3, F_RW
    call setpte
    li a1, 1                      # VA2 -> P3
    la a2, P3
    li a3, F_RW
    call setpte
    li a1, 2                      # VG -> P3, global
    la a2, P3
    li a3, F_RW | F_G
    call setpte                   # (l0A[3], VA3, stays invalid)
    la a0, l0B
    li a1, 0                      # VA1 -> P4
    la a2, P4
    li a3, F_RW
    call setpte
    li a1, 2                      # VG -> P3, global: the same PTE as in l0A
    la a2, P3
    li a3, F_RW | F_G
    call setpte
    mv ra, s6
    ret

# ---- M-mode trap handler (trap_handler.inc) ----------------------------------------
    mtrap_resuming ualias=UALIAS

    .bss
    .align 12
rootA:  .zero 4096
l1A:    .zero 4096
l0A:    .zero 4096
rootB:  .zero 4096
l1B:    .zero 4096
l0B:    .zero 4096
P1:     .zero 4096
P2:     .zero 4096
P3:     .zero 4096
P4:     .zero 4096
P5:     .zero 4096
