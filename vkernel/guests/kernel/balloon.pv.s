# kernel/balloon.pv.s -- the balloon driver's interface (twin: balloon.native.s).
#
# Xen's: the memory_op hypercall (docs/paravirt.md), with a xen_memory_reservation
# {extent_start: an array of pseudo-physical frame numbers, nr_extents, extent_order 0,
# mem_flags, domid DOMID_SELF}: XENMEM_decrease_reservation gives the frames behind those
# pages back, XENMEM_populate_physmap backs them again (the hypervisor writes each new
# machine frame into mfn_list and m2p); XENMEM_current_reservation says how many pages we
# have. The target is in the shared-info page (Xen keeps it in XenStore, memory/target),
# and the host's "look at it" is an event on port BALLOON_PORT.
#
# Direct paging makes one more step ours: the hypervisor refuses to take a frame that one
# of our validated page tables still maps (it would be a way back into it). So before
# giving pages we unmap them from the kernel's table (the user pool is mapped there, and
# nowhere else while free), and after taking them back we map them again, with their new
# machine frames.
        .equ  HYPERVISOR_memory_op, 12
        .equ  XENMEM_decrease_reservation, 1
        .equ  XENMEM_current_reservation,  3
        .equ  XENMEM_populate_physmap,     6
        .equ  DOMID_SELF,  0x7FF0
        .equ  SH_MEMORY_TARGET, 16          # u64 in the shared-info page: pages wanted
        .equ  BALLOON_PORT, 1
        .equ  IRQ_BALLOON, (1 << 63) | 9    # an event on a port other than the timer's
        .equ  BALLOON_BATCH, 64             # frames per memory_op

        .macro balloon_irq_on           # (its port is always bound)
        .endm
        .macro balloon_ack              # clear our port; nothing else pending: the flag too
        ld    t0, shared_info
        ld    t1, SH_EVTCHN_PENDING(t0)
        andi  t1, t1, ~(1 << BALLOON_PORT)
        sd    t1, SH_EVTCHN_PENDING(t0)
        bnez  t1, 99f
        sb    zero, SH_UPCALL_PENDING(t0)
99:
        .endm

# balloon_reservation() -> a0 = the pages we have (XENMEM_current_reservation), or -1
balloon_reservation:
        addi  sp, sp, -16
        li    t0, DOMID_SELF
        sh    t0, 0(sp)
        li    a0, XENMEM_current_reservation
        mv    a1, sp
        li    a7, HYPERVISOR_memory_op
        ecall
        addi  sp, sp, 16
        bgez  a0, 1f
        li    a0, -1
1:      ret

# balloon_target() -> a0 = the pages the host wants us to have (shared info)
balloon_target:
        ld    t0, shared_info
        ld    a0, SH_MEMORY_TARGET(t0)
        ret

# balloon_give(a0 = first page, a1 = count) -> a0 = pages given. Unmap them, flush, then
# decrease_reservation a batch at a time.
balloon_give:
        addi  sp, sp, -48
        sd    ra, 40(sp)
        sd    s1, 32(sp)
        sd    s2, 24(sp)
        sd    s3, 16(sp)
        mv    s1, a0
        mv    s2, a1
        li    s3, 0
1:      bgeu  s3, s2, 2f                # each page: its kernel PTE becomes 0
        ld    a0, kernel_root
        slli  a1, s3, 12
        add   a1, a1, s1
        li    a2, 0
        call  walk                      # a0 = &PTE (the kernel maps all its RAM)
        call  pa_to_ma
        li    a1, 0
        call  mmu_queue
        addi  s3, s3, 1
        j     1b
2:      call  mmu_flush
        tlb_flush_all                   # no translation of them may stay
        li    a2, XENMEM_decrease_reservation
        mv    a0, s1
        mv    a1, s2
        call  balloon_memory_op
        ld    ra, 40(sp)
        ld    s1, 32(sp)
        ld    s2, 24(sp)
        ld    s3, 16(sp)
        addi  sp, sp, 48
        ret

# balloon_take(a0 = first page, a1 = count) -> a0 = pages backed again; each is mapped in
# the kernel's table again, with the machine frame the hypervisor wrote into mfn_list
balloon_take:
        addi  sp, sp, -48
        sd    ra, 40(sp)
        sd    s1, 32(sp)
        sd    s2, 24(sp)
        sd    s3, 16(sp)
        mv    s1, a0
        li    a2, XENMEM_populate_physmap
        call  balloon_memory_op
        mv    s2, a0                    # the first s2 pages are ours again
        li    s3, 0
1:      bgeu  s3, s2, 2f
        ld    a0, kernel_root
        slli  a1, s3, 12
        add   a1, a1, s1
        li    a2, 0
        call  walk
        slli  a1, s3, 12
        add   a1, a1, s1
        li    a2, KERNEL_RW
        call  set_pte                   # queued: sent by the batch, or below
        addi  s3, s3, 1
        j     1b
2:      call  mmu_flush
        mv    a0, s2
        ld    ra, 40(sp)
        ld    s1, 32(sp)
        ld    s2, 24(sp)
        ld    s3, 16(sp)
        addi  sp, sp, 48
        ret

# balloon_memory_op(a0 = first page, a1 = count, a2 = command) -> a0 = pages done: the
# pages' frame numbers BALLOON_BATCH at a time; stops at a batch the hypervisor cut short
balloon_memory_op:
        addi  sp, sp, -48
        sd    ra, 40(sp)
        sd    s1, 32(sp)
        sd    s2, 24(sp)
        sd    s3, 16(sp)
        sd    s4, 8(sp)
        srli  s1, a0, 12                # s1 = the next frame number
        mv    s2, a1                    # s2 = left to do
        mv    s4, a2
        li    s3, 0                     # s3 = done
1:      beqz  s2, 9f
        mv    t2, s2                    # this batch: t2 frames
        li    t0, BALLOON_BATCH
        bleu  t2, t0, 2f
        mv    t2, t0
2:      la    t0, balloon_frames
        li    t1, 0
3:      add   t3, s1, t1                # balloon_frames[i] = s1 + i
        sd    t3, 0(t0)
        addi  t0, t0, 8
        addi  t1, t1, 1
        bltu  t1, t2, 3b
        la    t0, balloon_reservation_arg   # {extent_start, nr_extents, order 0, flags 0,
        la    t1, balloon_frames            #  domid}
        sd    t1, 0(t0)
        sd    t2, 8(t0)
        sd    zero, 16(t0)
        li    t1, DOMID_SELF
        sd    t1, 24(t0)
        mv    a0, s4
        mv    a1, t0
        li    a7, HYPERVISOR_memory_op
        sd    t2, 0(sp)
        ecall                           # a0 = frames done, or an error (< 0)
        ld    t2, 0(sp)
        bltz  a0, 9f
        add   s3, s3, a0
        add   s1, s1, a0
        sub   s2, s2, a0
        beq   a0, t2, 1b                # all of the batch: on with the next
9:      mv    a0, s3
        ld    ra, 40(sp)
        ld    s1, 32(sp)
        ld    s2, 24(sp)
        ld    s3, 16(sp)
        ld    s4, 8(sp)
        addi  sp, sp, 48
        ret

        .bss
        .balign 8
balloon_reservation_arg: .zero 32       # a xen_memory_reservation
balloon_frames: .zero 8 * BALLOON_BATCH # its extent_start array
        .text
