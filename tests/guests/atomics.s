# The A extension: LR/SC and the AMOs, in W (32-bit) and D (64-bit) forms.
#   lr: load and register a reservation on the address;  sc: store only if the reservation
#   is still there; rd = 0 on success, 1 on failure; every sc ends the reservation.
#   amoOP rd, rs2, (rs1): rd = old memory value, memory = OP(old, rs2), in one step.
#   The .w forms work on 32 bits: they use the low 32 bits of rs2, leave the other half of
#   a doubleword alone, and sign-extend the old word into rd (min/max compare as signed
#   32-bit values, minu/maxu as unsigned 32-bit values).
#   AMO/LR/SC addresses must be naturally aligned; a misaligned AMO or SC raises a
#   store/AMO address-misaligned exception (cause 6), a misaligned LR a load
#   address-misaligned exception (cause 4): the spec allows an access fault instead, this
#   hart raises the misaligned exceptions.
#   Under Sv39 an AMO needs write permission: its page faults are store/AMO page faults (15).
# Most checks run in M mode on physical memory. Expected traps work as in sv39.s: s10 =
# where to resume, the handler leaves mepc in s7, mcause in s8 and mtval in s9.

    .include "prelude.s"
    .include "trap_handler.inc"
    .include "paging.inc"

    .equ VA_R,       0x40000000          # l0[0] pageR, read-only
    .equ VA_RW,      0x40001000          # l0[1] pageRW
    .equ VA_X,       0x40002000          # l0[2] pageR, execute-only
    .equ SENT,       0xAAAAAAAA00000000  # sentinel in the untouched upper word

main:
    resuming_init                 # mtvec = mtrap, s10 = 0, PMP open
    la s0, buf                    # s0: 8-byte aligned scratch (buf .. buf+31)

    # ---- LR/SC ----------------------------------------------------------------------
    li gp, 1                      # sc.w with no reservation ever made fails: rd = 1,
    li a0, 0x1234                 # memory unchanged
    sw a0, 0(s0)
    li a1, 0x5678
    sc.w a2, a1, (s0)
    li a3, 1
    bne a2, a3, fail
    lw a4, 0(s0)
    bne a4, a0, fail

    li gp, 2                      # lr.w sign-extends the word it loads
    li a0, 0x80000001
    sw a0, 0(s0)
    lr.w a1, (s0)
    li a2, 0xFFFFFFFF80000001
    bne a1, a2, fail

    li gp, 3                      # sc.w on the reserved address succeeds: rd = 0 and the
    li a1, 0x7654321              # word is written
    sc.w a2, a1, (s0)
    bnez a2, fail
    lw a3, 0(s0)
    bne a3, a1, fail

    li gp, 4                      # the sc used the reservation up: a second sc.w fails
    li a1, 0x42
    sc.w a2, a1, (s0)
    li a3, 1
    bne a2, a3, fail
    lw a3, 0(s0)
    li a4, 0x7654321
    bne a3, a4, fail

    li gp, 5                      # lr.w on one address, sc.w on another: fails, and the
    la a0, pageRW                 # other word is not written. (The reservation set may be
    sw zero, 0(a0)                # larger than the word - a cache line, say - so the other
    lr.w a1, (s0)                 # address is in another page.)
    li a1, 0x99
    sc.w a2, a1, (a0)
    li a3, 1
    bne a2, a3, fail
    lw a3, 0(a0)
    bnez a3, fail

    li gp, 6                      # ... and that failed sc ended the reservation: an sc.w to
    li a1, 0x77                   # the reserved address fails now too
    sc.w a2, a1, (s0)
    li a3, 1
    bne a2, a3, fail

    li gp, 7                      # sc.w writes only 32 bits: the low 32 bits of rs2, and
    li a0, SENT | 0x11111111      # the other half of the doubleword keeps its value
    sd a0, 0(s0)
    lr.w a1, (s0)
    li a1, 0x1234567887654321
    sc.w a2, a1, (s0)
    bnez a2, fail
    ld a3, 0(s0)
    li a4, SENT | 0x87654321
    bne a3, a4, fail

    li gp, 8                      # lr.d/sc.d: the full 64 bits, rd = 0 on success
    li a0, 0x8000000000000001
    sd a0, 0(s0)
    lr.d a1, (s0)
    bne a1, a0, fail
    li a1, 0x0123456789ABCDEF
    sc.d a2, a1, (s0)
    bnez a2, fail
    ld a3, 0(s0)
    bne a3, a1, fail

    li gp, 9                      # sc.d without a reservation fails, memory unchanged
    li a1, -1
    sc.d a2, a1, (s0)
    li a3, 1
    bne a2, a3, fail
    ld a3, 0(s0)
    li a4, 0x0123456789ABCDEF
    bne a3, a4, fail

    li gp, 10                     # the .aq/.rl ordering bits do not change the results
    lr.d.aq a1, (s0)
    li a2, 5
    sc.d.rl a3, a2, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    bne a4, a2, fail

    # ---- AMO .w: a0 = address, a1 = initial doubleword, a2 = rs2,
    #      a4 = expected rd, a6 = expected doubleword afterwards (see amo_check)
    li gp, 11                     # amoswap.w: rd = old word sign-extended, memory = low
    mv a0, s0                     # 32 bits of rs2
    li a1, SENT | 0x80000000
    sd a1, 0(a0)
    li a2, 0x123456789
    amoswap.w a3, a2, (a0)
    li a4, 0xFFFFFFFF80000000
    li a6, SENT | 0x23456789
    call amo_check

    li gp, 12                     # amoadd.w: 0x7fffffff + 1 wraps to 0x80000000 in 32 bits
    li a1, SENT | 0x7FFFFFFF
    sd a1, 0(a0)
    li a2, 1
    amoadd.w a3, a2, (a0)
    li a4, 0x7FFFFFFF
    li a6, SENT | 0x80000000
    call amo_check

    li gp, 13                     # amoadd.w: 0xffffffff + 1 = 0: no carry into the upper word
    li a1, SENT | 0xFFFFFFFF
    sd a1, 0(a0)
    li a2, 1
    amoadd.w a3, a2, (a0)
    li a4, -1
    li a6, SENT
    call amo_check

    li gp, 14                     # amoxor.w (rs2's upper half is ignored)
    li a1, SENT | 0xF0F0F0F0
    sd a1, 0(a0)
    li a2, 0xFFFF0000FF00FF00
    amoxor.w a3, a2, (a0)
    li a4, 0xFFFFFFFFF0F0F0F0
    li a6, SENT | 0x0FF00FF0
    call amo_check

    li gp, 15                     # amoand.w
    li a1, SENT | 0xFFFFFFFF
    sd a1, 0(a0)
    li a2, 0x80000001
    amoand.w a3, a2, (a0)
    li a4, -1
    li a6, SENT | 0x80000001
    call amo_check

    li gp, 16                     # amoor.w
    li a1, SENT | 0x80000000
    sd a1, 0(a0)
    li a2, 0x00000001
    amoor.w a3, a2, (a0)
    li a4, 0xFFFFFFFF80000000
    li a6, SENT | 0x80000001
    call amo_check

    li gp, 17                     # amomin.w is signed: min(-2^31, 1) = -2^31
    li a1, SENT | 0x80000000
    sd a1, 0(a0)
    li a2, 1
    amomin.w a3, a2, (a0)
    li a4, 0xFFFFFFFF80000000
    li a6, SENT | 0x80000000
    call amo_check

    li gp, 18                     # amomin.w takes rs2 as a 32-bit value: 0xffffffff is -1
    li a1, SENT | 5               # (as a 64-bit number it would be larger than 5)
    sd a1, 0(a0)
    li a2, 0xFFFFFFFF
    amomin.w a3, a2, (a0)
    li a4, 5
    li a6, SENT | 0xFFFFFFFF
    call amo_check

    li gp, 19                     # amomax.w: max(-1, 0) = 0
    li a1, SENT | 0xFFFFFFFF
    sd a1, 0(a0)
    li a2, 0
    amomax.w a3, a2, (a0)
    li a4, -1
    li a6, SENT
    call amo_check

    li gp, 20                     # amomax.w: max(1, 0x80000000 = -2^31) = 1
    li a1, SENT | 1
    sd a1, 0(a0)
    li a2, 0x80000000
    amomax.w a3, a2, (a0)
    li a4, 1
    li a6, SENT | 1
    call amo_check

    li gp, 21                     # amominu.w is unsigned: minu(0xffffffff, 1) = 1
    li a1, SENT | 0xFFFFFFFF
    sd a1, 0(a0)
    li a2, 1
    amominu.w a3, a2, (a0)
    li a4, -1
    li a6, SENT | 1
    call amo_check

    li gp, 22                     # amominu.w compares only the low 32 bits of rs2:
    li a1, SENT | 0x80000000      # minu(0x80000000, 0x...ffffffff_00000001 -> 1) = 1
    sd a1, 0(a0)
    li a2, 0xFFFFFFFF00000001
    amominu.w a3, a2, (a0)
    li a4, 0xFFFFFFFF80000000
    li a6, SENT | 1
    call amo_check

    li gp, 23                     # amomaxu.w: maxu(0x80000000, 1) = 0x80000000 (amomax.w
    li a1, SENT | 0x80000000      # would keep 1); rd is still sign-extended
    sd a1, 0(a0)
    li a2, 1
    amomaxu.w a3, a2, (a0)
    li a4, 0xFFFFFFFF80000000
    li a6, SENT | 0x80000000
    call amo_check

    li gp, 24                     # amomaxu.w: maxu(1, 0xffffffff) = 0xffffffff
    li a1, SENT | 1
    sd a1, 0(a0)
    li a2, 0xFFFFFFFF
    amomaxu.w a3, a2, (a0)
    li a4, 1
    li a6, SENT | 0xFFFFFFFF
    call amo_check

    li gp, 25                     # a .w AMO on the upper word of a doubleword (address
    li a1, 0x7FFFFFFF00000005     # 4 mod 8 is aligned for 32 bits) leaves the lower word
    sd a1, 0(a0)
    addi a5, a0, 4
    li a2, 1
    amoadd.w a3, a2, (a5)
    li a4, 0x7FFFFFFF
    li a6, 0x8000000000000005
    call amo_check

    # ---- AMO .d --------------------------------------------------------------------
    li gp, 26                     # amoswap.d
    li a1, 0x8000000000000000
    sd a1, 0(a0)
    li a2, 0x0123456789ABCDEF
    amoswap.d a3, a2, (a0)
    li a4, 0x8000000000000000
    li a6, 0x0123456789ABCDEF
    call amo_check

    li gp, 27                     # amoadd.d: the carry crosses bit 32 ...
    li a1, 0xFFFFFFFF
    sd a1, 0(a0)
    li a2, 1
    amoadd.d a3, a2, (a0)
    li a4, 0xFFFFFFFF
    li a6, 0x100000000
    call amo_check

    li gp, 28                     # ... and wraps at 64 bits
    li a1, 0x7FFFFFFFFFFFFFFF
    sd a1, 0(a0)
    li a2, 1
    amoadd.d a3, a2, (a0)
    li a4, 0x7FFFFFFFFFFFFFFF
    li a6, 0x8000000000000000
    call amo_check

    li gp, 29                     # amoxor.d
    li a1, 0xFF00FF00FF00FF00
    sd a1, 0(a0)
    li a2, 0x0FF00FF00FF00FF0
    amoxor.d a3, a2, (a0)
    li a4, 0xFF00FF00FF00FF00
    li a6, 0xF0F0F0F0F0F0F0F0
    call amo_check

    li gp, 30                     # amoand.d
    li a1, 0xFF00FF00FF00FF00
    sd a1, 0(a0)
    li a2, 0x0FF00FF00FF00FF0
    amoand.d a3, a2, (a0)
    li a4, 0xFF00FF00FF00FF00
    li a6, 0x0F000F000F000F00
    call amo_check

    li gp, 31                     # amoor.d
    li a1, 0xFF00FF00FF00FF00
    sd a1, 0(a0)
    li a2, 0x0FF00FF00FF00FF0
    amoor.d a3, a2, (a0)
    li a4, 0xFF00FF00FF00FF00
    li a6, 0xFFF0FFF0FFF0FFF0
    call amo_check

    li gp, 32                     # amomin.d is signed: min(-2^63, 1) = -2^63
    li a1, 0x8000000000000000
    sd a1, 0(a0)
    li a2, 1
    amomin.d a3, a2, (a0)
    li a4, 0x8000000000000000
    li a6, 0x8000000000000000
    call amo_check

    li gp, 33                     # amomin.d: 0xffffffff is a positive 64-bit number, so
    li a1, 5                      # min(5, 0xffffffff) = 5 (compare check 18)
    sd a1, 0(a0)
    li a2, 0xFFFFFFFF
    amomin.d a3, a2, (a0)
    li a4, 5
    li a6, 5
    call amo_check

    li gp, 34                     # amomax.d: max(2^63-1, -2^63) = 2^63-1
    li a1, 0x7FFFFFFFFFFFFFFF
    sd a1, 0(a0)
    li a2, 0x8000000000000000
    amomax.d a3, a2, (a0)
    li a4, 0x7FFFFFFFFFFFFFFF
    li a6, 0x7FFFFFFFFFFFFFFF
    call amo_check

    li gp, 35                     # amomax.d: max(-1, 0) = 0
    li a1, -1
    sd a1, 0(a0)
    li a2, 0
    amomax.d a3, a2, (a0)
    li a4, -1
    li a6, 0
    call amo_check

    li gp, 36                     # amominu.d: minu(2^64-1, 1) = 1
    li a1, -1
    sd a1, 0(a0)
    li a2, 1
    amominu.d a3, a2, (a0)
    li a4, -1
    li a6, 1
    call amo_check

    li gp, 37                     # amominu.d: minu(2^63, 2^63-1) = 2^63-1
    li a1, 0x8000000000000000
    sd a1, 0(a0)
    li a2, 0x7FFFFFFFFFFFFFFF
    amominu.d a3, a2, (a0)
    li a4, 0x8000000000000000
    li a6, 0x7FFFFFFFFFFFFFFF
    call amo_check

    li gp, 38                     # amomaxu.d: maxu(1, 2^64-1) = 2^64-1
    li a1, 1
    sd a1, 0(a0)
    li a2, -1
    amomaxu.d a3, a2, (a0)
    li a4, 1
    li a6, -1
    call amo_check

    li gp, 39                     # amomaxu.d: maxu(2^63, 2^63-1) = 2^63 (amomax.d would
    li a1, 0x8000000000000000     # pick 2^63-1)
    sd a1, 0(a0)
    li a2, 0x7FFFFFFFFFFFFFFF
    amomaxu.d a3, a2, (a0)
    li a4, 0x8000000000000000
    li a6, 0x8000000000000000
    call amo_check

    li gp, 40                     # rd = x0: the old value is dropped, memory still updated
    li a1, 40
    sd a1, 0(a0)
    li a2, 2
    amoadd.d zero, a2, (a0)
    ld a3, 0(a0)
    li a4, 42
    bne a3, a4, fail

    li gp, 41                     # rd = rs2: the AMO uses rs2's value from before it wrote rd
    li a1, 111
    sd a1, 0(a0)
    li a2, 222
    amoswap.d a2, a2, (a0)
    li a4, 111
    bne a2, a4, fail
    ld a3, 0(a0)
    li a4, 222
    bne a3, a4, fail

    li gp, 42                     # .aq/.rl forms of AMOs compute the same
    li a1, 3
    sd a1, 0(a0)
    li a2, 4
    amoadd.w.aqrl a3, a2, (a0)
    li a4, 3
    bne a3, a4, fail
    amoadd.d.aq a3, a2, (a0)
    li a4, 7
    bne a3, a4, fail
    ld a3, 0(a0)
    li a4, 11
    bne a3, a4, fail

    # ---- alignment ------------------------------------------------------------------
    li gp, 43                     # amoadd.w at 2 mod 4: store/AMO address misaligned (6),
    li a1, 0x0102030405060708     # mtval = the address, mepc = the AMO, memory unchanged
    sd a1, 0(s0)
    addi a1, s0, 2
    li a2, 1
    la s10, 1f
2:  amoadd.w a3, a2, (a1)
    j fail
1:  li a0, 6
    call expect
    la a0, 2b
    bne s7, a0, fail
    ld a3, 0(s0)
    li a4, 0x0102030405060708
    bne a3, a4, fail

    li gp, 44                     # amoswap.d at 4 mod 8 is misaligned for 64 bits (6)
    addi a1, s0, 4
    la s10, 1f
    amoswap.d a3, a2, (a1)
    j fail
1:  li a0, 6
    call expect
    ld a3, 0(s0)
    li a4, 0x0102030405060708
    bne a3, a4, fail

    li gp, 45                     # amomaxu.d at 1 mod 8 (6)
    addi a1, s0, 1
    la s10, 1f
    amomaxu.d a3, a2, (a1)
    j fail
1:  li a0, 6
    call expect

    li gp, 46                     # lr.w at 2 mod 4: LOAD address misaligned (4)
    addi a1, s0, 2
    la s10, 1f
    lr.w a3, (a1)
    j fail
1:  li a0, 4
    call expect

    li gp, 47                     # lr.d at 4 mod 8 (4)
    addi a1, s0, 4
    la s10, 1f
    lr.d a3, (a1)
    j fail
1:  li a0, 4
    call expect

    li gp, 48                     # sc.w at 2 mod 4 is a store: cause 6; nothing written
    lr.w a3, (s0)
    addi a1, s0, 2
    la s10, 1f
    sc.w a3, a2, (a1)
    j fail
1:  li a0, 6
    call expect
    ld a3, 0(s0)
    li a4, 0x0102030405060708
    bne a3, a4, fail

    # ---- under Sv39 (S mode) --------------------------------------------------------
    call build_tables
    satp_sv39 root
    call to_s

    li gp, 49                     # AMOs and LR/SC work through a translated RW page
    li a0, VA_RW
    li a1, 10
    sd a1, 0(a0)
    li a2, 5
    amoadd.d a3, a2, (a0)
    lr.d a3, (a0)
    li a4, 15
    bne a3, a4, fail
    sc.d a3, a2, (a0)
    bnez a3, fail
    la a0, pageRW                 # (the identity mapping sees the result)
    ld a3, 0(a0)
    bne a3, a2, fail

    li gp, 50                     # an AMO on a read-only page is a STORE/AMO page fault
    li a1, VA_R + 8               # (15), even though it also reads
    li a2, 1
    la s10, 1f
    amoor.d a3, a2, (a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 51                     # lr.d is a load: it works on the read-only page
    li a1, VA_R
    lr.d a3, (a1)
    li a4, 0x5EED
    bne a3, a4, fail

    li gp, 52                     # an AMO on an execute-only page: store/AMO fault (15)
    li a1, VA_X
    la s10, 1f
    amoswap.w a3, a2, (a1)
    j fail
1:  li a0, 15
    call expect

    li gp, 53                     # lr.w on the execute-only page: load page fault (13)
    la s10, 1f
    lr.w a3, (a1)
    j fail
1:  li a0, 13
    call expect

    ecall
    j pass

# ---- helpers ------------------------------------------------------------------------
amo_check:                        # rd of the AMO (a3) = a4 and the doubleword at a0 = a6
    bne a3, a4, fail
    ld a5, 0(a0)
    bne a5, a6, fail
    ret

    expect_cause

    mode_switches

    setpte_routine

build_tables:                     # root[2]: identity 1 GiB page; root[1] -> l1 -> l0
    mv s6, ra
    la a0, pageR
    li a1, 0x5EED
    sd a1, 0(a0)
    base_tables root, l1, l0      # root[1] -> l1 -> l0, root[2] = RAM
    la a0, l0
    li a1, 0
    la a2, pageR
    li a3, F_R
    call setpte
    li a1, 1
    la a2, pageRW
    li a3, F_RW
    call setpte
    li a1, 2
    la a2, pageR
    li a3, F_X
    call setpte
    mv ra, s6
    ret

# ---- M-mode trap handler (trap_handler.inc) ----------------------------------------
    mtrap_resuming

    .data
    .align 3
buf:    .zero 32

    .bss
    .align 12
root:   .zero 4096
l1:     .zero 4096
l0:     .zero 4096
pageR:  .zero 4096
pageRW: .zero 4096
