# kernel/balloon.s -- the balloon driver: memory the host asks back, and gives again.
#
# A hypervisor cannot take memory back from a running guest by itself: it does not know
# which pages the guest uses. So it asks the guest, and this driver answers (Waldspurger,
# VMware ESX, OSDI 2002; Xen's balloon driver). The host sets a *target*, the number of
# pages it wants us to have, and raises a virtual interrupt; balloon_work then compares
# the target with what we have and
#   * inflates: takes free pages from the top of the user pool (never handed out by
#     ualloc: upool_next..upool_end) and gives them to the host, whose frames behind them
#     go back to it; the pool's end moves down;
#   * deflates: asks the host to back the pages above the pool's end again, and gives
#     them back to the pool (its end moves up). The host may give fewer than asked (it
#     has no free frame, or the target is lower): we take what comes.
# The balloon is the range upool_end..UPOOL_END: always the top of the pool, so that a
# bump allocator can shrink and grow it, and a page given away is one nothing in this
# kernel points to. What differs between the twins (kernel/balloon.*.s): how to learn
# the target and our reservation, how to give and take (the SBI's balloon extension, or
# Xen's memory_op hypercall), which interrupt says "look at the target", and how to
# acknowledge it. A domain created with less memory than its maximum starts with its
# balloon inflated by the difference: balloon_init finds out at boot.
#
# Natively no layer below has a balloon: balloon_init leaves balloon_on 0 and the driver
# never runs (the native run is the same as without it).
        .equ  RAM_PAGES,   (RAM_END - RAM_BASE) / PAGE

# balloon_init(): before the first user page is handed out. Our reservation (pages the
# host backs) says how many of the top pages start ballooned out.
balloon_init:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        call  balloon_reservation       # a0 = pages we have, or -1: no balloon here
        bltz  a0, 1f
        li    t0, RAM_PAGES
        sub   t0, t0, a0                # the pages above them are holes from the start
        la    t1, balloon_pages
        sd    t0, 0(t1)
        slli  t0, t0, 12
        li    t1, UPOOL_END
        sub   t1, t1, t0
        la    t0, upool_end             # the pool ends below them
        sd    t1, 0(t0)
        la    t0, balloon_on
        li    t1, 1
        sd    t1, 0(t0)
        balloon_irq_on                  # the host's "look at the target" may come now
1:      ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

# balloon_work(): the host's interrupt came (acknowledged by the caller): move towards
# the target. Keeps s0 (the current process) and every s register.
balloon_work:
        addi  sp, sp, -32
        sd    ra, 24(sp)
        sd    s1, 16(sp)
        sd    s2, 8(sp)
        ld    t0, balloon_on
        beqz  t0, 9f
        call  balloon_target            # a0 = the pages the host wants us to have
        li    t0, RAM_PAGES
        ld    t1, balloon_pages
        sub   s1, t0, t1                # s1 = the pages we have
        bgtu  s1, a0, 1f
        bltu  s1, a0, 2f
        j     9f                        # on target
1:      sub   s1, s1, a0                # inflate by s1 pages ...
        ld    t0, upool_end             # ... as many as the pool has free
        ld    t1, upool_next
        sub   t0, t0, t1
        srli  t0, t0, 12
        bleu  s1, t0, 3f
        mv    s1, t0
3:      beqz  s1, 9f
        ld    s2, upool_end             # the top s1 free pages: s2 = the first
        slli  t0, s1, 12
        sub   s2, s2, t0
        mv    a0, s2
        mv    a1, s1
        call  balloon_give              # a0 = pages the host took
        mv    t1, a0
        la    a0, msg_balloon_refused   # it may refuse none of our free pages (Linux:
        bne   t1, s1, panic             # BUG_ON(ret != nr_pages))
        la    t0, upool_end
        sd    s2, 0(t0)
        la    t0, balloon_pages
        ld    t1, 0(t0)
        add   t1, t1, s1
        sd    t1, 0(t0)
        j     9f
2:      sub   s1, a0, s1                # deflate by s1 pages, as many as the balloon has
        ld    t0, balloon_pages
        bleu  s1, t0, 4f
        mv    s1, t0
4:      beqz  s1, 9f
        ld    s2, upool_end
        mv    a0, s2
        mv    a1, s1
        call  balloon_take              # a0 = pages the host backed again: the first a0
        slli  t0, a0, 12                # of ours from the pool's end up
        add   s2, s2, t0
        la    t0, upool_end
        sd    s2, 0(t0)
        la    t0, balloon_pages
        ld    t1, 0(t0)
        sub   t1, t1, a0
        sd    t1, 0(t0)
9:      ld    ra, 24(sp)
        ld    s1, 16(sp)
        ld    s2, 8(sp)
        addi  sp, sp, 32
        ret

        .section .rodata
msg_balloon_refused: .asciz "the host refused a free page of the balloon"
        .bss
        .balign 8
upool_end:    .zero 8                   # the user pool's end: the balloon starts there
balloon_pages: .zero 8                  # pages in the balloon (given to the host)
balloon_on:   .zero 8                   # the layer below has a balloon
        .text
