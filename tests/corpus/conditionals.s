# Conditional assembly, compared byte for byte (and symbol for symbol) with GNU as + ld
# by tests/test_asm_gas_corpus.py. Every block that should be skipped holds something
# that would be an error or would change the bytes if it were not.
        .option norvc
        .equ    LEVEL, 2
        .set    DEBUG, 0
        .globl  _start
_start:

# .if and the comparisons of .ifeq ... .iflt (against zero), with .elseif and .else
        .if     LEVEL
        addi    a0, a0, 1
        .else
        bogus   instruction
        .endif
        .if     LEVEL == 3
        addi    a0, a0, 2
        .elseif LEVEL == 2
        addi    a0, a0, 3
        .elseif LEVEL > 1               # a block was taken: never evaluated, never taken
        addi    a0, a0, 4
        .else
        addi    a0, a0, 5
        .endif
        .ifeq   DEBUG
        addi    a1, a1, 1
        .endif
        .ifne   DEBUG
        addi    a1, a1, 2
        .endif
        .ifge   LEVEL - 2
        addi    a1, a1, 3
        .endif
        .ifgt   LEVEL - 2
        addi    a1, a1, 4
        .endif
        .ifle   -1
        addi    a1, a1, 5
        .endif
        .iflt   0
        addi    a1, a1, 6
        .endif
        .if     (LEVEL << 4) / 3 != 10 || !DEBUG && ~0
        addi    a1, a1, 7
        .endif
        .IF     1                       # directive names ignore case
        addi    a1, a1, 8
        .ENDIF

# GNU as's operator ranks and signed 64-bit values, as a condition sees them
        .dword  1 < 2 + 3, 1 <= 3 - 2, 1 || 0 && 0, 1 | 1 + 1, 8 / 2 << 1, 1 == 1 == 1
        .dword  0xffffffffffffffff < 0, 0xffffffffffffffff / 2, !~0xffffffffffffffff
        .dword  -0xffffffffffffffff, 3 > 2 > 1, 1 & 3 == 1, 1 ! 1 + 1
        .iflt   0xffffffffffffffff
        addi    a1, a1, 9
        .endif

# nesting: a skipped block skips the conditionals inside it, which are not evaluated
        .if     LEVEL >= 1
          .if   DEBUG
          addi  a2, a2, 1
          .elseif 1
            .ifdef LEVEL
            addi a2, a2, 2
            .else
            addi a2, a2, 3
            .endif
          .endif
        .else
          .if   undefined_symbol / 0
          addi  a2, a2, 4
          .else
          addi  a2, a2, 5
          .endif
        .endif

# a skipped block does not execute .macro, .rept, .include, .equ or labels
        .if     0
        .macro  never
        .endm
        .rept   4
        .endr
        .include "no such file.inc"
        .equ    LEVEL, 99
skipped_label:
        .endif
        .ifndef skipped_label
        addi    a3, a3, LEVEL
        .endif
        .ifdef  never
        addi    a3, a3, 1               # a macro is not a symbol
        .endif

# .ifdef sees labels and symbols defined so far, not those still ahead
        j       ahead
        .ifdef  ahead
        addi    a4, a4, 1
        .endif
        .ifdef  _start
        addi    a4, a4, 2
        .endif
        .ifnotdef DEBUG
        addi    a4, a4, 3
        .endif
        .equ    LATE, 1
        .ifdef  LATE
        addi    a4, a4, 4
        .endif
ahead:  .ifdef  ahead                   # a label in front is defined first
        addi    a4, a4, 5
        .endif

# statements on one line; a label in front of a directive in a skipped block skips it
        .if 0; addi a5, a5, 1; .else; addi a5, a5, 2; .endif
        .if     0
not_me: .endif
        addi    a5, a5, 3
        .endif

# macros: .ifb/.ifnb on arguments, .ifc/.ifnc on their text
        .macro  load reg, value, base
        .ifb    \value
        mv      \reg, zero
        .elseif \value < 2048 && \value >= -2048
        .ifnb   \base
        addi    \reg, \base, \value
        .else
        li      \reg, \value
        .endif
        .else
        li      \reg, \value
        .endif
        .endm
        load    t0
        load    t1, 100
        load    t2, 100, sp
        load    t3, 0x12345
        load    t4, -5 + 3, a0

        .macro  move dst, src
        .ifc    \dst, \src
        .exitm                          # nothing to move
        .endif
        .ifnc   \src,zero
        mv      \dst, \src
        .else
        li      \dst, 0
        .endif
        .endm
        move    a0, a0
        move    a0, a1
        move    a2, zero
        move    a3, "a3"                # quotes go with the argument

        .macro  cmp_text a, b
        .ifc    \a,\b
        .byte   1
        .else
        .byte   0
        .endif
        .endm
        .pushsection .data
texts:  cmp_text x+1, x + 1             # blanks next to an operator go
        cmp_text "x  y", "x y"          # quotes go with the argument, and the extra blank
        cmp_text (a), ( a )
        cmp_text "(a )", "(a)"
        cmp_text A, a                   # case matters
        cmp_text , ""
        .popsection

# a recursive macro, ended by .if
        .macro  countdown n
        .if     \n
        .word   \n
        countdown \n - 1
        .endif
        .endm
        countdown 5

# .if in .rept and .irp bodies; .exitm leaves only the .rept it is in
        .rept   3
        .ifeq   LEVEL - 2
        addi    a6, a6, 1
        .endif
        .endr
        .irp    r, a0, sp, a1
        .ifnc   \r, sp
        addi    \r, \r, 1
        .endif
        .endr
        .macro  first_only
        .rept   3
        addi    a7, a7, 1
        .exitm
        .endr
        addi    a7, a7, 2
        .endm
        first_only
        .macro  until_exit n
        .if     \n > 1
        addi    a7, a7, 3
        .exitm
        .endif
        addi    a7, a7, 4
        .endm
        until_exit 2
        until_exit 1

# .equ symbols set under conditions, and tested by later ones
        .set    count, 0
        .irp    v, 1, 2, 3, 4, 5, 6
        .if     \v % 2
        .set    count, count + \v
        .endif
        .endr
        .if     count == 9
        .word   count
        .endif

# a conditional opened outside a macro may end inside it, as in GNU as
        .macro  close_it
        .else
        addi    s0, s0, 2
        .endif
        .endm
        .if     1
        addi    s0, s0, 1
        close_it
        .if     0
        close_it                        # in a skipped block the invocation is skipped too
        .endif
        ret
