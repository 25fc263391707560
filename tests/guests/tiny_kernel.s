# A tiny S-mode kernel and one user program: system calls, timer interrupts and demand
# paging, with the kernel counting every trap it handles. The trace tests compare the
# trace's counts with these counters (and with the machine's); as a self-checking guest it
# passes when the counts are what the user program asked for.
#
# M-mode (here) builds the page tables, delegates U's ecalls, page faults and the S timer
# to S, and drops to S at k_entry. The kernel arms the Sstc timer and enters the user
# program in U. Memory while translating (satp = root):
#   root[2]  VA 0x8000_0000.. -> RAM, a 1 GiB identity page (RWX, not U): the kernel
#   root[0] -> l1 -> l0      VA 0x0040_0000: the user code page (RX, U)
#                            VA 0x0040_1000.. : user data pages, mapped on first touch

    .include "prelude.s"

    .equ SATP_SV39,  8 << 60
    .equ F_PTR,      0x01
    .equ F_RWX,      0xCF                # V R W X A D
    .equ F_URX,      0x5B                # V R X U A
    .equ F_URW,      0xD7                # V R W U A D
    .equ USER_VA,    0x400000
    .equ DATA_VA,    0x401000
    .equ PAGES,      4                   # data pages the user program touches
    .equ SYSCALLS,   5                   # "count" system calls it makes
    .equ SYS_COUNT,  1
    .equ SYS_EXIT,   2
    .equ TICK,       40                  # timer period in ticks (10 instructions each)

main:
    li gp, 1
    # root[2]: the kernel's gigapage; root[0] -> l1; l1[2] (VA 0x40_0000) -> l0
    la t0, root
    li t1, (0x80000000 >> 12) << 10 | F_RWX
    sd t1, 16(t0)
    la t1, l1
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, F_PTR
    sd t1, 0(t0)
    la t0, l1
    la t1, l0
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, F_PTR
    sd t1, 16(t0)
    # l0[0]: the user code page
    la t0, l0
    la t1, user
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, F_URX
    sd t1, 0(t0)
    # U's ecall (8) and page faults (12, 13, 15) go to S; so does the S timer (5)
    li t0, (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
    csrw medeleg, t0
    li t0, 1 << 5
    csrw mideleg, t0
    li t0, 1 << 63                # menvcfg.STCE: S has its own timer compare (Sstc)
    csrw menvcfg, t0
    li t0, 2                      # mcounteren.TM: S may read time and write stimecmp
    csrw mcounteren, t0
    la t0, k_trap
    csrw stvec, t0
    la t0, root
    srli t0, t0, 12
    li t1, SATP_SV39
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    li t0, 3 << 11                # mstatus.MPP = S
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, k_entry
    csrw mepc, t0
    mret

# ---- the kernel (S-mode) ------------------------------------------------------------------
k_entry:
    li gp, 2
    li t0, 1 << 5                 # sie.STIE; sstatus.SIE stays 0: no interrupts in S itself
    csrw sie, t0
    csrr t0, time
    addi t0, t0, TICK
    csrw stimecmp, t0
    li t0, USER_VA
    csrw sepc, t0
    li t0, 1 << 8                 # sstatus.SPP = U
    csrc sstatus, t0
    sret

k_trap:
    csrr t0, scause
    bltz t0, k_interrupt
    li t1, 8
    beq t0, t1, k_syscall
    li t1, 13
    beq t0, t1, k_page_fault
    li t1, 15
    beq t0, t1, k_page_fault
    li gp, 3                      # anything else is a kernel bug
    j fail

k_interrupt:
    slli t0, t0, 1
    srli t0, t0, 1
    li t1, 5
    li gp, 4
    bne t0, t1, fail
    la t0, n_timer
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    csrr t0, time                 # the next tick (writing stimecmp clears the pending bit)
    addi t0, t0, TICK
    csrw stimecmp, t0
    sret

k_syscall:
    csrr t0, sepc                 # return past the ecall
    addi t0, t0, 4
    csrw sepc, t0
    li t1, SYS_EXIT
    beq a7, t1, k_exit
    li t1, SYS_COUNT
    li gp, 5
    bne a7, t1, fail
    la t0, n_syscall
    ld t1, 0(t0)
    addi t1, t1, 1
    sd t1, 0(t0)
    sret

k_page_fault:                     # map the page of stval to the next free frame
    la t0, n_fault
    ld t1, 0(t0)
    addi t2, t1, 1
    sd t2, 0(t0)
    li gp, 6
    li t2, PAGES
    bgeu t1, t2, fail             # more faults than pages: a mapping did not take
    csrr a0, stval
    srli a1, a0, 12               # l0 index of the page
    andi a1, a1, 0x1ff
    slli a1, a1, 3
    la t0, l0
    add t0, t0, a1
    la a2, frames                 # frame n_fault
    slli t1, t1, 12
    add a2, a2, t1
    srli a2, a2, 12
    slli a2, a2, 10
    ori a2, a2, F_URW
    sd a2, 0(t0)
    sfence.vma a0                 # the stale "invalid" translation must go
    sret

k_exit:                           # the user program is done: check the counts
    li gp, 7
    la t0, n_syscall
    ld t1, 0(t0)
    li t2, SYSCALLS
    bne t1, t2, fail
    li gp, 8
    la t0, n_fault
    ld t1, 0(t0)
    li t2, PAGES
    bne t1, t2, fail
    li gp, 9
    la t0, n_timer
    ld t1, 0(t0)
    beqz t1, fail
    li gp, 10                     # the user wrote 1..PAGES into its pages' first words
    la t0, frames
    li t1, 1
1:  ld t2, 0(t0)
    bne t1, t2, fail
    li t2, 4096
    add t0, t0, t2
    addi t1, t1, 1
    li t2, PAGES
    ble t1, t2, 1b
    j pass

# ---- the user program (U-mode, at VA 0x40_0000) ------------------------------------------
    .align 12
user:
    li s0, SYSCALLS
1:  li a7, SYS_COUNT
    ecall
    addi s0, s0, -1
    bnez s0, 1b
    li s0, 1                      # touch each data page: a page fault the first time
    li s1, DATA_VA
2:  sd s0, 0(s1)
    ld s2, 0(s1)                  # reads back through the new mapping
    li t0, 4096
    add s1, s1, t0
    addi s0, s0, 1
    li t0, PAGES
    ble s0, t0, 2b
    li s0, 1000                   # some work, long enough for a few timer ticks
3:  addi s0, s0, -1
    bnez s0, 3b
    li a7, SYS_EXIT
    ecall
4:  j 4b

    .data
    .align 3
n_syscall: .dword 0
n_fault:   .dword 0
n_timer:   .dword 0
    .align 12
root:   .zero 4096
l1:     .zero 4096
l0:     .zero 4096
frames: .zero 4096 * PAGES
