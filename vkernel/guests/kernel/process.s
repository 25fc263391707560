# kernel/process.s -- processes: creating them, scheduling them, and the end.
#
# A fixed table of NPROC process slots (kernel/constants.s), created at boot from the
# workload's table. Each slot begins with the process's TRAP FRAME: slot 0 holds the pc
# (sepc), slot i (1..31) register xi. The kernel has ONE stack (kstack): it never sleeps
# inside a system call, so a trap from U always starts on an empty kernel stack, and a
# switch to another process just reloads that process's trap frame and returns to U.
#
# Scheduling: round robin over runnable slots. Every switch to a process (and every time
# a process gets a new time slice) arms the timer with set_timer(now + TIME_SLICE) and,
# if the address space changes, loads the process's (switch_space: kernel/mmu.*.s). A
# timer interrupt from U preempts; sched_yield, exit and being killed give up the CPU at
# once.

# create_processes(): one process per entry of workload_table:
#   .dword count, then per program: image address, read-only pages, all pages, entry VA
create_processes:
        addi  sp, sp, -32
        sd    ra, 24(sp)
        sd    s0, 16(sp)
        sd    s1, 8(sp)
        la    s0, workload_table
        ld    s1, 0(s0)
        la    a0, msg_no_programs
        beqz  s1, panic
        li    t0, NPROC
        la    a0, msg_too_many
        bgtu  s1, t0, panic
        addi  s0, s0, 8
1:      ld    a0, 0(s0)
        ld    a1, 8(s0)
        ld    a2, 16(s0)
        ld    a3, 24(s0)
        call  proc_create
        addi  s0, s0, 32
        addi  s1, s1, -1
        bnez  s1, 1b
        tlb_flush_all                   # new page tables: no stale translation may remain
        ld    ra, 24(sp)
        ld    s0, 16(sp)
        ld    s1, 8(sp)
        addi  sp, sp, 32
        ret

# proc_create(a0 = image, a1 = read-only pages, a2 = pages, a3 = entry VA): the next slot.
proc_create:
        addi  sp, sp, -64
        sd    ra, 56(sp)
        sd    s0, 48(sp)
        sd    s1, 40(sp)
        sd    s2, 32(sp)
        sd    s3, 24(sp)
        sd    s4, 16(sp)
        sd    s5, 8(sp)
        sd    s6, 0(sp)
        mv    s1, a0
        mv    s2, a1
        mv    s3, a2
        mv    s4, a3
        la    t0, nproc                 # slot = nproc++, pid = slot + 1
        ld    t1, 0(t0)
        addi  t2, t1, 1
        sd    t2, 0(t0)
        la    s0, procs
        li    t3, P_SIZE
        mul   t3, t1, t3
        add   s0, s0, t3                # s0 = the slot
        sd    t2, P_PID(s0)
        la    t0, outbufs
        li    t3, OUTBUF_SIZE
        mul   t3, t1, t3
        add   t0, t0, t3
        sd    t0, P_OUTBUF(s0)
        call  as_create                 # the address space (kernel/mmu.*.s) ...
        mv    s5, a0                    # ... and the root the user's pages go in
        # the program: copy each page of the image to a fresh user page and map it
        li    s6, 0                     # page index
2:      bgeu  s6, s3, 4f
        call  ualloc
        la    t0, msg_no_user_memory
        beqz  a0, 9f
        slli  t0, s6, 12
        add   a1, s1, t0
        call  copy_page
        mv    a2, a0
        li    a3, USER_RX               # the read-only pages come first
        bltu  s6, s2, 3f
        li    a3, USER_RW
3:      slli  a1, s6, 12
        li    t0, USER_VA
        add   a1, a1, t0
        mv    a0, s5
        call  map_page
        addi  s6, s6, 1
        j     2b
4:      li    s6, STACK_BOTTOM          # the stack: fresh zeroed pages
5:      call  ualloc
        la    t0, msg_no_user_memory
        beqz  a0, 9f
        mv    a2, a0
        mv    a1, s6
        mv    a0, s5
        li    a3, USER_RW
        call  map_page
        li    t0, PAGE
        add   s6, s6, t0
        li    t0, STACK_TOP
        bltu  s6, t0, 5b
        mmu_sync                        # (PV: the mappings still queued, in one batch)
        # the first "return" to U: pc = entry, sp = top of stack, other registers 0
        sd    s4, TF_EPC(s0)
        li    t0, STACK_TOP
        sd    t0, TF_SP(s0)
        slli  t0, s3, 12
        li    t1, USER_VA
        add   t0, t0, t1
        sd    t0, P_IMGEND(s0)
        li    t0, P_RUNNABLE
        sd    t0, P_STATE(s0)
        la    a0, msg_created           # "boot: pid N: P program pages, 2 stack pages"
        call  kputs
        ld    a0, P_PID(s0)
        call  kput_dec
        la    a0, msg_created_2
        call  kputs
        mv    a0, s3
        call  kput_dec
        la    a0, msg_created_3
        call  kputs
        ld    ra, 56(sp)
        ld    s0, 48(sp)
        ld    s1, 40(sp)
        ld    s2, 32(sp)
        ld    s3, 24(sp)
        ld    s4, 16(sp)
        ld    s5, 8(sp)
        ld    s6, 0(sp)
        addi  sp, sp, 64
        ret
9:      mv    a0, t0
        j     panic

# schedule(): give the CPU to the next runnable process after the current one (round
# robin), with a fresh time slice. Never returns; with no process left, halts.
schedule:
        la    sp, kstack_top            # nothing on the kernel stack outlives a switch
        ld    t0, cur_slot
        li    t1, NPROC                 # slots to look at
        la    t2, procs
1:      addi  t0, t0, 1
        li    t3, NPROC
        blt   t0, t3, 2f
        li    t0, 0
2:      li    t3, P_SIZE
        mul   t4, t0, t3
        add   s0, t2, t4
        ld    t5, P_STATE(s0)
        li    t3, P_RUNNABLE
        beq   t5, t3, 3f
        addi  t1, t1, -1
        bnez  t1, 1b
        j     halt_all                  # nobody left
3:      la    t1, cur_slot
        sd    t0, 0(t1)
        ld    t0, space_owner
        beq   t0, s0, 4f
        switch_space                    # its address space (kernel/mmu.*.s)
        la    t0, space_owner
        sd    s0, 0(t0)
4:      la    t0, need_resched
        sd    zero, 0(t0)
        rdtime a0
        li    t0, TIME_SLICE
        add   a0, a0, t0
        call  set_timer                 # the next preemption (and acknowledges the last)
        j     return_to_user            # kernel/trap.*.s

# halt_all(): every process has exited: print their output and statuses, then power off.
halt_all:
        la    t0, k_sink
        sd    zero, 0(t0)
        la    s0, procs
        li    s1, 0                     # slot
1:      ld    t0, nproc
        bgeu  s1, t0, 5f
        ld    s3, P_OUTBUF(s0)          # s3 = next byte, s4 = end, s5 = at a line start?
        ld    s4, P_OUTLEN(s0)
        add   s4, s3, s4
        li    s5, 1
2:      bgeu  s3, s4, 4f
        beqz  s5, 3f
        li    a0, '['
        call  kputc
        ld    a0, P_PID(s0)
        call  kput_dec
        la    a0, msg_prefix_end
        call  kputs
3:      lbu   s6, 0(s3)
        mv    a0, s6
        call  kputc
        addi  s6, s6, -'\n'
        seqz  s5, s6
        addi  s3, s3, 1
        j     2b
4:      bnez  s5, 41f                   # the last line had no newline: end it
        li    a0, '\n'
        call  kputc
41:     addi  s0, s0, P_SIZE
        addi  s1, s1, 1
        j     1b
5:      la    s0, procs                 # "halt: pid N exit S" for each
        li    s1, 0
6:      ld    t0, nproc
        bgeu  s1, t0, 7f
        la    a0, msg_halt
        call  kputs
        ld    a0, P_PID(s0)
        call  kput_dec
        la    a0, msg_halt_2
        call  kputs
        ld    a0, P_STATUS(s0)
        call  kput_dec
        li    a0, '\n'
        call  kputc
        addi  s0, s0, P_SIZE
        addi  s1, s1, 1
        j     6b
7:      li    a0, 0                     # reason 0: no failure
        call  power_off                 # kernel/output.s
        j     .
