# kernel/memory.s -- the allocators and the page-table walk. What writing a PTE and
# following a table pointer take differs between the twins (set_pte, next_table,
# mmu_sync, zero_pt_page: kernel/mmu.*.s); the walk itself is the same.

# kalloc_pt() -> a0: a zeroed page from the page-table pool (panics when it is empty)
kalloc_pt:
        la    t0, kpool_next
        ld    a0, 0(t0)
        li    t1, KPOOL_END
        bgeu  a0, t1, 1f
        li    t1, PAGE
        add   t1, a0, t1
        sd    t1, 0(t0)
        zero_pt_page                    # and return it
1:      la    a0, msg_no_pt
        j     panic

# ualloc() -> a0: a zeroed page from the user pool, or 0 when it is empty (the pool ends
# at upool_end: the balloon, kernel/balloon.s, has the pages above)
ualloc:
        la    t0, upool_next
        ld    a0, 0(t0)
        ld    t1, upool_end             # (below UPOOL_END by the balloon: kernel/balloon.s)
        bgeu  a0, t1, 1f
        li    t1, PAGE
        add   t1, a0, t1
        sd    t1, 0(t0)
        j     zero_page
1:      li    a0, 0
        ret

# zero_page(a0 = page) -> a0 unchanged
zero_page:
        li    t0, PAGE
        add   t0, a0, t0
        mv    t1, a0
1:      sd    zero, 0(t1)
        sd    zero, 8(t1)
        sd    zero, 16(t1)
        sd    zero, 24(t1)
        addi  t1, t1, 32
        bltu  t1, t0, 1b
        ret

# copy_page(a0 = destination, a1 = source) -> a0 unchanged
copy_page:
        li    t0, PAGE
        add   t0, a0, t0
        mv    t1, a0
1:      ld    t2, 0(a1)
        sd    t2, 0(t1)
        addi  a1, a1, 8
        addi  t1, t1, 8
        bltu  t1, t0, 1b
        ret

# walk(a0 = root, a1 = va, a2 = allocate?) -> a0 = address of the level-0 PTE for va (0 if
# a table on the way is missing and a2 = 0), a1 = 1 if it had to allocate a table.
# Like the MMU: VPN[2] = va[38:30] indexes the root, VPN[1] = va[29:21] the level-1
# table, VPN[0] = va[20:12] the level-0 table. Only for addresses mapped with 4 KiB
# pages: a leaf (a PTE with R, W or X) on the way is a kernel bug. The tables are read
# with loads (para-virtualized they are mapped read-only, and their pointers hold machine
# frames: next_table turns one back into an address).
walk:
        addi  sp, sp, -64
        sd    ra, 56(sp)
        sd    s0, 48(sp)
        sd    s1, 40(sp)
        sd    s2, 32(sp)
        sd    s3, 24(sp)
        sd    s4, 16(sp)
        sd    s5, 8(sp)
        mv    s0, a0                    # the table at this level
        mv    s1, a1
        mv    s2, a2
        li    s3, 30                    # the shift of this level's VPN: 30, then 21
        li    s4, 0                     # allocated anything?
1:      srl   t0, s1, s3
        andi  t0, t0, 0x1ff
        slli  t0, t0, 3
        add   s5, s0, t0                # &table[VPN]
        ld    t1, 0(s5)
        andi  t2, t1, PTE_V
        bnez  t2, 2f
        li    a0, 0
        beqz  s2, 3f                    # missing, and we may not allocate
        call  kalloc_pt                 # a new, empty next-level table ...
        mv    a1, a0
        mv    a0, s5
        li    a2, PTE_V                 # ... hooked in: V alone, a pointer to the next level
        call  set_pte
        mmu_sync                        # now: the walk goes through it (PV: the hypervisor
        ld    t1, 0(s5)                 # checks the table, it is one now)
        li    s4, 1
2:      andi  t2, t1, PTE_R | PTE_W | PTE_X
        la    a0, msg_walk_leaf
        bnez  t2, panic
        next_table                      # s0 = the table the PTE points to
        addi  s3, s3, -9
        li    t0, 12
        bne   s3, t0, 1b
        srli  t0, s1, 12                # level 0: the entry itself
        andi  t0, t0, 0x1ff
        slli  t0, t0, 3
        add   a0, s0, t0
3:      mv    a1, s4
        ld    ra, 56(sp)
        ld    s0, 48(sp)
        ld    s1, 40(sp)
        ld    s2, 32(sp)
        ld    s3, 24(sp)
        ld    s4, 16(sp)
        ld    s5, 8(sp)
        addi  sp, sp, 64
        ret

# map_page(a0 = root, a1 = va, a2 = physical page, a3 = PTE flags): a 4 KiB mapping,
# creating tables as needed. Para-virtualized the mapping is only queued: the caller sends
# the batch (mmu_sync). The caller fences when the table is live.
map_page:
        addi  sp, sp, -32
        sd    ra, 24(sp)
        sd    s0, 16(sp)
        sd    s1, 8(sp)
        mv    s0, a2
        mv    s1, a3
        li    a2, 1
        call  walk
        mv    a1, s0
        mv    a2, s1
        call  set_pte
        ld    ra, 24(sp)
        ld    s0, 16(sp)
        ld    s1, 8(sp)
        addi  sp, sp, 32
        ret
