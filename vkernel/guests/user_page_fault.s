# user_page_fault.s -- the "page-fault" benchmark: touch BENCH_N fresh pages of the
# demand-paged heap at 0x4000_0000. Each first store takes a store page fault; the kernel
# maps a zeroed page and the store is retried (Adams & Agesen's "pagefault"). Each page
# is read back. Then "page-fault: <N> done" and exit(0). At most 1000 pages: the user
# pool has 1024, and the program and stack use some.

        .include "user_lib.s"           # the C library in miniature (before _start)

        .equ BENCH_N, 1000
        .equ HEAP_VA, 0x40000000
        .equ PAGE,    4096

        .globl _start
_start:
        li    s0, HEAP_VA
        li    s1, BENCH_N
1:      beqz  s1, 2f
        sd    s1, 0(s0)                 # the first touch: a store page fault
        ld    t0, 0(s0)                 # now it is just memory
        bne   t0, s1, 3f
        li    t0, PAGE
        add   s0, s0, t0
        addi  s1, s1, -1
        j     1b
2:      la    a0, msg_name
        li    a1, BENCH_N
        j     bench_done
3:      la    a0, msg_lost
        j     fail

        .section .rodata
msg_name: .asciz "page-fault"
msg_lost: .asciz "a heap page lost its contents"
