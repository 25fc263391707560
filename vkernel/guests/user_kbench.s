# user_kbench.s -- the in-kernel benchmarks: one vk_bench(BENCH_KIND, BENCH_N) system
# call, then "<name>: <N> done". The kernel does the N operations itself:
#   kind 0 call-return   call and return of an empty kernel function
#   kind 1 irq-mask      csrc sstatus, SIE / csrs sstatus, SIE
#   kind 2 device        a byte load of the UART's line status register
#   kind 3 pte-update    a rewrite of a kernel PTE and sfence.vma of its address
#   kind 4 map-unmap     map, touch and unmap a user page
#   kind 5 as-switch     a switch to a second address space and back
#   kind 6 fork-copy     a copy of the user mappings into a child's table, a switch there
#                        and back
# The Python builder substitutes BENCH_KIND (and BENCH_N).

        .include "user_lib.s"           # the C library in miniature (before _start)

        .equ BENCH_N,    1000
        .equ BENCH_KIND, 0

        .globl _start
_start:
        li    a0, BENCH_KIND
        li    a1, BENCH_N
        li    a7, SYS_VK_BENCH
        ecall
        mv    t0, a0
        la    a0, msg_failed
        bnez  t0, fail
        la    t0, names                 # the name of this kind
        li    t1, BENCH_KIND * 8
        add   t0, t0, t1
        ld    a0, 0(t0)
        li    a1, BENCH_N
        j     bench_done

        .section .rodata
        .balign 8
names:  .dword name_0, name_1, name_2, name_3, name_4, name_5, name_6
name_0: .asciz "call-return"
name_1: .asciz "irq-mask"
name_2: .asciz "device"
name_3: .asciz "pte-update"
name_4: .asciz "map-unmap"
name_5: .asciz "as-switch"
name_6: .asciz "fork-copy"
msg_failed: .asciz "vk_bench() failed"
