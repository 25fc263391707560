# Every directive, expression operator and relocation function the assembler supports,
# compared byte for byte with GNU as + ld by tests/test_asm_gas_corpus.py.
        .option norvc
        .equ    SIZE, 24
        .set    COUNT, 3
        answer = 42
        .equ    CONST_BIG, 0x7ff00000
        .section .text, "ax", @progbits
        .globl  _start
        .global helper
        .type   _start, @function
_start:
        lui     a0, %hi(0x12345fff)
        addi    a0, a0, %lo(0x12345fff)
        lui     a1, %hi(CONST_BIG)
        ld      a2, %lo(CONST_BIG)(a1)
1:      auipc   a3, %pcrel_hi(table)
        ld      a4, %pcrel_lo(1b)(a3)
        li      t0, (1 << 4 | 3) + 2 * 3       # GNU precedence: | binds tighter than +
        li      t1, 10 - 2 & 3
        li      t2, ~0x0f ^ 0xff
        li      t3, 'a' + '\n'
        li      t4, 010 + 0b101 + 0x10          # octal, binary, hex
        li      t5, -(7 % 3) * (100 / 7) >> 1
        li      t6, SIZE * 2
        li      s0, COUNT
        li      s1, answer
        .p2align 4, 0, 12
        nop
        .balign 8, 0xff
        .option push
        .option rvc
        addi    sp, sp, -16
        beqz    a0, 2f
        .align  3
        sd      ra, 8(sp)
2:      ld      ra, 8(sp)
        .option pop
        addi    sp, sp, 16
        call    helper
        tail    helper
helper: ret
        .size   _start, . - _start

        .section .rodata
        .align  3
table:  .dword  0x1122334455667788, table_end - table, -1
        .quad   _start
        .word   0xdeadbeef, -2
        .long   7
        .half   0xffff, -1
        .short  300
        .byte   1, 2, 'x', 0x7f, -128
        .ascii  "one", "two\t\"q\"\101\x42\\"
        .asciz  "zero-terminated"
        .string "also\0zero"
table_end:

        .data
        .set    COUNT, COUNT + 1                # redefined: uses below see 4
counts: .word   COUNT, SIZE, answer
        .zero   5
        .space  3, 0xaa
        .align  2
        .dword  counts_end - counts
counts_end:
        .section .tohost, "aw", @progbits
        .align  6
        .globl  tohost
tohost: .dword  0
        .bss
        .align  4
buffer: .zero   4096
