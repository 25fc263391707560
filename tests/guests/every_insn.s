# Every instruction of RV64I, M, A, C, Zicsr and Zifencei, and the privileged mret,
# sret, wfi and sfence.vma, executed (or, for ecall/ebreak/c.ebreak/c.unimp, trapped on)
# at least once, each with a check of its result. tests/test_coverage.py relies on this
# guest to execute every table entry; the other guests test the corners in depth.
#   Register-register and immediate checks: a0, a1 operands, a2 result, t0 expected.
#   Expected traps: trap_handler leaves mcause in s10 and mtval in s11 and resumes after
#   the trapping instruction (2 or 4 bytes); an ecall from S or U returns to M mode.
#   The expected values were computed with a Python model of the spec, not with vkernel.

    .include "prelude.s"

    .equ MPP_M,      3 << 11
    .equ SPP_S,      1 << 8
    .equ SSIP,       1 << 1
    .equ MIE_MPIE,   (1 << 3) | (1 << 7)
    .equ SATP_SV39,  8 << 60
    .equ GIGA_RWX,   0x200000CF          # leaf: PPN 0x80000 (1 GiB at RAM), V R W X A D
    .equ ALIAS,      0x40000000          # second mapping of RAM, in root[1]

main:
    # ---- RV64I: register-register ---------------------------------------------------
    li gp, 1                       # add 0x7fffffffffffffff, 0x1 = 0x8000000000000000
    li a0, 0x7fffffffffffffff
    li a1, 0x1
    add a2, a0, a1
    li t0, 0x8000000000000000
    bne a2, t0, fail

    li gp, 2                       # sub 0x0, 0x1 = 0xffffffffffffffff
    li a0, 0x0
    li a1, 0x1
    sub a2, a0, a1
    li t0, 0xffffffffffffffff
    bne a2, t0, fail

    li gp, 3                       # sll 0x8000000000000001, 0x41 = 0x2
    li a0, 0x8000000000000001
    li a1, 0x41
    sll a2, a0, a1
    li t0, 0x2
    bne a2, t0, fail

    li gp, 4                       # slt 0xffffffffffffffff, 0x0 = 0x1
    li a0, 0xffffffffffffffff
    li a1, 0x0
    slt a2, a0, a1
    li t0, 0x1
    bne a2, t0, fail

    li gp, 5                       # sltu 0xffffffffffffffff, 0x0 = 0x0
    li a0, 0xffffffffffffffff
    li a1, 0x0
    sltu a2, a0, a1
    li t0, 0x0
    bne a2, t0, fail

    li gp, 6                       # xor 0x123456789abcdef0, 0xffffffffffffffff = 0xedcba9876543210f
    li a0, 0x123456789abcdef0
    li a1, 0xffffffffffffffff
    xor a2, a0, a1
    li t0, 0xedcba9876543210f
    bne a2, t0, fail

    li gp, 7                       # srl 0x8000000000000000, 0x3f = 0x1
    li a0, 0x8000000000000000
    li a1, 0x3f
    srl a2, a0, a1
    li t0, 0x1
    bne a2, t0, fail

    li gp, 8                       # sra 0x8000000000000000, 0x7f = 0xffffffffffffffff
    li a0, 0x8000000000000000
    li a1, 0x7f
    sra a2, a0, a1
    li t0, 0xffffffffffffffff
    bne a2, t0, fail

    li gp, 9                       # or 0xf0f0, 0xf0f0000 = 0xf0ff0f0
    li a0, 0xf0f0
    li a1, 0xf0f0000
    or a2, a0, a1
    li t0, 0xf0ff0f0
    bne a2, t0, fail

    li gp, 10                      # and 0x123456789abcdef0, 0xff00ff00ff00ff00 = 0x120056009a00de00
    li a0, 0x123456789abcdef0
    li a1, 0xff00ff00ff00ff00
    and a2, a0, a1
    li t0, 0x120056009a00de00
    bne a2, t0, fail

    li gp, 11                      # addw 0x7fffffff, 0x1 = 0xffffffff80000000
    li a0, 0x7fffffff
    li a1, 0x1
    addw a2, a0, a1
    li t0, 0xffffffff80000000
    bne a2, t0, fail

    li gp, 12                      # subw 0x100000000, 0x1 = 0xffffffffffffffff
    li a0, 0x100000000
    li a1, 0x1
    subw a2, a0, a1
    li t0, 0xffffffffffffffff
    bne a2, t0, fail

    li gp, 13                      # sllw 0x1, 0x3f = 0xffffffff80000000
    li a0, 0x1
    li a1, 0x3f
    sllw a2, a0, a1
    li t0, 0xffffffff80000000
    bne a2, t0, fail

    li gp, 14                      # srlw 0xffffffff80000000, 0x4 = 0x8000000
    li a0, 0xffffffff80000000
    li a1, 0x4
    srlw a2, a0, a1
    li t0, 0x8000000
    bne a2, t0, fail

    li gp, 15                      # sraw 0x80000000, 0x4 = 0xfffffffff8000000
    li a0, 0x80000000
    li a1, 0x4
    sraw a2, a0, a1
    li t0, 0xfffffffff8000000
    bne a2, t0, fail

    # ---- RV64I: immediates --------------------------------------------------------
    li gp, 16                      # addi 0x1, -2048 = 0xfffffffffffff801
    li a0, 0x1
    addi a2, a0, -2048
    li t0, 0xfffffffffffff801
    bne a2, t0, fail

    li gp, 17                      # slti 0xffffffffffffffff, 0 = 0x1
    li a0, 0xffffffffffffffff
    slti a2, a0, 0
    li t0, 0x1
    bne a2, t0, fail

    li gp, 18                      # sltiu 0x5, -1 = 0x1
    li a0, 0x5
    sltiu a2, a0, -1
    li t0, 0x1
    bne a2, t0, fail

    li gp, 19                      # xori 0xf, -1 = 0xfffffffffffffff0
    li a0, 0xf
    xori a2, a0, -1
    li t0, 0xfffffffffffffff0
    bne a2, t0, fail

    li gp, 20                      # ori 0x100, 255 = 0x1ff
    li a0, 0x100
    ori a2, a0, 255
    li t0, 0x1ff
    bne a2, t0, fail

    li gp, 21                      # andi 0xffffffffffffffff, 2032 = 0x7f0
    li a0, 0xffffffffffffffff
    andi a2, a0, 2032
    li t0, 0x7f0
    bne a2, t0, fail

    li gp, 22                      # slli 0x3, 62 = 0xc000000000000000
    li a0, 0x3
    slli a2, a0, 62
    li t0, 0xc000000000000000
    bne a2, t0, fail

    li gp, 23                      # srli 0xffffffffffffffff, 60 = 0xf
    li a0, 0xffffffffffffffff
    srli a2, a0, 60
    li t0, 0xf
    bne a2, t0, fail

    li gp, 24                      # srai 0x8000000000000000, 60 = 0xfffffffffffffff8
    li a0, 0x8000000000000000
    srai a2, a0, 60
    li t0, 0xfffffffffffffff8
    bne a2, t0, fail

    li gp, 25                      # addiw 0x7fffffff, 1 = 0xffffffff80000000
    li a0, 0x7fffffff
    addiw a2, a0, 1
    li t0, 0xffffffff80000000
    bne a2, t0, fail

    li gp, 26                      # slliw 0xffffffff, 31 = 0xffffffff80000000
    li a0, 0xffffffff
    slliw a2, a0, 31
    li t0, 0xffffffff80000000
    bne a2, t0, fail

    li gp, 27                      # srliw 0xffffffff80000000, 31 = 0x1
    li a0, 0xffffffff80000000
    srliw a2, a0, 31
    li t0, 0x1
    bne a2, t0, fail

    li gp, 28                      # sraiw 0x80000000, 31 = 0xffffffffffffffff
    li a0, 0x80000000
    sraiw a2, a0, 31
    li t0, 0xffffffffffffffff
    bne a2, t0, fail

    # ---- RV64I: upper immediates, jumps, branches ---------------------------------
    li gp, 29                      # lui sign-extends bit 31 on RV64
    lui a2, 0x80001
    li t0, 0xFFFFFFFF80001000
    bne a2, t0, fail

    li gp, 30                      # auipc adds to its own address
1:  auipc a2, 0x10
    la t0, 1b
    li t1, 0x10000
    add t0, t0, t1
    bne a2, t0, fail

    li gp, 31                      # jal links the next address and jumps
    jal a2, 2f
1:  j fail
2:  la t0, 1b
    bne a2, t0, fail

    li gp, 32                      # jalr: target (rs1 + imm) with bit 0 cleared, links pc + 4
    la a0, 2f
    addi a0, a0, -15                 # 2f - 16 + 1: bit 0 is dropped
    jalr a2, 16(a0)
1:  j fail
2:  la t0, 1b
    bne a2, t0, fail

    li gp, 33                      # beq: taken for 0x7, 0x7; not taken for 0x7, 0x8
    li a0, 0x7
    li a1, 0x8
    beq a0, a1, fail
    li a0, 0x7
    li a1, 0x7
    beq a0, a1, 1f
    j fail
1:
    li gp, 34                      # bne: taken for 0x7, 0x8; not taken for 0x7, 0x7
    li a0, 0x7
    li a1, 0x7
    bne a0, a1, fail
    li a0, 0x7
    li a1, 0x8
    bne a0, a1, 1f
    j fail
1:
    li gp, 35                      # blt: taken for 0xffffffffffffffff, 0x0; not taken for 0x0, 0xffffffffffffffff
    li a0, 0x0
    li a1, 0xffffffffffffffff
    blt a0, a1, fail
    li a0, 0xffffffffffffffff
    li a1, 0x0
    blt a0, a1, 1f
    j fail
1:
    li gp, 36                      # bge: taken for 0x0, 0xffffffffffffffff; not taken for 0xffffffffffffffff, 0x0
    li a0, 0xffffffffffffffff
    li a1, 0x0
    bge a0, a1, fail
    li a0, 0x0
    li a1, 0xffffffffffffffff
    bge a0, a1, 1f
    j fail
1:
    li gp, 37                      # bltu: taken for 0x0, 0xffffffffffffffff; not taken for 0xffffffffffffffff, 0x0
    li a0, 0xffffffffffffffff
    li a1, 0x0
    bltu a0, a1, fail
    li a0, 0x0
    li a1, 0xffffffffffffffff
    bltu a0, a1, 1f
    j fail
1:
    li gp, 38                      # bgeu: taken for 0xffffffffffffffff, 0x0; not taken for 0x0, 0xffffffffffffffff
    li a0, 0x0
    li a1, 0xffffffffffffffff
    bgeu a0, a1, fail
    li a0, 0xffffffffffffffff
    li a1, 0x0
    bgeu a0, a1, 1f
    j fail
1:

    # ---- RV64I: loads and stores ---------------------------------------------------
    la s0, ldata
    li gp, 39                      # lb 0(ldata) = 0xffffffffffffff87
    lb a2, 0(s0)
    li t0, 0xffffffffffffff87
    bne a2, t0, fail
    li gp, 40                      # lh 2(ldata) = 0xffffffffffff8485
    lh a2, 2(s0)
    li t0, 0xffffffffffff8485
    bne a2, t0, fail
    li gp, 41                      # lw 4(ldata) = 0xffffffff80818283
    lw a2, 4(s0)
    li t0, 0xffffffff80818283
    bne a2, t0, fail
    li gp, 42                      # ld 0(ldata) = 0x8081828384858687
    ld a2, 0(s0)
    li t0, 0x8081828384858687
    bne a2, t0, fail
    li gp, 43                      # lbu 7(ldata) = 0x80
    lbu a2, 7(s0)
    li t0, 0x80
    bne a2, t0, fail
    li gp, 44                      # lhu 6(ldata) = 0x8081
    lhu a2, 6(s0)
    li t0, 0x8081
    bne a2, t0, fail
    li gp, 45                      # lwu 4(ldata) = 0x80818283
    lwu a2, 4(s0)
    li t0, 0x80818283
    bne a2, t0, fail

    la s0, sdata
    li gp, 46                      # sb writes 1 byte(s) at offset 1, nothing else
    sd zero, 0(s0)
    sd zero, 8(s0)
    li a1, 0xa1a2a3a4a5a6a7a8
    sb a1, 1(s0)
    ld a2, 0(s0)
    li t0, 0xa800
    bne a2, t0, fail
    ld a2, 8(s0)
    bnez a2, fail
    li gp, 47                      # sh writes 2 byte(s) at offset 2, nothing else
    sd zero, 0(s0)
    sd zero, 8(s0)
    li a1, 0xa1a2a3a4a5a6a7a8
    sh a1, 2(s0)
    ld a2, 0(s0)
    li t0, 0xa7a80000
    bne a2, t0, fail
    ld a2, 8(s0)
    bnez a2, fail
    li gp, 48                      # sw writes 4 byte(s) at offset 4, nothing else
    sd zero, 0(s0)
    sd zero, 8(s0)
    li a1, 0xa1a2a3a4a5a6a7a8
    sw a1, 4(s0)
    ld a2, 0(s0)
    li t0, 0xa5a6a7a800000000
    bne a2, t0, fail
    ld a2, 8(s0)
    bnez a2, fail
    li gp, 49                      # sd writes 8 byte(s) at offset 8, nothing else
    sd zero, 0(s0)
    sd zero, 8(s0)
    li a1, 0xa1a2a3a4a5a6a7a8
    sd a1, 8(s0)
    ld a2, 8(s0)
    li t0, 0xa1a2a3a4a5a6a7a8
    bne a2, t0, fail
    ld a2, 0(s0)
    bnez a2, fail

    li gp, 50                      # fence: a store is seen by the load after it
    li a1, 0x5A
    sd a1, 0(s0)
    fence rw, rw
    ld a2, 0(s0)
    bne a2, a1, fail

    li gp, 51                      # fence.tso likewise
    li a1, 0xA5
    sd a1, 0(s0)
    fence.tso
    ld a2, 0(s0)
    bne a2, a1, fail

    # ---- M ----------------------------------------------------------------------------
    li gp, 52                      # mul 0x123456789, 0x987654321 = 0xd77d742cce1833a9
    li a0, 0x123456789
    li a1, 0x987654321
    mul a2, a0, a1
    li t0, 0xd77d742cce1833a9
    bne a2, t0, fail

    li gp, 53                      # mulh 0xffffffffffffffff, 0xffffffffffffffff = 0x0
    li a0, 0xffffffffffffffff
    li a1, 0xffffffffffffffff
    mulh a2, a0, a1
    li t0, 0x0
    bne a2, t0, fail

    li gp, 54                      # mulhsu 0xffffffffffffffff, 0xffffffffffffffff = 0xffffffffffffffff
    li a0, 0xffffffffffffffff
    li a1, 0xffffffffffffffff
    mulhsu a2, a0, a1
    li t0, 0xffffffffffffffff
    bne a2, t0, fail

    li gp, 55                      # mulhu 0xffffffffffffffff, 0xffffffffffffffff = 0xfffffffffffffffe
    li a0, 0xffffffffffffffff
    li a1, 0xffffffffffffffff
    mulhu a2, a0, a1
    li t0, 0xfffffffffffffffe
    bne a2, t0, fail

    li gp, 56                      # div 0x8000000000000000, 0xffffffffffffffff = 0x8000000000000000
    li a0, 0x8000000000000000
    li a1, 0xffffffffffffffff
    div a2, a0, a1
    li t0, 0x8000000000000000
    bne a2, t0, fail

    li gp, 57                      # divu 0xffffffffffffffff, 0x0 = 0xffffffffffffffff
    li a0, 0xffffffffffffffff
    li a1, 0x0
    divu a2, a0, a1
    li t0, 0xffffffffffffffff
    bne a2, t0, fail

    li gp, 58                      # rem 0xfffffffffffffff9, 0x2 = 0xffffffffffffffff
    li a0, 0xfffffffffffffff9
    li a1, 0x2
    rem a2, a0, a1
    li t0, 0xffffffffffffffff
    bne a2, t0, fail

    li gp, 59                      # remu 0x64, 0x0 = 0x64
    li a0, 0x64
    li a1, 0x0
    remu a2, a0, a1
    li t0, 0x64
    bne a2, t0, fail

    li gp, 60                      # mulw 0x80000001, 0x2 = 0x2
    li a0, 0x80000001
    li a1, 0x2
    mulw a2, a0, a1
    li t0, 0x2
    bne a2, t0, fail

    li gp, 61                      # divw 0x80000000, 0xffffffffffffffff = 0xffffffff80000000
    li a0, 0x80000000
    li a1, 0xffffffffffffffff
    divw a2, a0, a1
    li t0, 0xffffffff80000000
    bne a2, t0, fail

    li gp, 62                      # divuw 0xfffffffe, 0x2 = 0x7fffffff
    li a0, 0xfffffffe
    li a1, 0x2
    divuw a2, a0, a1
    li t0, 0x7fffffff
    bne a2, t0, fail

    li gp, 63                      # remw 0xfffffff9, 0x0 = 0xfffffffffffffff9
    li a0, 0xfffffff9
    li a1, 0x0
    remw a2, a0, a1
    li t0, 0xfffffffffffffff9
    bne a2, t0, fail

    li gp, 64                      # remuw 0x1ffffffff, 0x5 = 0x0
    li a0, 0x1ffffffff
    li a1, 0x5
    remuw a2, a0, a1
    li t0, 0x0
    bne a2, t0, fail

    li gp, 65                      # div rounds toward zero: -7 / 2 = -3
    li a0, -7
    li a1, 2
    div a2, a0, a1
    li t0, -3
    bne a2, t0, fail

    # ---- A: LR/SC, each ordering, W and D ------------------------------------------
    la s0, adata
    li gp, 66                      # lr.w then sc.w: loaded 0x0, sc succeeds
    li a0, 0x8000000000000000
    sd a0, 0(s0)
    lr.w a2, (s0)
    li t0, 0x0
    bne a2, t0, fail
    li a1, 0x1122334455667788
    sc.w a3, a1, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    li t0, 0x8000000055667788
    bne a4, t0, fail

    li gp, 67                      # lr.w.aq then sc.w.aq: loaded 0x12345678, sc succeeds
    li a0, 0x7fffffff12345678
    sd a0, 0(s0)
    lr.w.aq a2, (s0)
    li t0, 0x12345678
    bne a2, t0, fail
    li a1, 0x1122334455667788
    sc.w.aq a3, a1, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    li t0, 0x7fffffff55667788
    bne a4, t0, fail

    li gp, 68                      # lr.w.rl then sc.w.rl: loaded 0x12345678, sc succeeds
    li a0, 0x7fffffff12345678
    sd a0, 0(s0)
    lr.w.rl a2, (s0)
    li t0, 0x12345678
    bne a2, t0, fail
    li a1, 0x1122334455667788
    sc.w.rl a3, a1, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    li t0, 0x7fffffff55667788
    bne a4, t0, fail

    li gp, 69                      # lr.w.aqrl then sc.w.aqrl: loaded 0xffffffff80000001, sc succeeds
    li a0, 0xffffffff80000001
    sd a0, 0(s0)
    lr.w.aqrl a2, (s0)
    li t0, 0xffffffff80000001
    bne a2, t0, fail
    li a1, 0x1122334455667788
    sc.w.aqrl a3, a1, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    li t0, 0xffffffff55667788
    bne a4, t0, fail

    li gp, 70                      # lr.d then sc.d: loaded 0x7fffffff12345678, sc succeeds
    li a0, 0x7fffffff12345678
    sd a0, 0(s0)
    lr.d a2, (s0)
    li t0, 0x7fffffff12345678
    bne a2, t0, fail
    li a1, 0x1122334455667788
    sc.d a3, a1, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    li t0, 0x1122334455667788
    bne a4, t0, fail

    li gp, 71                      # lr.d.aq then sc.d.aq: loaded 0x8000000000000000, sc succeeds
    li a0, 0x8000000000000000
    sd a0, 0(s0)
    lr.d.aq a2, (s0)
    li t0, 0x8000000000000000
    bne a2, t0, fail
    li a1, 0x1122334455667788
    sc.d.aq a3, a1, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    li t0, 0x1122334455667788
    bne a4, t0, fail

    li gp, 72                      # lr.d.rl then sc.d.rl: loaded 0x7fffffff12345678, sc succeeds
    li a0, 0x7fffffff12345678
    sd a0, 0(s0)
    lr.d.rl a2, (s0)
    li t0, 0x7fffffff12345678
    bne a2, t0, fail
    li a1, 0x1122334455667788
    sc.d.rl a3, a1, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    li t0, 0x1122334455667788
    bne a4, t0, fail

    li gp, 73                      # lr.d.aqrl then sc.d.aqrl: loaded 0x7fffffff12345678, sc succeeds
    li a0, 0x7fffffff12345678
    sd a0, 0(s0)
    lr.d.aqrl a2, (s0)
    li t0, 0x7fffffff12345678
    bne a2, t0, fail
    li a1, 0x1122334455667788
    sc.d.aqrl a3, a1, (s0)
    bnez a3, fail
    ld a4, 0(s0)
    li t0, 0x1122334455667788
    bne a4, t0, fail

    li gp, 74                      # sc.d without a reservation fails (rd = 1) and stores nothing
    sd zero, 0(s0)
    li a1, 1234
    sc.d a3, a1, (s0)
    li t0, 1
    bne a3, t0, fail
    ld a4, 0(s0)
    bnez a4, fail

    # ---- A: AMOs, each ordering, W and D ------------------------------------------
    li gp, 75                      # amoswap.w: memory 0x0, rs2 0xffffffffffffffff
    li a0, 0x0
    sd a0, 0(s0)
    li a1, 0xffffffffffffffff
    amoswap.w a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff
    bne a3, t0, fail

    li gp, 76                      # amoswap.w.aq: memory 0x123456789abcdef0, rs2 0xffffffff
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0xffffffff
    amoswap.w.aq a2, a1, (s0)
    li t0, 0xffffffff9abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x12345678ffffffff
    bne a3, t0, fail

    li gp, 77                      # amoswap.w.rl: memory 0xfffffffffffffffb, rs2 0x80000000
    li a0, 0xfffffffffffffffb
    sd a0, 0(s0)
    li a1, 0x80000000
    amoswap.w.rl a2, a1, (s0)
    li t0, 0xfffffffffffffffb
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff80000000
    bne a3, t0, fail

    li gp, 78                      # amoswap.w.aqrl: memory 0x1, rs2 0x0
    li a0, 0x1
    sd a0, 0(s0)
    li a1, 0x0
    amoswap.w.aqrl a2, a1, (s0)
    li t0, 0x1
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x0
    bne a3, t0, fail

    li gp, 79                      # amoswap.d: memory 0x7fffffffffffffff, rs2 0x8000000000000000
    li a0, 0x7fffffffffffffff
    sd a0, 0(s0)
    li a1, 0x8000000000000000
    amoswap.d a2, a1, (s0)
    li t0, 0x7fffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x8000000000000000
    bne a3, t0, fail

    li gp, 80                      # amoswap.d.aq: memory 0x123456789abcdef0, rs2 0xfffffffffffffffb
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0xfffffffffffffffb
    amoswap.d.aq a2, a1, (s0)
    li t0, 0x123456789abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfffffffffffffffb
    bne a3, t0, fail

    li gp, 81                      # amoswap.d.rl: memory 0xffffffff, rs2 0x80000000
    li a0, 0xffffffff
    sd a0, 0(s0)
    li a1, 0x80000000
    amoswap.d.rl a2, a1, (s0)
    li t0, 0xffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x80000000
    bne a3, t0, fail

    li gp, 82                      # amoswap.d.aqrl: memory 0x1, rs2 0x5
    li a0, 0x1
    sd a0, 0(s0)
    li a1, 0x5
    amoswap.d.aqrl a2, a1, (s0)
    li t0, 0x1
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x5
    bne a3, t0, fail

    li gp, 83                      # amoadd.w: memory 0x1, rs2 0x0
    li a0, 0x1
    sd a0, 0(s0)
    li a1, 0x0
    amoadd.w a2, a1, (s0)
    li t0, 0x1
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x1
    bne a3, t0, fail

    li gp, 84                      # amoadd.w.aq: memory 0xffffffffffffffff, rs2 0x8000000000000000
    li a0, 0xffffffffffffffff
    sd a0, 0(s0)
    li a1, 0x8000000000000000
    amoadd.w.aq a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffffffffffff
    bne a3, t0, fail

    li gp, 85                      # amoadd.w.rl: memory 0x0, rs2 0xffffffffffffffff
    li a0, 0x0
    sd a0, 0(s0)
    li a1, 0xffffffffffffffff
    amoadd.w.rl a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff
    bne a3, t0, fail

    li gp, 86                      # amoadd.w.aqrl: memory 0xfffffffffffffffb, rs2 0xfffffffffffffffb
    li a0, 0xfffffffffffffffb
    sd a0, 0(s0)
    li a1, 0xfffffffffffffffb
    amoadd.w.aqrl a2, a1, (s0)
    li t0, 0xfffffffffffffffb
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfffffffffffffff6
    bne a3, t0, fail

    li gp, 87                      # amoadd.d: memory 0x7fffffffffffffff, rs2 0x7fffffffffffffff
    li a0, 0x7fffffffffffffff
    sd a0, 0(s0)
    li a1, 0x7fffffffffffffff
    amoadd.d a2, a1, (s0)
    li t0, 0x7fffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfffffffffffffffe
    bne a3, t0, fail

    li gp, 88                      # amoadd.d.aq: memory 0xffffffffffffffff, rs2 0xffffffff80000000
    li a0, 0xffffffffffffffff
    sd a0, 0(s0)
    li a1, 0xffffffff80000000
    amoadd.d.aq a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff7fffffff
    bne a3, t0, fail

    li gp, 89                      # amoadd.d.rl: memory 0x80000000, rs2 0xffffffff
    li a0, 0x80000000
    sd a0, 0(s0)
    li a1, 0xffffffff
    amoadd.d.rl a2, a1, (s0)
    li t0, 0x80000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x17fffffff
    bne a3, t0, fail

    li gp, 90                      # amoadd.d.aqrl: memory 0x123456789abcdef0, rs2 0xffffffff
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0xffffffff
    amoadd.d.aqrl a2, a1, (s0)
    li t0, 0x123456789abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x123456799abcdeef
    bne a3, t0, fail

    li gp, 91                      # amoxor.w: memory 0x8000000000000000, rs2 0x7fffffffffffffff
    li a0, 0x8000000000000000
    sd a0, 0(s0)
    li a1, 0x7fffffffffffffff
    amoxor.w a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x80000000ffffffff
    bne a3, t0, fail

    li gp, 92                      # amoxor.w.aq: memory 0xffffffffffffffff, rs2 0x123456789abcdef0
    li a0, 0xffffffffffffffff
    sd a0, 0(s0)
    li a1, 0x123456789abcdef0
    amoxor.w.aq a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff6543210f
    bne a3, t0, fail

    li gp, 93                      # amoxor.w.rl: memory 0x0, rs2 0x123456789abcdef0
    li a0, 0x0
    sd a0, 0(s0)
    li a1, 0x123456789abcdef0
    amoxor.w.rl a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x9abcdef0
    bne a3, t0, fail

    li gp, 94                      # amoxor.w.aqrl: memory 0x80000000, rs2 0xfffffffffffffffb
    li a0, 0x80000000
    sd a0, 0(s0)
    li a1, 0xfffffffffffffffb
    amoxor.w.aqrl a2, a1, (s0)
    li t0, 0xffffffff80000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x7ffffffb
    bne a3, t0, fail

    li gp, 95                      # amoxor.d: memory 0x8000000000000000, rs2 0xfffffffffffffffb
    li a0, 0x8000000000000000
    sd a0, 0(s0)
    li a1, 0xfffffffffffffffb
    amoxor.d a2, a1, (s0)
    li t0, 0x8000000000000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x7ffffffffffffffb
    bne a3, t0, fail

    li gp, 96                      # amoxor.d.aq: memory 0x7fffffffffffffff, rs2 0xffffffffffffffff
    li a0, 0x7fffffffffffffff
    sd a0, 0(s0)
    li a1, 0xffffffffffffffff
    amoxor.d.aq a2, a1, (s0)
    li t0, 0x7fffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x8000000000000000
    bne a3, t0, fail

    li gp, 97                      # amoxor.d.rl: memory 0xffffffffffffffff, rs2 0x7fffffff
    li a0, 0xffffffffffffffff
    sd a0, 0(s0)
    li a1, 0x7fffffff
    amoxor.d.rl a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff80000000
    bne a3, t0, fail

    li gp, 98                      # amoxor.d.aqrl: memory 0x5, rs2 0x7fffffffffffffff
    li a0, 0x5
    sd a0, 0(s0)
    li a1, 0x7fffffffffffffff
    amoxor.d.aqrl a2, a1, (s0)
    li t0, 0x5
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x7ffffffffffffffa
    bne a3, t0, fail

    li gp, 99                      # amoand.w: memory 0xffffffff, rs2 0x0
    li a0, 0xffffffff
    sd a0, 0(s0)
    li a1, 0x0
    amoand.w a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x0
    bne a3, t0, fail

    li gp, 100                     # amoand.w.aq: memory 0xffffffff, rs2 0x7fffffffffffffff
    li a0, 0xffffffff
    sd a0, 0(s0)
    li a1, 0x7fffffffffffffff
    amoand.w.aq a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff
    bne a3, t0, fail

    li gp, 101                     # amoand.w.rl: memory 0x0, rs2 0x8000000000000000
    li a0, 0x0
    sd a0, 0(s0)
    li a1, 0x8000000000000000
    amoand.w.rl a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x0
    bne a3, t0, fail

    li gp, 102                     # amoand.w.aqrl: memory 0x123456789abcdef0, rs2 0x7fffffff
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0x7fffffff
    amoand.w.aqrl a2, a1, (s0)
    li t0, 0xffffffff9abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x123456781abcdef0
    bne a3, t0, fail

    li gp, 103                     # amoand.d: memory 0x7fffffffffffffff, rs2 0x8000000000000000
    li a0, 0x7fffffffffffffff
    sd a0, 0(s0)
    li a1, 0x8000000000000000
    amoand.d a2, a1, (s0)
    li t0, 0x7fffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x0
    bne a3, t0, fail

    li gp, 104                     # amoand.d.aq: memory 0x1, rs2 0xffffffff
    li a0, 0x1
    sd a0, 0(s0)
    li a1, 0xffffffff
    amoand.d.aq a2, a1, (s0)
    li t0, 0x1
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x1
    bne a3, t0, fail

    li gp, 105                     # amoand.d.rl: memory 0x7fffffffffffffff, rs2 0x123456789abcdef0
    li a0, 0x7fffffffffffffff
    sd a0, 0(s0)
    li a1, 0x123456789abcdef0
    amoand.d.rl a2, a1, (s0)
    li t0, 0x7fffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x123456789abcdef0
    bne a3, t0, fail

    li gp, 106                     # amoand.d.aqrl: memory 0xffffffff80000000, rs2 0x8000000000000000
    li a0, 0xffffffff80000000
    sd a0, 0(s0)
    li a1, 0x8000000000000000
    amoand.d.aqrl a2, a1, (s0)
    li t0, 0xffffffff80000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x8000000000000000
    bne a3, t0, fail

    li gp, 107                     # amoor.w: memory 0xfedcba9876543210, rs2 0x0
    li a0, 0xfedcba9876543210
    sd a0, 0(s0)
    li a1, 0x0
    amoor.w a2, a1, (s0)
    li t0, 0x76543210
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfedcba9876543210
    bne a3, t0, fail

    li gp, 108                     # amoor.w.aq: memory 0x1, rs2 0x80000000
    li a0, 0x1
    sd a0, 0(s0)
    li a1, 0x80000000
    amoor.w.aq a2, a1, (s0)
    li t0, 0x1
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x80000001
    bne a3, t0, fail

    li gp, 109                     # amoor.w.rl: memory 0x80000000, rs2 0x5
    li a0, 0x80000000
    sd a0, 0(s0)
    li a1, 0x5
    amoor.w.rl a2, a1, (s0)
    li t0, 0xffffffff80000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x80000005
    bne a3, t0, fail

    li gp, 110                     # amoor.w.aqrl: memory 0xffffffff, rs2 0x0
    li a0, 0xffffffff
    sd a0, 0(s0)
    li a1, 0x0
    amoor.w.aqrl a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff
    bne a3, t0, fail

    li gp, 111                     # amoor.d: memory 0xfedcba9876543210, rs2 0xffffffff
    li a0, 0xfedcba9876543210
    sd a0, 0(s0)
    li a1, 0xffffffff
    amoor.d a2, a1, (s0)
    li t0, 0xfedcba9876543210
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfedcba98ffffffff
    bne a3, t0, fail

    li gp, 112                     # amoor.d.aq: memory 0xffffffff, rs2 0xfffffffffffffffb
    li a0, 0xffffffff
    sd a0, 0(s0)
    li a1, 0xfffffffffffffffb
    amoor.d.aq a2, a1, (s0)
    li t0, 0xffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffffffffffff
    bne a3, t0, fail

    li gp, 113                     # amoor.d.rl: memory 0x123456789abcdef0, rs2 0xfedcba9876543210
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0xfedcba9876543210
    amoor.d.rl a2, a1, (s0)
    li t0, 0x123456789abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfefcfef8fefcfef0
    bne a3, t0, fail

    li gp, 114                     # amoor.d.aqrl: memory 0x123456789abcdef0, rs2 0x8000000000000000
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0x8000000000000000
    amoor.d.aqrl a2, a1, (s0)
    li t0, 0x123456789abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x923456789abcdef0
    bne a3, t0, fail

    li gp, 115                     # amomin.w: memory 0x123456789abcdef0, rs2 0xffffffffffffffff
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0xffffffffffffffff
    amomin.w a2, a1, (s0)
    li t0, 0xffffffff9abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x123456789abcdef0
    bne a3, t0, fail

    li gp, 116                     # amomin.w.aq: memory 0x7fffffff, rs2 0x0
    li a0, 0x7fffffff
    sd a0, 0(s0)
    li a1, 0x0
    amomin.w.aq a2, a1, (s0)
    li t0, 0x7fffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x0
    bne a3, t0, fail

    li gp, 117                     # amomin.w.rl: memory 0x8000000000000000, rs2 0x7fffffff
    li a0, 0x8000000000000000
    sd a0, 0(s0)
    li a1, 0x7fffffff
    amomin.w.rl a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x8000000000000000
    bne a3, t0, fail

    li gp, 118                     # amomin.w.aqrl: memory 0x0, rs2 0xffffffffffffffff
    li a0, 0x0
    sd a0, 0(s0)
    li a1, 0xffffffffffffffff
    amomin.w.aqrl a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff
    bne a3, t0, fail

    li gp, 119                     # amomin.d: memory 0xffffffffffffffff, rs2 0x8000000000000000
    li a0, 0xffffffffffffffff
    sd a0, 0(s0)
    li a1, 0x8000000000000000
    amomin.d a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x8000000000000000
    bne a3, t0, fail

    li gp, 120                     # amomin.d.aq: memory 0x8000000000000000, rs2 0xfedcba9876543210
    li a0, 0x8000000000000000
    sd a0, 0(s0)
    li a1, 0xfedcba9876543210
    amomin.d.aq a2, a1, (s0)
    li t0, 0x8000000000000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x8000000000000000
    bne a3, t0, fail

    li gp, 121                     # amomin.d.rl: memory 0x7fffffff, rs2 0x123456789abcdef0
    li a0, 0x7fffffff
    sd a0, 0(s0)
    li a1, 0x123456789abcdef0
    amomin.d.rl a2, a1, (s0)
    li t0, 0x7fffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x7fffffff
    bne a3, t0, fail

    li gp, 122                     # amomin.d.aqrl: memory 0x7fffffffffffffff, rs2 0x123456789abcdef0
    li a0, 0x7fffffffffffffff
    sd a0, 0(s0)
    li a1, 0x123456789abcdef0
    amomin.d.aqrl a2, a1, (s0)
    li t0, 0x7fffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x123456789abcdef0
    bne a3, t0, fail

    li gp, 123                     # amomax.w: memory 0x0, rs2 0x7fffffff
    li a0, 0x0
    sd a0, 0(s0)
    li a1, 0x7fffffff
    amomax.w a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x7fffffff
    bne a3, t0, fail

    li gp, 124                     # amomax.w.aq: memory 0xfedcba9876543210, rs2 0x5
    li a0, 0xfedcba9876543210
    sd a0, 0(s0)
    li a1, 0x5
    amomax.w.aq a2, a1, (s0)
    li t0, 0x76543210
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfedcba9876543210
    bne a3, t0, fail

    li gp, 125                     # amomax.w.rl: memory 0x1, rs2 0x123456789abcdef0
    li a0, 0x1
    sd a0, 0(s0)
    li a1, 0x123456789abcdef0
    amomax.w.rl a2, a1, (s0)
    li t0, 0x1
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x1
    bne a3, t0, fail

    li gp, 126                     # amomax.w.aqrl: memory 0xfffffffffffffffb, rs2 0xfedcba9876543210
    li a0, 0xfffffffffffffffb
    sd a0, 0(s0)
    li a1, 0xfedcba9876543210
    amomax.w.aqrl a2, a1, (s0)
    li t0, 0xfffffffffffffffb
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff76543210
    bne a3, t0, fail

    li gp, 127                     # amomax.d: memory 0xfedcba9876543210, rs2 0xfffffffffffffffb
    li a0, 0xfedcba9876543210
    sd a0, 0(s0)
    li a1, 0xfffffffffffffffb
    amomax.d a2, a1, (s0)
    li t0, 0xfedcba9876543210
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfffffffffffffffb
    bne a3, t0, fail

    li gp, 128                     # amomax.d.aq: memory 0x0, rs2 0x80000000
    li a0, 0x0
    sd a0, 0(s0)
    li a1, 0x80000000
    amomax.d.aq a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x80000000
    bne a3, t0, fail

    li gp, 129                     # amomax.d.rl: memory 0x123456789abcdef0, rs2 0xffffffff80000000
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0xffffffff80000000
    amomax.d.rl a2, a1, (s0)
    li t0, 0x123456789abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x123456789abcdef0
    bne a3, t0, fail

    li gp, 130                     # amomax.d.aqrl: memory 0xfffffffffffffffb, rs2 0x80000000
    li a0, 0xfffffffffffffffb
    sd a0, 0(s0)
    li a1, 0x80000000
    amomax.d.aqrl a2, a1, (s0)
    li t0, 0xfffffffffffffffb
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x80000000
    bne a3, t0, fail

    li gp, 131                     # amominu.w: memory 0x80000000, rs2 0x5
    li a0, 0x80000000
    sd a0, 0(s0)
    li a1, 0x5
    amominu.w a2, a1, (s0)
    li t0, 0xffffffff80000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x5
    bne a3, t0, fail

    li gp, 132                     # amominu.w.aq: memory 0x1, rs2 0xffffffffffffffff
    li a0, 0x1
    sd a0, 0(s0)
    li a1, 0xffffffffffffffff
    amominu.w.aq a2, a1, (s0)
    li t0, 0x1
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x1
    bne a3, t0, fail

    li gp, 133                     # amominu.w.rl: memory 0x8000000000000000, rs2 0x8000000000000000
    li a0, 0x8000000000000000
    sd a0, 0(s0)
    li a1, 0x8000000000000000
    amominu.w.rl a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x8000000000000000
    bne a3, t0, fail

    li gp, 134                     # amominu.w.aqrl: memory 0xffffffff80000000, rs2 0xffffffff80000000
    li a0, 0xffffffff80000000
    sd a0, 0(s0)
    li a1, 0xffffffff80000000
    amominu.w.aqrl a2, a1, (s0)
    li t0, 0xffffffff80000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff80000000
    bne a3, t0, fail

    li gp, 135                     # amominu.d: memory 0x7fffffffffffffff, rs2 0x0
    li a0, 0x7fffffffffffffff
    sd a0, 0(s0)
    li a1, 0x0
    amominu.d a2, a1, (s0)
    li t0, 0x7fffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x0
    bne a3, t0, fail

    li gp, 136                     # amominu.d.aq: memory 0x1, rs2 0xfffffffffffffffb
    li a0, 0x1
    sd a0, 0(s0)
    li a1, 0xfffffffffffffffb
    amominu.d.aq a2, a1, (s0)
    li t0, 0x1
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x1
    bne a3, t0, fail

    li gp, 137                     # amominu.d.rl: memory 0xffffffffffffffff, rs2 0x5
    li a0, 0xffffffffffffffff
    sd a0, 0(s0)
    li a1, 0x5
    amominu.d.rl a2, a1, (s0)
    li t0, 0xffffffffffffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x5
    bne a3, t0, fail

    li gp, 138                     # amominu.d.aqrl: memory 0xffffffff80000000, rs2 0x80000000
    li a0, 0xffffffff80000000
    sd a0, 0(s0)
    li a1, 0x80000000
    amominu.d.aqrl a2, a1, (s0)
    li t0, 0xffffffff80000000
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x80000000
    bne a3, t0, fail

    li gp, 139                     # amomaxu.w: memory 0x123456789abcdef0, rs2 0x7fffffffffffffff
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0x7fffffffffffffff
    amomaxu.w a2, a1, (s0)
    li t0, 0xffffffff9abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x12345678ffffffff
    bne a3, t0, fail

    li gp, 140                     # amomaxu.w.aq: memory 0x5, rs2 0x5
    li a0, 0x5
    sd a0, 0(s0)
    li a1, 0x5
    amomaxu.w.aq a2, a1, (s0)
    li t0, 0x5
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x5
    bne a3, t0, fail

    li gp, 141                     # amomaxu.w.rl: memory 0xfffffffffffffffb, rs2 0x80000000
    li a0, 0xfffffffffffffffb
    sd a0, 0(s0)
    li a1, 0x80000000
    amomaxu.w.rl a2, a1, (s0)
    li t0, 0xfffffffffffffffb
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfffffffffffffffb
    bne a3, t0, fail

    li gp, 142                     # amomaxu.w.aqrl: memory 0x0, rs2 0x123456789abcdef0
    li a0, 0x0
    sd a0, 0(s0)
    li a1, 0x123456789abcdef0
    amomaxu.w.aqrl a2, a1, (s0)
    li t0, 0x0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x9abcdef0
    bne a3, t0, fail

    li gp, 143                     # amomaxu.d: memory 0x7fffffff, rs2 0x0
    li a0, 0x7fffffff
    sd a0, 0(s0)
    li a1, 0x0
    amomaxu.d a2, a1, (s0)
    li t0, 0x7fffffff
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0x7fffffff
    bne a3, t0, fail

    li gp, 144                     # amomaxu.d.aq: memory 0x123456789abcdef0, rs2 0xffffffff80000000
    li a0, 0x123456789abcdef0
    sd a0, 0(s0)
    li a1, 0xffffffff80000000
    amomaxu.d.aq a2, a1, (s0)
    li t0, 0x123456789abcdef0
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xffffffff80000000
    bne a3, t0, fail

    li gp, 145                     # amomaxu.d.rl: memory 0xfedcba9876543210, rs2 0xfedcba9876543210
    li a0, 0xfedcba9876543210
    sd a0, 0(s0)
    li a1, 0xfedcba9876543210
    amomaxu.d.rl a2, a1, (s0)
    li t0, 0xfedcba9876543210
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfedcba9876543210
    bne a3, t0, fail

    li gp, 146                     # amomaxu.d.aqrl: memory 0xfedcba9876543210, rs2 0xfedcba9876543210
    li a0, 0xfedcba9876543210
    sd a0, 0(s0)
    li a1, 0xfedcba9876543210
    amomaxu.d.aqrl a2, a1, (s0)
    li t0, 0xfedcba9876543210
    bne a2, t0, fail
    ld a3, 0(s0)
    li t0, 0xfedcba9876543210
    bne a3, t0, fail

    # ---- C ------------------------------------------------------------------------------
    la sp, cdata                  # cdata: dwords 0x1111111111111111 * i for i = 1..4
    li gp, 147                     # c.addi4spn: rd' = sp + imm
    c.addi4spn s0, sp, 16
    addi t0, sp, 16
    bne s0, t0, fail

    li gp, 148                     # c.lw sign-extends; c.ld
    la s1, cdata
    li a0, 0x80000000
    sw a0, 32(s1)
    c.lw a2, 32(s1)
    li t0, 0xFFFFFFFF80000000
    bne a2, t0, fail
    c.ld a3, 8(s1)
    li t0, 0x2222222222222222
    bne a3, t0, fail

    li gp, 149                     # c.sw, c.sd
    li a4, 0x0123456789ABCDEF
    c.sd a4, 40(s1)
    ld a2, 40(s1)
    bne a2, a4, fail
    li a5, 0x76543210
    c.sw a5, 44(s1)
    ld a2, 40(s1)
    li t0, 0x7654321089ABCDEF
    bne a2, t0, fail

    li gp, 150                     # c.li, c.nop, c.addi, c.addiw
    c.li a0, -32
    c.nop
    c.addi a0, 31
    li t0, -1
    bne a0, t0, fail
    li a1, 0x7FFFFFFF
    c.addiw a1, 1
    li t0, 0xFFFFFFFF80000000
    bne a1, t0, fail

    li gp, 151                     # c.addi16sp
    mv a0, sp
    c.addi16sp sp, -512
    addi t0, a0, -512
    bne sp, t0, fail
    c.addi16sp sp, 496
    addi t0, a0, -16
    bne sp, t0, fail
    mv sp, a0

    li gp, 152                     # c.lui sign-extends
    c.lui a0, 0xfffe1
    li t0, 0xFFFFFFFFFFFE1000
    bne a0, t0, fail
    c.lui a1, 0x1f
    li t0, 0x1F000
    bne a1, t0, fail

    li gp, 153                     # c.srli, c.srai, c.andi
    li s0, 0x8000000000000010
    mv s1, s0
    c.srli s0, 4
    li t0, 0x0800000000000001
    bne s0, t0, fail
    c.srai s1, 63
    li t0, -1
    bne s1, t0, fail
    c.andi s1, -16
    li t0, -16
    bne s1, t0, fail

    li gp, 154                     # c.sub 0xfffffff0, 0x7fffffff00000011 = 0x80000001ffffffdf
    li a4, 0xfffffff0
    li a5, 0x7fffffff00000011
    c.sub a4, a5
    li t0, 0x80000001ffffffdf
    bne a4, t0, fail

    li gp, 155                     # c.xor 0xf0f0f0f00f0f0f0f, 0xff00ff00ff00ff00 = 0xff00ff0f00ff00f
    li a4, 0xf0f0f0f00f0f0f0f
    li a5, 0xff00ff00ff00ff00
    c.xor a4, a5
    li t0, 0xff00ff0f00ff00f
    bne a4, t0, fail

    li gp, 156                     # c.or 0xf0f0f0f00f0f0f0f, 0xff00ff00ff00ff00 = 0xfff0fff0ff0fff0f
    li a4, 0xf0f0f0f00f0f0f0f
    li a5, 0xff00ff00ff00ff00
    c.or a4, a5
    li t0, 0xfff0fff0ff0fff0f
    bne a4, t0, fail

    li gp, 157                     # c.and 0xf0f0f0f00f0f0f0f, 0xff00ff00ff00ff00 = 0xf000f0000f000f00
    li a4, 0xf0f0f0f00f0f0f0f
    li a5, 0xff00ff00ff00ff00
    c.and a4, a5
    li t0, 0xf000f0000f000f00
    bne a4, t0, fail

    li gp, 158                     # c.subw 0xfffffff0, 0x7fffffff00000011 = 0xffffffffffffffdf
    li a4, 0xfffffff0
    li a5, 0x7fffffff00000011
    c.subw a4, a5
    li t0, 0xffffffffffffffdf
    bne a4, t0, fail

    li gp, 159                     # c.addw 0xfffffff0, 0x7fffffff00000011 = 0x1
    li a4, 0xfffffff0
    li a5, 0x7fffffff00000011
    c.addw a4, a5
    li t0, 0x1
    bne a4, t0, fail

    li gp, 160                     # c.j
    c.j 1f
    j fail
1:
    li gp, 161                     # c.beqz: taken on 0, not taken otherwise
    li s0, 1
    c.beqz s0, 2f
    li s0, 0
    c.beqz s0, 1f
2:  j fail
1:
    li gp, 162                     # c.bnez: taken on non-zero, not taken on 0
    li s0, 0
    c.bnez s0, 2f
    li s0, -1
    c.bnez s0, 1f
2:  j fail
1:
    li gp, 163                     # c.slli
    li a0, 3
    c.slli a0, 62
    li t0, 0xC000000000000000
    bne a0, t0, fail

    li gp, 164                     # c.lwsp, c.ldsp
    c.lwsp a0, 16(sp)
    li t0, 0x33333333
    bne a0, t0, fail
    c.ldsp a1, 24(sp)
    li t0, 0x4444444444444444
    bne a1, t0, fail

    li gp, 165                     # c.swsp, c.sdsp
    li a0, -2
    c.sdsp a0, 48(sp)
    li a1, 0x13579BDF
    c.swsp a1, 48(sp)
    ld a2, 48(sp)
    li t0, 0xFFFFFFFF13579BDF
    bne a2, t0, fail

    li gp, 166                     # c.mv, c.add
    li a1, 40
    c.mv a0, a1
    c.add a0, a1
    li t0, 80
    bne a0, t0, fail

    li gp, 167                     # c.jr
    la a0, 1f
    c.jr a0
    j fail
1:
    li gp, 168                     # c.jalr links pc + 2
    la a0, 2f
    c.jalr a0
1:  j fail
2:  la t0, 1b
    bne ra, t0, fail

    # ---- Zicsr (on mscratch) ---------------------------------------------------------
    li gp, 169                     # csrrw swaps
    li a0, 0x1234
    csrrw zero, mscratch, a0
    li a1, 0xF0
    csrrw a2, mscratch, a1
    li t0, 0x1234
    bne a2, t0, fail

    li gp, 170                     # csrrs sets bits, returns the old value
    li a1, 0x0F
    csrrs a2, mscratch, a1
    li t0, 0xF0
    bne a2, t0, fail
    csrr a2, mscratch
    li t0, 0xFF
    bne a2, t0, fail

    li gp, 171                     # csrrc clears bits
    li a1, 0x3C
    csrrc a2, mscratch, a1
    csrr a2, mscratch
    li t0, 0xC3
    bne a2, t0, fail

    li gp, 172                     # csrrwi, csrrsi, csrrci
    csrrwi a2, mscratch, 21
    li t0, 0xC3
    bne a2, t0, fail
    csrrsi a2, mscratch, 10
    li t0, 21
    bne a2, t0, fail
    csrrci a2, mscratch, 3
    li t0, 31
    bne a2, t0, fail
    csrr a2, mscratch
    li t0, 28
    bne a2, t0, fail

    # ---- Zifencei --------------------------------------------------------------------
    li gp, 173                     # fence.i after rewriting an instruction: the new one runs
    la a0, 1f
    li a1, 0x00200613             # addi a2, zero, 2
    sw a1, 0(a0)
    fence.i
1:  addi a2, zero, 1
    li t0, 2
    bne a2, t0, fail

    # ---- traps on purpose and the privileged instructions ------------------------
    la t0, trap_handler
    csrw mtvec, t0
    li gp, 174                     # ecall from M: cause 11
    li s10, -1
    ecall
    li t0, 11
    bne s10, t0, fail

    li gp, 175                     # ebreak: cause 3, mtval = its address
    li s10, -1
1:  ebreak
    li t0, 3
    bne s10, t0, fail
    la t0, 1b
    bne s11, t0, fail

    li gp, 176                     # c.ebreak: cause 3, mtval = its address
    li s10, -1
1:  c.ebreak
    li t0, 3
    bne s10, t0, fail
    la t0, 1b
    bne s11, t0, fail

    li gp, 177                     # c.unimp: illegal instruction (cause 2), mtval 0 (the parcel)
    li s10, -1
    li s11, -1
    c.unimp
    li t0, 2
    bne s10, t0, fail
    bnez s11, fail

    li gp, 178                     # mret goes to mepc in mstatus.MPP's mode
    la t0, 1f
    csrw mepc, t0
    li t0, MPP_M
    csrs mstatus, t0
    mret
    j fail
1:
    li gp, 179                     # sret from M to S (SPP = S): an ecall there is cause 9
    la t0, 1f
    csrw sepc, t0
    li t0, SPP_S
    csrs mstatus, t0
    li s10, -1
    sret
    j fail
1:  ecall                         # back to M, after the ecall
    li t0, 9
    bne s10, t0, fail

    li gp, 180                     # sret to U (SPP = U): an ecall there is cause 8
    la t0, 1f
    csrw sepc, t0
    li t0, SPP_S
    csrc mstatus, t0
    li s10, -1
    sret
    j fail
1:  ecall
    li t0, 8
    bne s10, t0, fail

    li gp, 181                     # sfence.vma: after it, a mapping removed from the page table is gone
    la s0, root
    li t0, GIGA_RWX
    sd t0, 16(s0)                 # root[2]: RAM at itself
    sd t0, 8(s0)                  # root[1]: RAM again at ALIAS
    srli t0, s0, 12
    li t1, SATP_SV39
    or t0, t0, t1
    csrw satp, t0
    la t0, 1f
    csrw sepc, t0
    li t0, SPP_S
    csrs mstatus, t0
    sret
    j fail
1:  la a0, ldata                  # in S mode, translated: read ldata through the alias
    li t0, 0x80000000 - ALIAS
    sub a0, a0, t0
    ld a1, 0(a0)
    li t0, 0x8081828384858687
    bne a1, t0, fail
    sd zero, 8(s0)                # unmap the alias; the TLB may still hold it
    sfence.vma zero, zero         # until this
    li s10, -1
    ld a1, 0(a0)                  # load page fault (13), skipped by the handler
    li t0, 13
    bne s10, t0, fail
    ecall                         # back to M
    csrw satp, zero

    li gp, 182                     # wfi with an enabled interrupt pending (not taken in M with MIE = 0) just retires
    li t0, MIE_MPIE               # the mret above may have set MIE
    csrc mstatus, t0
    li t0, SSIP
    csrs mie, t0
    csrs mip, t0
    wfi
    csrr a0, mip
    csrc mip, t0
    csrc mie, t0
    andi a0, a0, SSIP
    beqz a0, fail
    la t0, unexpected_trap
    csrw mtvec, t0
    j pass

# Its own handler, not one of trap_handler.inc's: it takes an ecall from M as a trap to
# record (check 174) while any ecall from S or U returns to M with no a7 = 0x4d4d (checks
# 179-181), and it records into s10/s11, the scratch registers of those handlers.
    .align 2
trap_handler:                     # s10 = mcause, s11 = mtval; resume after the instruction
    csrr s10, mcause
    csrr s11, mtval
    csrr t5, mepc
    lhu t6, 0(t5)
    andi t6, t6, 3
    addi t5, t5, 2
    li t4, 3
    bne t6, t4, 1f                # a 4-byte instruction: 2 more
    addi t5, t5, 2
1:  csrw mepc, t5
    addi t4, s10, -8              # ecall from U (8) or S (9): return to M
    li t6, 2
    bgeu t4, t6, 2f
    li t4, MPP_M
    csrs mstatus, t4
2:  mret

    .data
    .align 3
ldata:  .dword 0x8081828384858687
sdata:  .dword 0, 0
adata:  .dword 0
cdata:  .dword 0x1111111111111111, 0x2222222222222222, 0x3333333333333333
        .dword 0x4444444444444444, 0, 0, 0, 0
    .align 12
root:   .zero 4096
