# Sv39 address translation: Bare vs Sv39, the 3-level walk, superpages, canonical
# addresses, invalid and reserved PTEs, R/W/X permissions, U pages, SUM, MXR and MPRV.
#
# How the test moves between privilege modes (nothing is delegated: every trap goes to M;
# the handler and helpers are those of trap_handler.inc and paging.inc):
#   call to_s / call to_u   continue at the next instruction in S / U mode (mret)
#   ecall                   continue at the next instruction in M mode (see mtrap)
# A check that expects a trap puts the resume address in s10; the M-mode handler then
# records mepc in s7, mcause in s8, mtval in s9 and resumes there in the trapping mode.
# s7..s11 belong to the handler; t0 is clobbered by to_s/to_u.
#
# Memory map while translating (satp = root, ASID 0):
#   root[2]  VA 0x8000_0000.. -> RAM, a 1 GiB identity page (RWX, not U): S code and data
#   root[3]  VA 0xC000_0000.. -> RAM, the same with U=1: U-mode code runs at PA + 0x4000_0000
#   root[1] -> l1 -> l0      VA 0x4000_0000.., 4 KiB test pages (VA_* below)
#   root[0], root[4], root[5], root[256]: gigapages for the superpage and canonical checks

    .include "prelude.s"
    .include "trap_handler.inc"
    .include "paging.inc"

    .equ UALIAS,     0x40000000          # U code/data alias: VA = PA + UALIAS (bit 30)
    .equ MPP_MASK,   3 << 11
    .equ MPP_S,      1 << 11
    .equ MPP_M,      3 << 11
    .equ MPRV,       1 << 17
    .equ SUM,        1 << 18
    .equ MXR,        1 << 19
    # PTE flag sets (V=1 R=2 W=4 X=8 U=16 G=32 A=64 D=128); A and D preset
    .equ F_W,        0xC5                # W without R: reserved
    .equ F_WX,       0xCD                # W+X without R: reserved
    .equ F_U,        0x10
    # the 4 KiB test pages (l0 index = (VA >> 12) & 0x1ff)
    .equ VA_A,       0x40000000          # l0[0]  pageA  RW
    .equ VA_B,       0x40001000          # l0[1]  pageB  RW
    .equ VA_RO,      0x40002000          # l0[2]  pageA  R
    .equ VA_INV,     0x40003000          # l0[3]  pageA  RW but V=0
    .equ VA_W,       0x40004000          # l0[4]  pageA  W only
    .equ VA_WX,      0x40005000          # l0[5]  xstub  W+X
    .equ VA_X,       0x40006000          # l0[6]  xstub  X only
    .equ VA_XRW,     0x40007000          # l0[7]  xstub  RW (no X)
    .equ VA_RX,      0x40008000          # l0[8]  xstub  RX
    .equ VA_U,       0x40009000          # l0[9]  pageU  U RW
    .equ VA_UX,      0x4000A000          # l0[10] xstub  U X only
    .equ VA_RSV,     0x4000B000          # l0[11] pageA  RW + reserved bit 54
    .equ VA_PTR0,    0x4000C000          # l0[12] a pointer PTE at level 0
    .equ VA_XR,      0x4000E000          # l0[14] xstub  R only
    .equ VA_MEGA,    0x40200000          # l1[1]  2 MiB page -> 0x8020_0000
    .equ VA_MEGA_BAD, 0x40400000         # l1[2]  2 MiB page -> 0x8020_1000 (misaligned)
    .equ VA_L1_INV,  0x40600000          # l1[3]  zero (invalid)
    .equ VA_GIGA,    0x100000000         # root[4] 1 GiB page -> RAM
    .equ VA_GIGA_BAD, 0x140000000        # root[5] 1 GiB page -> 0x8020_0000 (misaligned)
    .equ VA_HIGH,    0xFFFFFFC000000000  # root[256] 1 GiB page -> RAM (top half, canonical)
    .equ VA_NC1,     0x0000008000000000  # bit 39 set, bit 38 clear: not canonical
    .equ VA_NC2,     0xFFFFFF8000000000  # bits 63..39 set, bit 38 clear: not canonical
    .equ MEGA_PA,    0x80200000

main:
    resuming_init                 # mtvec = mtrap, s10 = 0, PMP open
    # known data in the physical pages
    la a0, pageA
    li a1, 0x1111222233334444
    sd a1, 0(a0)
    la a0, pageB
    li a1, 0x5555666677778888
    sd a1, 0x10(a0)
    la a0, pageU
    li a1, 0x0123456789ABCDEF
    sd a1, 0(a0)
    li a0, MEGA_PA + 0x12340
    li a1, 0x2222444466668888
    sd a1, 0(a0)

    li gp, 1                      # satp resets to 0: MODE=Bare, no translation
    csrr a0, satp
    bnez a0, fail

    li gp, 2                      # Bare in S mode: virtual address = physical address
    call to_s
    la a0, pageA
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail

    li gp, 3                      # Bare: 0x4000_0000 is a physical address with nothing
    li a1, VA_A                   # behind it, so the load takes an ACCESS fault (5),
    la s10, 1f                    # not a page fault
    ld a2, 0(a1)
    j fail
1:  li a0, 5
    call expect
    ecall                         # back to M

    call build_tables

    li gp, 4                      # satp = MODE 8 (Sv39) | ASID | PPN of the root table
    la a0, root
    srli a0, a0, 12
    li a1, SATP_SV39
    or a0, a0, a1
    csrw satp, a0
    sfence.vma
    csrr a1, satp
    bne a0, a1, fail

    li gp, 5                      # writing an unsupported MODE (13 is reserved) has no
    li a2, 13 << 60               # effect at all: satp keeps its value
    csrw satp, a2
    csrr a1, satp
    bne a0, a1, fail

    li gp, 6                      # M mode never translates (MPRV=0): satp is ignored
    la a0, pageA
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail
    li a1, VA_A                   # ... so VA_A is still an empty physical address
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 5
    call expect

    call to_s                     # ---- S mode, Sv39 ------------------------------

    li gp, 7                      # a 3-level walk (root -> l1 -> l0) of a 4 KiB page
    li a0, VA_A
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail

    li gp, 8                      # a store through VA_A reaches pageA: the identity
    li a0, VA_A                   # mapping of pageA sees it (two VAs, one PA)
    li a1, 0x7777
    sd a1, 8(a0)
    la a2, pageA
    ld a3, 8(a2)
    bne a1, a3, fail

    li gp, 9                      # another l0 entry, another physical page; the page
    li a0, VA_B                   # offset (0x10) passes through unchanged
    ld a1, 0x10(a0)
    li a2, 0x5555666677778888
    bne a1, a2, fail

    li gp, 10                     # a 2 MiB superpage: a leaf at level 1, the low 21 bits
    li a0, VA_MEGA + 0x12340      # of the VA are the offset into it
    ld a1, 0(a0)
    li a2, 0x2222444466668888
    bne a1, a2, fail

    li gp, 11                     # a 1 GiB superpage: a leaf at level 2 (the root)
    la a0, pageA
    li a1, VA_GIGA - RAM
    add a0, a0, a1
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail

    li gp, 12                     # the top half of the address space is canonical when
    la a0, pageA                  # bits 63..39 all equal bit 38 (=1): VA_HIGH uses root[256]
    li a1, VA_HIGH - RAM
    add a0, a0, a1
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail

    li gp, 13                     # a 2 MiB leaf whose PPN[0] is not zero is a misaligned
    li a1, VA_MEGA_BAD + 0x40     # superpage: page fault (load: 13), stval = the VA
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 14                     # same for a 1 GiB leaf with PPN[1] or PPN[0] not zero
    li a1, VA_GIGA_BAD + 0x80
    la s10, 1f
    lw a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 15                     # non-canonical (bit 39 != bit 38): a page fault even
    la a1, pageA                  # though root[0] (VPN[2] = 0) would map it
    li a2, VA_NC1 - RAM
    add a1, a1, a2
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 16                     # ... a store to it is a store page fault (15)
    la s10, 1f
    sd zero, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 17                     # bits 63..39 set but bit 38 clear: not canonical either
    li a1, VA_NC2 + 0x100
    la s10, 1f
    lb a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 18                     # fetching from a non-canonical address: instruction
    la a1, nc_target              # page fault (12), stval = epc = the target
    li a2, VA_NC1 - RAM
    add a1, a1, a2
    la s10, 1f
    jalr a1
    j fail
1:  li a0, 12
    call expect
    bne s7, a1, fail

    li gp, 19                     # V=0: the PTE is invalid whatever its other bits
    li a1, VA_INV + 8
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 20                     # ... store page fault for a store
    la s10, 1f
    sw a2, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 21                     # an invalid PTE at level 1 ends the walk there
    li a1, VA_L1_INV + 0x1234
    la s10, 1f
    lbu a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 22                     # W=1 with R=0 is reserved: a page fault even for a store
    li a1, VA_W
    la s10, 1f
    sd a2, 0(a1)
    j fail
1:  li a0, 15
    call expect
    la s10, 1f                    # ... and for a load
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 23                     # W+X without R is reserved too: the fetch faults
    li a1, VA_WX                  # although X is set
    la s10, 1f
    jalr a1
    j fail
1:  li a0, 12
    call expect

    li gp, 24                     # bits 60..54 of a PTE are reserved: page fault
    li a1, VA_RSV
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 25                     # a pointer (R=W=X=0) at level 0 is not a leaf: fault
    li a1, VA_PTR0
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 26                     # R-only page: loads work
    li a0, VA_RO
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail

    li gp, 27                     # R-only page: a store faults (15), stval = the VA,
    li a1, VA_RO + 0x18           # epc = the store
    la s10, 1f
2:  sd a1, 0(a1)
    j fail
1:  li a0, 15
    call expect
    la a0, 2b
    bne s7, a0, fail

    li gp, 28                     # R-only page: a fetch faults (12) - R does not imply X
    li a1, VA_XR
    la s10, 1f
    jalr a1
    j fail
1:  li a0, 12
    call expect

    li gp, 29                     # RW page without X: fetch faults
    li a1, VA_XRW
    la s10, 1f
    jalr a1
    j fail
1:  li a0, 12
    call expect
    bne s7, a1, fail              # the trap's epc is the target of the jump

    li gp, 30                     # X-only page: code there runs (xstub returns 42)
    li a0, 0
    li a1, VA_X
    jalr a1
    li a2, 42
    bne a0, a2, fail

    li gp, 31                     # X-only page: a load faults (13) while MXR=0
    li a1, VA_X
    la s10, 1f
    lw a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 32                     # X-only page: a store faults (15)
    la s10, 1f
    sw a2, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 33                     # RX page: both fetch and load work
    li a0, 0
    li a1, VA_RX
    jalr a1
    li a2, 42
    bne a0, a2, fail
    li a1, VA_RX
    lw a2, 0(a1)
    la a3, xstub
    lw a3, 0(a3)
    bne a2, a3, fail

    li gp, 34                     # sstatus.MXR=1 ("make executable readable"): loads from
    li a0, MXR                    # an X-only page succeed
    csrs sstatus, a0
    li a1, VA_X
    lw a2, 0(a1)
    la a3, xstub
    lw a3, 0(a3)
    bne a2, a3, fail

    li gp, 35                     # MXR does nothing for stores
    la s10, 1f
    sw a2, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 36                     # MXR cleared: the load faults again
    li a0, MXR
    csrc sstatus, a0
    la s10, 1f
    lw a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 37                     # S touching a U page with sstatus.SUM=0: load fault
    li a1, VA_U
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 38                     # ... store fault
    la s10, 1f
    sd a2, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 39                     # SUM=1 ("permit supervisor user memory access"): S may
    li a0, SUM                    # load and store U pages
    csrs sstatus, a0
    li a1, VA_U
    ld a2, 0(a1)
    li a3, 0x0123456789ABCDEF
    bne a2, a3, fail
    li a3, 0xCAFE
    sd a3, 8(a1)
    ld a2, 8(a1)
    bne a2, a3, fail

    li gp, 40                     # ... but S never executes from a U page, SUM or not
    li a1, VA_UX
    la s10, 1f
    jalr a1
    j fail
1:  li a0, 12
    call expect

    li gp, 41                     # SUM cleared: the U page is out of reach again
    li a0, SUM
    csrc sstatus, a0
    li a1, VA_U
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    ecall                         # ---- M mode -----------------------------------

    li gp, 42                     # the S-mode store of check 39 is in pageU
    la a0, pageU
    ld a1, 8(a0)
    li a2, 0xCAFE
    bne a1, a2, fail

    li gp, 43                     # mstatus.MPRV=1 with MPP=S: M-mode loads and stores are
    la a0, root2                  # translated as if in S mode. root2 maps only the test
    srli a0, a0, 12               # pages (no identity mapping), yet M keeps fetching:
    li a1, SATP_SV39              # instruction fetches are never affected by MPRV
    or a0, a0, a1
    csrw satp, a0
    sfence.vma
    li a0, MPP_MASK
    csrc mstatus, a0
    li a0, MPP_S | MPRV
    csrs mstatus, a0
    li a0, VA_A
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail

    li gp, 44                     # an MPRV store through VA_B lands in pageB
    li a0, VA_B
    li a1, 0xBEEF
    sd a1, 0x20(a0)
    li a0, MPRV
    csrc mstatus, a0
    la a0, pageB
    ld a2, 0x20(a0)
    bne a1, a2, fail

    li gp, 45                     # MPRV+MPP=S follows the S rules: a U page with SUM=0
    li a0, MPRV                   # faults (the trap is taken from M mode; the handler's
    csrs mstatus, a0              # mret then leaves MPP = U, MPRV still set)
    li a1, VA_U
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 46                     # MPRV with MPP=U: a non-U page faults ...
    li a0, MPP_MASK
    csrc mstatus, a0              # MPP = U (MPRV is still set)
    li a1, VA_A
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 47                     # ... a U page works
    li a0, MPP_MASK
    csrc mstatus, a0
    li a1, VA_U
    ld a2, 0(a1)
    li a3, 0x0123456789ABCDEF
    bne a2, a3, fail

    li gp, 48                     # MPRV with MPP=M: no translation at all
    li a0, MPP_M
    csrs mstatus, a0
    la a0, pageA
    ld a1, 0(a0)
    li a2, 0x1111222233334444
    bne a1, a2, fail
    li a0, MPRV
    csrc mstatus, a0
    satp_sv39 root                # back to the full table

    call to_u                     # ---- U mode (running at the U alias) ------------

    li gp, 49                     # U mode may load and store a U page
    li a1, VA_U
    ld a2, 0(a1)
    li a3, 0x0123456789ABCDEF
    bne a2, a3, fail
    sd a3, 16(a1)
    ld a2, 16(a1)
    bne a2, a3, fail

    li gp, 50                     # ... and execute from a U page with X
    li a0, 0
    li a1, VA_UX
    jalr a1
    li a2, 42
    bne a0, a2, fail

    li gp, 51                     # U mode cannot load from a page without U ...
    li a1, VA_A
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 52                     # ... nor store to it ...
    la s10, 1f
    sd a2, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 53                     # ... nor execute from it
    li a1, VA_X
    la s10, 1f
    jalr a1
    j fail
1:  li a0, 12
    call expect

    li gp, 54                     # the S-mode code itself (identity map, U=0) is out of
    la a1, nc_target              # reach from U: the alias minus UALIAS is its S address
    li a2, UALIAS
    sub a1, a1, a2
    la s10, 1f
    jalr a1
    j fail
1:  li a0, 12
    call expect

    li gp, 55                     # U mode, MXR=0: an X-only U page cannot be read
    li a1, VA_UX
    la s10, 1f
    lw a2, 0(a1)
    j fail
1:  li a0, 13
    call expect
    ecall

    li gp, 56                     # MXR (set by M in mstatus) also works for U mode
    li a0, MXR
    csrs mstatus, a0
    call to_u
    li a1, VA_UX
    lw a2, 0(a1)
    la a3, xstub                  # (the U alias of xstub holds the same bytes)
    lw a3, 0(a3)
    bne a2, a3, fail
    ecall
    li a0, MXR
    csrc mstatus, a0

    li gp, 57                     # satp back to Bare takes effect at once: S mode's
    csrw satp, zero               # VA_A is a physical address again (access fault)
    call to_s
    li a1, VA_A
    la s10, 1f
    ld a2, 0(a1)
    j fail
1:  li a0, 5
    call expect
    ecall

    j pass

# ---- helpers ------------------------------------------------------------------------
    mode_switches ualias=UALIAS

    expect_cause

    setpte_routine

build_tables:
    mv s6, ra
    la a0, root
    li a1, 0                      # root[0]: VA 0..1 GiB -> RAM (catches missing
    li a2, RAM                    # canonical checks)
    li a3, F_RWX
    call setpte
    li a1, 1                      # root[1] -> l1
    la a2, l1
    li a3, F_PTR
    call setpte
    li a1, 2                      # root[2]: identity gigapage for S code and data
    li a2, RAM
    li a3, F_RWX
    call setpte
    li a1, 3                      # root[3]: the U alias of RAM
    li a2, RAM
    li a3, F_RWX | F_U
    call setpte
    li a1, 4                      # root[4]: VA_GIGA
    li a2, RAM
    li a3, F_RW
    call setpte
    li a1, 5                      # root[5]: a misaligned gigapage
    li a2, MEGA_PA
    li a3, F_RW
    call setpte
    li a1, 256                    # root[256]: VA_HIGH
    li a2, RAM
    li a3, F_RW
    call setpte
    la a0, root2                  # root2: only root2[1] -> l1
    li a1, 1
    la a2, l1
    li a3, F_PTR
    call setpte
    la a0, l1
    li a1, 0                      # l1[0] -> l0
    la a2, l0
    li a3, F_PTR
    call setpte
    li a1, 1                      # l1[1]: a 2 MiB page
    li a2, MEGA_PA
    li a3, F_RW
    call setpte
    li a1, 2                      # l1[2]: a 2 MiB page at a 4 KiB-aligned address
    li a2, MEGA_PA + 0x1000
    li a3, F_RW
    call setpte                   # (l1[3] stays zero)
    la a0, l0
    li a1, 0
    la a2, pageA
    li a3, F_RW
    call setpte
    li a1, 1
    la a2, pageB
    li a3, F_RW
    call setpte
    li a1, 2
    la a2, pageA
    li a3, F_R
    call setpte
    li a1, 3
    la a2, pageA
    li a3, F_RW & ~1              # V=0
    call setpte
    li a1, 4
    la a2, pageA
    li a3, F_W
    call setpte
    li a1, 5
    la a2, xstub
    li a3, F_WX
    call setpte
    li a1, 6
    la a2, xstub
    li a3, F_X
    call setpte
    li a1, 7
    la a2, xstub
    li a3, F_RW
    call setpte
    li a1, 8
    la a2, xstub
    li a3, F_RX
    call setpte
    li a1, 9
    la a2, pageU
    li a3, F_RW | F_U
    call setpte
    li a1, 10
    la a2, xstub
    li a3, F_X | F_U
    call setpte
    li a1, 11
    la a2, pageA
    li a3, (1 << 54) | F_RW
    call setpte
    li a1, 12
    la a2, pageA
    li a3, F_PTR
    call setpte
    li a1, 14
    la a2, xstub
    li a3, F_R
    call setpte
    mv ra, s6
    ret

# ---- M-mode trap handler (trap_handler.inc) ----------------------------------------
    mtrap_resuming ualias=UALIAS

nc_target:                        # reached only if a bad fetch were allowed
    j fail

# xstub: a page of code reached through the X test mappings
    .align 12
xstub:
    li a0, 42
    ret

    .bss
    .align 12
root:   .zero 4096
root2:  .zero 4096
l1:     .zero 4096
l0:     .zero 4096
pageA:  .zero 4096
pageB:  .zero 4096
pageU:  .zero 4096
