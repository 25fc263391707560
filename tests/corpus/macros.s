# Macros, .rept, .irp and .irpc, compared byte for byte with GNU as + ld by
# tests/test_asm_gas_corpus.py.
        .option rvc
        .equ    NREGS, 3
        .equ    FRAME, (NREGS + 1) * 8

# arguments with defaults, \() as a separator, \@ for labels unique to each expansion
        .macro  save reg, slot=0, base=sp
        sd      \reg, \slot*8(\base)
save_\reg\()_\@:
        .endm

        .macro  restore reg slot=0 base=sp      # blanks separate parameters too
        ld      \reg, \slot*8(\base)
        .endm

# a loop per expansion: \@ labels and numeric local labels inside the body
        .macro  delay count:req, tmp=t0
        li      \tmp, \count
loop\@: addi    \tmp, \tmp, -1
        bnez    \tmp, loop\@
1:      addi    \tmp, \tmp, 1
        beqz    \tmp, 1b
        .endm

# .exitm ends the expansion; a :vararg parameter takes the rest, commas and all
        .macro  words first
        .word   0xbad
        .endm
        .purgem words                   # and define it anew
        .macro  words first, rest:vararg
        .word   \first
        .word   \rest
        .exitm
        .word   0xdead
        .endm

# a macro defining a macro (the outer argument is substituted into the inner body)
        .macro  make_adder name, amount
        .macro  \name reg
        addi    \reg, \reg, \amount
        .endm
        .endm
        make_adder add_five, 5
        make_adder add_ten 10

# a macro invoking macros, with arguments passed on
        .macro  prologue
        addi    sp, sp, -FRAME
        .irp    r, ra, s0, s1
        save    \r, NREGS - 1
        .endr
        .endm

        .text
        .globl  _start
_start:
        prologue
        save    a0                   # defaults: slot 0, base sp
        save    a1, 1
        save    a2, base=s0          # by name
        save    slot=2, reg=a3
        SAVE    a4 2 s1              # macro names ignore case; blanks separate arguments
        save    a5, 1 + 1, sp        # "1 + 1" is one argument
        restore s0, NREGS - 1
        delay   10
        delay   count=3, tmp=t1
        add_five a0
        add_ten  a1
        .rept   NREGS
        nop
        .endr
        .rept   2
        .irp    reg, t2, t3
        .irpc   n, 12
        addi    \reg, \reg, \n
        .endr
        .endr
        .endr
        .rept   0
        ebreak
        .endr
        .irp    off, 0 8, 16
        sd      zero, \off(sp)
        .endr
        .irp    x
        .word   1\x
        .endr
        .irp    r, a0, a1               # \@ in an .irp body: the count so far, unchanged
irp_\r\()_\@:
        mv      \r, zero
        .endr
        .macro  mask reg, bits
        andi    \reg, \reg, (1 << &bits&) - 1  # &name& is replaced too
        ori     \reg, \reg, \(0x)10           # \(text) is the text
        .endm
        mask    a2, 4
        .rept   2                       # a macro invoked from a .rept: two expansions
        mask    a3, 3
        .endr
        j       2f
2:      ret

        .data
        .irpc   c, hello
        .byte   '\c'                   # as gas: a character constant is not substituted
        .endr
        .irpc   d, "4 2"                # blanks count inside quotes only
        .byte   \d\()0 + 1
        .endr
        .macro  string text, terminator=0
        .ascii  "\text"
        .byte   \terminator
        .endm
        string  "a, b and c"
        string  "no terminator", 0x2e
        .balign 8
table:  words   1, 2, 3, 4
        words   0x55
