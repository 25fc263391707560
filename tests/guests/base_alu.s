# RV64I arithmetic and logic, with edge values; the check number is in gp.

    .include "prelude.s"

main:
    li gp, 1
    li a0, -1
    addi a0, a0, 1
    bnez a0, fail

    li gp, 2                      # addiw wraps to 32 bits and sign-extends
    li a0, 0x7fffffff
    addiw a0, a0, 1
    li a1, -0x80000000
    bne a0, a1, fail

    li gp, 3                      # sra vs srl on a negative number
    li a0, -16
    srai a1, a0, 2
    li a2, -4
    bne a1, a2, fail
    srli a1, a0, 60
    li a2, 15
    bne a1, a2, fail

    li gp, 4                      # sltu against -1 (the largest unsigned)
    li a0, 5
    li a1, -1
    sltu a2, a0, a1
    li a3, 1
    bne a2, a3, fail
    slt a2, a0, a1
    bnez a2, fail

    li gp, 5                      # sllw/srlw/sraw use 5-bit shift amounts
    li a0, 1
    li a1, 33
    sllw a2, a0, a1
    li a3, 2
    bne a2, a3, fail
    li a0, -1
    srlw a2, a0, a1               # 0xffffffff >> 1 = 0x7fffffff
    li a3, 0x7fffffff
    bne a2, a3, fail

    li gp, 6                      # lui/auipc
    lui a0, 0x80000               # sign-extended on RV64
    li a1, -0x80000000
    bne a0, a1, fail
1:  auipc a0, 0
    la a1, 1b
    bne a0, a1, fail

    li gp, 7                      # jal/jalr link values and jalr clears bit 0
    la a0, 2f
    addi a0, a0, 1
    jalr ra, 0(a0)
    j fail
2:  la a1, 2b
    bne ra, a1, 3f
    j fail
3:  j pass
