# kernel/mm_bench.s -- vk_bench kinds 4..6 (kernel/syscalls.s): the page-table-heavy
# benchmarks of `vkernel bench memory`. Both twins share this file: it changes page
# tables only through the macros of kernel/mmu.*.s (set_pte, mmu_sync, switch_space,
# tlb_flush_page, tlb_flush_space, next_table, user_access_on/off), so natively each change
# is a store and a fence, para-virtualized an mmu_update or mmuext_op hypercall -- the
# same work, which every technique then virtualizes its own way (shadow tables, direct
# paging, two-stage translation). s0 = the calling process, s1 = n (counts down).
#   kind 4 map-unmap  map a page at MM_VA in the caller's table, touch it through that
#                     user mapping, unmap it (Linux: mmap, the page fault, munmap)
#   kind 5 as-switch  load a second address space and the caller's again, touching a
#                     user page in each (a context switch between two processes)
#   kind 6 fork-copy  copy the caller's user mappings into a child's table, read-only
#                     (copy-on-write), load the child's space, touch a page there, load
#                     the caller's again, and flush the child's translations: fork()'s
#                     work on page tables, without the process
# Each call first builds what it needs -- a page, a second address space -- and its n
# operations reuse them: both pools are bump allocators, which n operations must not drain.

        .equ  MM_VA,       0x50000000       # map-unmap's page: in root[1] (1..2 GiB), away
                                            # from the program, the heap and the stack
        .equ  MM_ASID,     NPROC + 1        # the second space's ASID natively (its "pid"):
                                            # no process has it
        .equ  COW_FLAGS,   0x3ff & ~(PTE_W | PTE_D)  # what a child's copy of a PTE keeps

# vk_bench kind 4: n times map, touch, unmap the same page at MM_VA
bench_map_unmap:
        call  ualloc                    # the page (the same one every time)
        mv    s2, a0
        la    a0, msg_mm_no_memory
        beqz  s2, panic
        li    s3, MM_VA
1:      beqz  s1, bench_done
        ld    a0, P_ROOT(s0)            # map: find the PTE (its tables are made the first
        mv    a1, s3                    # time) ...
        li    a2, 1
        call  walk
        mv    s4, a0
        mv    a1, s2                    # ... and fill it
        li    a2, USER_RW
        call  set_pte
        mmu_sync
        tlb_flush_page s3               # as the page-fault handler does (kernel/traps.s)
        user_access_on                  # touch: a load and a store through the user
        ld    t1, 0(s3)                 # mapping (the page counts the operations)
        addi  t1, t1, 1
        sd    t1, 0(s3)
        user_access_off
        mv    a0, s4                    # unmap: the PTE without V (the MMU ignores the
        mv    a1, s2                    # rest of an invalid entry) ...
        li    a2, 0
        call  set_pte
        mmu_sync
        tlb_flush_page s3               # ... and no translation of it left
        addi  s1, s1, -1
        j     1b

# vk_bench kind 5: n times load the second address space, touch its page, load ours,
# touch ours. Each space has its own ASID: natively no switch flushes the TLB.
bench_as_switch:
        mv    s2, s0                    # s2 = the caller
        la    s0, mm_space              # s3 = the second space: its own page at USER_VA,
        mv    s3, s0                    # where the caller has its program
        call  mm_space_create
        mv    s4, a0
        call  ualloc
        mv    a2, a0
        la    a0, msg_mm_no_memory
        beqz  a2, panic
        mv    a0, s4
        li    a1, USER_VA
        li    a3, USER_RW
        call  map_page
        mmu_sync
        tlb_flush_space                 # (s0 = the second space: its ASID natively)
        li    s4, USER_VA
1:      beqz  s1, 2f
        mv    s0, s3                    # the second space: a store to its page
        switch_space
        user_access_on
        ld    t1, 0(s4)
        addi  t1, t1, 1
        sd    t1, 0(s4)
        user_access_off
        mv    s0, s2                    # ours: a load of the program's first word
        switch_space
        user_access_on
        ld    t1, 0(s4)
        user_access_off
        addi  s1, s1, -1
        j     1b
2:      mv    s0, s2                    # (ours is loaded, as space_owner says)
        j     bench_done

# vk_bench kind 6: n forks without the process. The child's table is made once and
# filled again each time.
bench_fork_copy:
        mv    s2, s0                    # s2 = the parent (the caller)
        la    s0, mm_space              # s3 = the child
        mv    s3, s0
        call  mm_space_create
        mv    s0, s2
1:      beqz  s1, bench_done
        ld    a0, P_ROOT(s2)            # copy: the program's pages ...
        ld    a1, P_ROOT(s3)
        li    a2, USER_VA
        ld    a3, P_IMGEND(s2)
        call  copy_mappings
        ld    a0, P_ROOT(s2)            # ... and the stack's
        ld    a1, P_ROOT(s3)
        li    a2, STACK_BOTTOM
        li    a3, STACK_TOP
        call  copy_mappings
        mmu_sync
        mv    s0, s3                    # the child runs: a load of its first word
        switch_space
        li    s4, USER_VA
        user_access_on
        ld    t1, 0(s4)
        user_access_off
        mv    s0, s2                    # the parent again
        switch_space
        mv    s0, s3                    # the child is gone: its translations with it
        tlb_flush_space
        mv    s0, s2
        addi  s1, s1, -1
        j     1b

# copy_mappings(a0 = parent's root, a1 = child's root, a2 = first va, a3 = end va): every
# page the parent maps in [a2, a3) the child maps too, at the same address, read-only:
# copy-on-write, where the first store by either would fault and copy the page. (A real
# fork write-protects the parent's PTEs too; the parent here goes on writing its stack.)
# Para-virtualized the child's PTEs are only queued: the caller sends them (mmu_sync).
copy_mappings:
        addi  sp, sp, -64
        sd    ra, 56(sp)
        sd    s0, 48(sp)
        sd    s1, 40(sp)
        sd    s2, 32(sp)
        sd    s3, 24(sp)
        sd    s4, 16(sp)
        sd    s5, 8(sp)
        mv    s1, a0
        mv    s2, a1
        mv    s3, a2
        mv    s4, a3
1:      bgeu  s3, s4, 3f
        mv    a0, s1                    # the parent's PTE, if it has one
        mv    a1, s3
        li    a2, 0
        call  walk
        beqz  a0, 2f
        ld    t1, 0(a0)
        andi  t0, t1, PTE_V
        beqz  t0, 2f
        andi  s5, t1, COW_FLAGS         # its flags without W and D
        next_table                      # s0 = the page it maps (next_table reads any PTE's
                                        # frame: PV, a machine frame, through the m2p)
        mv    a0, s2                    # the child's PTE (tables made the first time)
        mv    a1, s3
        li    a2, 1
        call  walk
        mv    a1, s0
        mv    a2, s5
        call  set_pte
2:      li    t0, PAGE
        add   s3, s3, t0
        j     1b
3:      ld    ra, 56(sp)
        ld    s0, 48(sp)
        ld    s1, 40(sp)
        ld    s2, 32(sp)
        ld    s3, 24(sp)
        ld    s4, 16(sp)
        ld    s5, 8(sp)
        addi  sp, sp, 64
        ret

# mm_space_create(s0 = mm_space) -> a0 = the root its user pages go in: an address space
# made as a process's is (as_create, kernel/mmu.*.s: natively a copy of the kernel's
# root; para-virtualized two roots, pinned), with no process in it.
mm_space_create:
        li    t0, MM_ASID
        sd    t0, P_PID(s0)
        j     as_create                 # tail call

        .section .rodata
msg_mm_no_memory:   .asciz "vk_bench: out of user memory"
        .bss
        .balign 8
mm_space:     .zero P_SIZE              # the second address space, or the child's: a
                                        # process slot with only an address space
        .text
