# kernel/traps.s -- what the kernel does with a trap, once trap_vector (kernel/trap.*.s)
# has saved the process's registers into its trap frame: s0 = the process, sp = the
# kernel stack, a0 = the cause. trap_cause, trap_tval and trap_epc read the trap's
# details, from CSRs natively, from the hypervisor's trap frame para-virtualized.
#
# From U: a system call (kernel/syscalls.s); a breakpoint (ebreak, c.ebreak): skipped, the
# process continues; a load or store page fault in the heap: demand paging; the timer:
# preemption; anything else kills the process ("killed: <cause> (pc .., address ..)" in
# its output; exit status 132 for an illegal instruction, 139 otherwise, like a shell
# reports SIGILL and SIGSEGV). In the kernel only a timer tick is expected (kernel_tick).

# falls in from trap_vector (kernel/trap.*.s, included right before this file)
user_trap:
        bltz  a0, user_interrupt        # bit 63: an interrupt
        li    t0, SCAUSE_ECALL_U
        beq   a0, t0, syscall
        li    t0, SCAUSE_BREAKPOINT
        beq   a0, t0, breakpoint
        li    t0, SCAUSE_LOAD_PAGE_FAULT
        beq   a0, t0, page_fault
        li    t0, SCAUSE_STORE_PAGE_FAULT
        beq   a0, t0, page_fault
        j     kill                      # illegal instruction, misaligned, access fault, ...

# back to the process in s0 -- or to another one, if a tick asked for it
ret_from_trap:
        ld    t0, need_resched
        bnez  t0, schedule
        j     return_to_user

# kernel_tick(a0 = cause): the trap that came while the kernel ran (kernel_trap saved the
# registers a call may change). Only a timer tick with interrupts on is expected: it is
# counted, the slice is over (need_resched: switch on the way out to U), and it is
# acknowledged with no new deadline (schedule() arms the next slice). The balloon's
# interrupt may come too (while interrupts are on: the boot self-check, irq-mask).
kernel_tick:
        li    t1, IRQ_S_TIMER
        bne   a0, t1, 1f
        la    t0, ticks                 # count it as a tick taken in the kernel
        ld    t1, 0(t0)
        addi  t1, t1, 1
        sd    t1, 0(t0)
        la    t0, ticks_kernel
        ld    t1, 0(t0)
        addi  t1, t1, 1
        sd    t1, 0(t0)
        la    t0, need_resched
        li    t1, 1
        sd    t1, 0(t0)
        li    a0, TIMER_NONE            # acknowledge (clears the pending tick)
        j     set_timer                 # tail call
1:      li    t1, IRQ_BALLOON           # the host's balloon request (kernel/balloon.s)
        bne   a0, t1, 2f
        balloon_ack
        j     balloon_work              # tail call
2:      la    a0, msg_kernel_trap
        # fall through

# trap_panic(a0 = message): "panic: <message> scause=.. sepc=.. stval=..", power off
trap_panic:
        call  panic_start               # kernel/output.s
        la    a0, msg_scause
        call  kputs
        trap_cause a0
        call  kput_hex
        la    a0, msg_sepc
        call  kputs
        trap_epc a0
        call  kput_hex
        la    a0, msg_stval
        call  kputs
        trap_tval a0
        call  kput_hex
        li    a0, '\n'
        call  kputc
        j     power_off_failed

# ---- interrupts from U: the timer preempts ----
user_interrupt:
        li    t0, IRQ_S_TIMER
        beq   a0, t0, 1f
        li    t0, IRQ_BALLOON           # the host's balloon request (kernel/balloon.s)
        bne   a0, t0, 2f
        balloon_ack
        call  balloon_work
        j     ret_from_trap
2:      la    a0, msg_user_irq          # no other interrupt is enabled
        j     trap_panic
1:      la    t0, ticks
        ld    t1, 0(t0)
        addi  t1, t1, 1
        sd    t1, 0(t0)
        j     schedule

# ---- ebreak / c.ebreak: step over it (2 or 4 bytes: the low two bits say which) ----
breakpoint:
        ld    a0, TF_EPC(s0)
        call  fetch_user_insn
        andi  a0, a0, 3
        li    t0, 3                     # 0b11: a 32-bit instruction
        li    t1, 2
        bne   a0, t0, 1f
        li    t1, 4
1:      ld    t0, TF_EPC(s0)
        add   t0, t0, t1
        sd    t0, TF_EPC(s0)
        j     ret_from_trap

# fetch_user_insn(a0 = user pc) -> a0 = the instruction there (16 or 32 bits). The pc
# was just fetched from, so its page is mapped (user_access_on: natively S may read a U
# page only with sstatus.SUM; para-virtualized every page is U).
fetch_user_insn:
        user_access_on
        lhu   t1, 0(a0)                 # 2-byte aligned, maybe not 4: two halves
        andi  t2, t1, 3
        li    t3, 3
        bne   t2, t3, 1f                # a compressed instruction: 16 bits
        lhu   t2, 2(a0)
        slli  t2, t2, 16
        or    t1, t1, t2
1:      user_access_off
        mv    a0, t1
        ret

# ---- demand paging: a load or store page fault in the heap maps a fresh page ----
page_fault:
        trap_tval s1                    # the address that faulted
        li    t0, HEAP_VA
        bltu  s1, t0, kill
        li    t0, HEAP_END
        bgeu  s1, t0, kill
        srli  s1, s1, 12
        slli  s1, s1, 12                # its page
        ld    a0, P_ROOT(s0)
        mv    a1, s1
        li    a2, 1
        call  walk                      # a0 = &PTE (tables created on the way), a1 = new?
        mv    s2, a0
        mv    s3, a1
        ld    t0, 0(s2)
        andi  t0, t0, PTE_V
        bnez  t0, kill                  # already mapped: not a demand-paging fault
        call  ualloc
        beqz  a0, kill                  # out of memory
        mv    a1, a0
        mv    a0, s2
        li    a2, USER_RW
        call  set_pte                   # the new mapping ...
        mmu_sync
        tlb_flush_page s1               # ... and no stale translation of that page
        beqz  s3, 1f
        tlb_flush_space                 # a new table (a non-leaf PTE changed): flush more
1:      j     ret_from_trap             # the return retries the access

# ---- anything else from U: the process dies with a message in its output ----
kill:
        trap_cause s1
        trap_tval s2
        la    t0, k_sink                # print into the process's own buffer
        sd    s0, 0(t0)
        la    a0, msg_killed
        call  kputs
        li    t0, 16                    # the cause's name, from cause_names
        la    a0, msg_cause_other
        bgeu  s1, t0, 1f
        la    t0, cause_names
        slli  t1, s1, 3
        add   t0, t0, t1
        ld    a0, 0(t0)
1:      call  kputs
        la    a0, msg_kill_pc
        call  kputs
        ld    a0, TF_EPC(s0)
        call  kput_hex
        li    t0, SCAUSE_ILLEGAL
        beq   s1, t0, 3f
        la    a0, msg_kill_stval        # the faulting address
        call  kputs
        mv    a0, s2
        j     4f
3:      ld    a0, TF_EPC(s0)            # the instruction itself: read it from memory, as
        call  fetch_user_insn           # stval may hold it or 0, as the CPU chooses
        mv    s2, a0
        la    a0, msg_kill_insn
        call  kputs
        mv    a0, s2
4:      call  kput_hex
        la    a0, msg_kill_end
        call  kputs
        la    t0, k_sink
        sd    zero, 0(t0)
        li    t0, STATUS_SIGSEGV
        li    t1, SCAUSE_ILLEGAL
        bne   s1, t1, 2f
        li    t0, STATUS_SIGILL
2:      sd    t0, P_STATUS(s0)
        li    t0, P_EXITED
        sd    t0, P_STATE(s0)
        j     schedule
