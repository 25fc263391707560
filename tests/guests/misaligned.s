# Misaligned loads and stores. This hart performs them in hardware (no trap): a misaligned
# lh/lhu/lw/lwu/ld/sh/sw/sd gives exactly what the same bytes accessed one by one give,
# including across a 4 KiB page boundary under Sv39, where each part is translated on its
# own (two virtual pages side by side may be far apart, in any order, in physical memory).
# If one part cannot be accessed, the whole access takes the fault:
#   * stval = the virtual address of the part that faulted (for a second page that is not
#     mapped: the first address of that page);
#   * a faulting load does not write rd; a faulting store writes no byte at all (this
#     hart translates and checks every part before writing any).
#
# Check numbers: 10*k + offset (offset 0..7 of the access inside a 16-byte region), with
#   k = 1 lh, 2 lhu, 3 lw, 4 lwu, 5 ld, 6 sh, 7 sw, 8 sd      (M mode, physical memory)
#   k = 11..18 the same instructions under Sv39 on a region that straddles two pages
#   checks 200.. page faults of page-crossing accesses
# Conventions as in sv39.s: call to_s / ecall (back to M); s10 = resume address of an
# expected trap, the handler leaves mepc in s7, mcause in s8, mtval in s9.

    .include "prelude.s"
    .include "trap_handler.inc"
    .include "paging.inc"

    # virtual pages (l0[i] maps VA0 + i * 0x1000)
    .equ VA0,        0x40000000          # l0[0] -> PHI  RW  } side by side virtually,
    .equ VA1,        0x40001000          # l0[1] -> PLO  RW  } in reverse order physically
    .equ VA2,        0x40002000          # l0[2] -> PX   RW
    .equ VA3,        0x40003000          # l0[3]    not mapped
    .equ VA4,        0x40004000          # l0[4] -> PY   RW
    .equ VA5,        0x40005000          # l0[5] -> PZ   R only
    .equ STVAL,      0xA1B2C3D4E5F60718  # the value stored by the store checks
    .equ JUNK,       0x5A5A5A5A5A5A5A5A

main:
    resuming_init                 # mtvec = mtrap, s10 = 0, PMP open

    # ---- M mode, physical memory: region = buf ------------------------------------
    la s2, buf
    li s3, 10
    call all_loads
    li s3, 60
    call all_stores

    # ---- S mode, Sv39: region = VA0 + 0xff8 .. VA1 + 0x007 (crosses the page boundary)
    call build_tables
    satp_sv39 root
    call to_s
    li s2, VA0 + 0xFF8
    li s3, 110
    call all_loads
    li s3, 160
    call all_stores

    li gp, 190                    # the bytes really went to the two physical pages:
    la a0, PHI + 0xFFF            # after the last sd (at VA0 + 0xfff) the last byte of PHI
    lbu a1, 0(a0)                 # holds its byte 0 and PLO starts with bytes 1..7
    li a2, STVAL & 0xFF
    bne a1, a2, fail
    la a0, PLO
    ld a1, 0(a0)
    li a2, STVAL >> 8
    slli a1, a1, 8                # compare bytes 0..6 of PLO (byte 7 is the pattern's)
    slli a2, a2, 8
    bne a1, a2, fail

    # ---- page faults of page-crossing accesses --------------------------------------
    li gp, 200                    # lw crossing from VA2 into the unmapped VA3: load page
    li a1, VA2 + 0xFFE            # fault (13), stval = VA3 (the part that faulted), and
    li a3, JUNK                   # rd is not written
    la s10, 1f
    lw a3, 0(a1)
    j fail
1:  li a0, 13
    li a1, VA3
    call expect
    li a4, JUNK
    bne a3, a4, fail

    li gp, 201                    # ld crossing with just its last byte in VA3: the same
    li a1, VA2 + 0xFF9
    la s10, 1f
    ld a3, 0(a1)
    j fail
1:  li a0, 13
    li a1, VA3
    call expect

    li gp, 202                    # sd crossing into VA3: store page fault (15), stval = VA3,
    li a1, VA2 + 0xFFC            # and the 4 bytes in the mapped page VA2 are NOT written
    li a2, STVAL
    la s10, 1f
    sd a2, 0(a1)
    j fail
1:  li a0, 15
    li a1, VA3
    call expect
    la a0, PX + 0xFFC
    lwu a1, 0(a0)
    li a2, 0xFFFEFDFC
    bne a1, a2, fail

    li gp, 203                    # sh with its second byte in VA3: likewise
    li a1, VA2 + 0xFFF
    la s10, 1f
    sh a2, 0(a1)
    j fail
1:  li a0, 15
    li a1, VA3
    call expect
    la a0, PX + 0xFFF
    lbu a1, 0(a0)
    li a2, 0xFF
    bne a1, a2, fail

    li gp, 204                    # lw whose FIRST part is in the unmapped page: stval is
    li a1, VA3 + 0xFFE            # the access's own address
    la s10, 1f
    lw a3, 0(a1)
    j fail
1:  li a0, 13
    call expect

    li gp, 205                    # sw inside the unmapped page, misaligned: store page
    li a1, VA3 + 0x101            # fault at the address itself
    la s10, 1f
    sw a3, 0(a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 206                    # VA4 (RW) then VA5 (read-only): a crossing load works ...
    li a0, VA4 + 0xFFD
    ld a3, 0(a0)
    li a4, 0x24232221201F1E1D     # bytes 1d 1e 1f of PY, then 20 .. 24 of PZ
    bne a3, a4, fail

    li gp, 207                    # ... a crossing store faults (15) with stval = VA5, and
    li a1, VA4 + 0xFFD            # nothing is written to PY either
    li a2, STVAL
    la s10, 1f
    sd a2, 0(a1)
    j fail
1:  li a0, 15
    li a1, VA5
    call expect
    la a0, PY + 0xFF8
    ld a1, 0(a0)
    li a2, 0x1F1E1D1C1B1A1918
    bne a1, a2, fail

    ecall
    j pass

# ---- the load checks: region s2 holds the 16 pattern bytes; check numbers s3 + offset --
all_loads:
    mv s4, ra
    call fill_region
    li s1, 0                      # lh: sign-extended 16 bits
1:  add gp, s3, s1
    add a0, s2, s1
    lh a3, 0(a0)
    li a1, 2
    call ref
    slli a2, a2, 48
    srai a2, a2, 48
    bne a3, a2, fail
    addi s1, s1, 1
    li t1, 8
    bne s1, t1, 1b
    addi s3, s3, 10
    li s1, 0                      # lhu: zero-extended 16 bits
1:  add gp, s3, s1
    add a0, s2, s1
    lhu a3, 0(a0)
    li a1, 2
    call ref
    bne a3, a2, fail
    addi s1, s1, 1
    li t1, 8
    bne s1, t1, 1b
    addi s3, s3, 10
    li s1, 0                      # lw: sign-extended 32 bits
1:  add gp, s3, s1
    add a0, s2, s1
    lw a3, 0(a0)
    li a1, 4
    call ref
    sext.w a2, a2
    bne a3, a2, fail
    addi s1, s1, 1
    li t1, 8
    bne s1, t1, 1b
    addi s3, s3, 10
    li s1, 0                      # lwu: zero-extended 32 bits
1:  add gp, s3, s1
    add a0, s2, s1
    lwu a3, 0(a0)
    li a1, 4
    call ref
    bne a3, a2, fail
    addi s1, s1, 1
    li t1, 8
    bne s1, t1, 1b
    addi s3, s3, 10
    li s1, 0                      # ld: 64 bits
1:  add gp, s3, s1
    add a0, s2, s1
    ld a3, 0(a0)
    li a1, 8
    call ref
    bne a3, a2, fail
    addi s1, s1, 1
    li t1, 8
    bne s1, t1, 1b
    mv ra, s4
    ret

# ---- the store checks: for each offset, refill region s2 and exp with the pattern, store
#      STVAL into the region with the instruction under test and into exp byte by byte,
#      then compare all 16 bytes (neighbours must be untouched) -----------------------
all_stores:
    mv s4, ra
    li s1, 0                      # sh
1:  add gp, s3, s1
    call fill_region
    li a3, STVAL
    add a0, s2, s1
    sh a3, 0(a0)
    li a1, 2
    call ref_store
    call compare
    addi s1, s1, 1
    li t1, 8
    bne s1, t1, 1b
    addi s3, s3, 10
    li s1, 0                      # sw
1:  add gp, s3, s1
    call fill_region
    li a3, STVAL
    add a0, s2, s1
    sw a3, 0(a0)
    li a1, 4
    call ref_store
    call compare
    addi s1, s1, 1
    li t1, 8
    bne s1, t1, 1b
    addi s3, s3, 10
    li s1, 0                      # sd
1:  add gp, s3, s1
    call fill_region
    li a3, STVAL
    add a0, s2, s1
    sd a3, 0(a0)
    li a1, 8
    call ref_store
    call compare
    addi s1, s1, 1
    li t1, 8
    bne s1, t1, 1b
    mv ra, s4
    ret

ref:                              # a2 = the a1 bytes at a0, little-endian, zero-extended
    li a2, 0
    li t1, 0                      # byte index
    li t4, 0                      # shift
2:  add t2, a0, t1
    lbu t3, 0(t2)
    sll t3, t3, t4
    or a2, a2, t3
    addi t1, t1, 1
    addi t4, t4, 8
    bne t1, a1, 2b
    ret

ref_store:                        # store the low a1 bytes of a3 into exp + s1, byte by byte
    la t2, exp
    add t2, t2, s1
    mv t3, a3
2:  sb t3, 0(t2)
    srli t3, t3, 8
    addi t2, t2, 1
    addi a1, a1, -1
    bnez a1, 2b
    ret

fill_region:                      # region s2 and exp = the 16 pattern bytes (byte stores)
    la t1, pat
    la t2, exp
    li t3, 0
2:  add t4, t1, t3
    lbu t5, 0(t4)
    add t4, s2, t3
    sb t5, 0(t4)
    add t4, t2, t3
    sb t5, 0(t4)
    addi t3, t3, 1
    li t4, 16
    bne t3, t4, 2b
    ret

compare:                          # the 16 bytes of region s2 equal those of exp
    la t2, exp
    li t3, 0
2:  add t4, s2, t3
    lbu t5, 0(t4)
    add t4, t2, t3
    lbu t6, 0(t4)
    bne t5, t6, fail
    addi t3, t3, 1
    li t4, 16
    bne t3, t4, 2b
    ret

# ---- paging -------------------------------------------------------------------------
    mode_switches

    expect_cause

    setpte_routine

fill_page:                        # page a0: byte i holds i & 0xff, plus a1 (4 KiB)
    li t1, 0
    li t3, 4096
2:  add t2, a0, t1
    add t4, t1, a1
    sb t4, 0(t2)
    addi t1, t1, 1
    bne t1, t3, 2b
    ret

build_tables:
    mv s6, ra
    la a0, PX                     # PX: byte i = i & 0xff (so 0xffc.. = fc fd fe ff)
    li a1, 0
    call fill_page
    la a0, PY                     # PY: byte i = (i + 0x20) & 0xff (0xffd.. = 1d 1e 1f)
    li a1, 0x20
    call fill_page
    la a0, PZ                     # PZ: byte i = (i + 0x20) & 0xff (0x000.. = 20 21 22 ..)
    li a1, 0x20
    call fill_page
    base_tables root, l1, l0      # root[1] -> l1 -> l0, root[2] = RAM
    la a0, l0
    li a1, 0
    la a2, PHI
    li a3, F_RW
    call setpte
    li a1, 1
    la a2, PLO
    li a3, F_RW
    call setpte
    li a1, 2
    la a2, PX
    li a3, F_RW
    call setpte
    li a1, 4
    la a2, PY
    li a3, F_RW
    call setpte
    li a1, 5
    la a2, PZ
    li a3, F_R
    call setpte
    mv ra, s6
    ret

# ---- M-mode trap handler (trap_handler.inc) ----------------------------------------
    mtrap_resuming

    .data
    .align 3
pat:    .byte 0xF0, 0x81, 0x72, 0xE3, 0x54, 0xC5, 0x36, 0x8D    # sign bits vary
        .byte 0x18, 0x99, 0x0A, 0xFB, 0x6C, 0xDD, 0x4E, 0xBF
buf:    .zero 16
exp:    .zero 16

    .bss
    .align 12
root:   .zero 4096
l1:     .zero 4096
l0:     .zero 4096
PLO:    .zero 4096
PHI:    .zero 4096
PX:     .zero 4096
PY:     .zero 4096
PZ:     .zero 4096
