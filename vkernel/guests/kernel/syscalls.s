# kernel/syscalls.s -- the system calls (RISC-V Linux numbers; a7 = number, a0..a2 =
# arguments, a0 = result):
#   write(64: fd ignored, buf, len)  -> len, or -14 (EFAULT) if buf..buf+len is not all in
#                                       the program image or the stack
#   exit(93: status)                    never returns; status & 0xff is reported
#   sched_yield(124)                 -> 0
#   getpid(172)                      -> pid (1..NPROC)
#   vk_bench(500: kind, n)           -> 0, or -22 (EINVAL) for an unknown kind: do n of
#        kind 0 call-return  calls and returns of an empty kernel function
#        kind 1 irq-mask     interrupts off / on pairs (kernel/irq.*.s)
#        kind 2 device       byte loads of the UART's line status register
#        kind 3 pte-update   rewrites of a kernel PTE, fenced (kernel/mmu.*.s)
#        kind 4 map-unmap    maps, touches and unmaps of a user page (kernel/mm_bench.s)
#        kind 5 as-switch    switches to a second address space and back (mm_bench.s)
#        kind 6 fork-copy    copies of the user mappings into a child's table (mm_bench.s)
#   anything else                    -> -38 (ENOSYS)
syscall:
        ld    t0, TF_EPC(s0)            # return past the ecall (never compressed: 4 bytes)
        addi  t0, t0, 4
        sd    t0, TF_EPC(s0)
        ld    a7, TF_A7(s0)
        ld    a0, TF_A0(s0)
        ld    a1, TF_A1(s0)
        ld    a2, TF_A2(s0)
        li    t0, SYS_WRITE
        beq   a7, t0, sys_write
        li    t0, SYS_EXIT
        beq   a7, t0, sys_exit
        li    t0, SYS_SCHED_YIELD
        beq   a7, t0, sys_sched_yield
        li    t0, SYS_GETPID
        beq   a7, t0, sys_getpid
        li    t0, SYS_VK_BENCH
        beq   a7, t0, sys_vk_bench
        li    a0, -ENOSYS
syscall_return:
        sd    a0, TF_A0(s0)             # the result, in the user's a0
        j     ret_from_trap

sys_getpid:
        ld    a0, P_PID(s0)
        j     syscall_return

sys_sched_yield:
        sd    zero, TF_A0(s0)
        j     schedule

sys_exit:
        andi  a0, a0, 0xff
        sd    a0, P_STATUS(s0)
        li    t0, P_EXITED
        sd    t0, P_STATE(s0)
        j     schedule

# write(fd, buf, len): check the buffer, then copy it into the process's output buffer
# (see kernel/output.s for why it is not printed at once)
sys_write:
        mv    s1, a1
        mv    s2, a2
        li    a0, 0
        beqz  s2, syscall_return        # nothing to write
        mv    a0, s0
        call  user_range_ok
        bnez  a0, 1f
        li    a0, -EFAULT
        j     syscall_return
1:      la    t0, k_sink
        sd    s0, 0(t0)
        user_access_on                  # user memory readable (Linux: stac)
        add   s3, s1, s2
2:      lbu   a0, 0(s1)
        call  kputc
        addi  s1, s1, 1
        bltu  s1, s3, 2b
        user_access_off                 # and not any more (Linux: clac)
        la    t0, k_sink
        sd    zero, 0(t0)
        mv    a0, s2
        j     syscall_return

# user_range_ok(a0 = process, a1 = buf, a2 = len > 0) -> a0 = 1 if buf..buf+len lies in
# the program image or in the stack (the pages that are always mapped), else 0.
user_range_ok:
        add   t0, a1, a2                # the end
        bltu  t0, a1, 2f                # wrapped around: certainly bad
        li    t1, USER_VA
        bltu  a1, t1, 1f
        ld    t2, P_IMGEND(a0)
        bgtu  t0, t2, 1f
        li    a0, 1
        ret
1:      li    t1, STACK_BOTTOM
        bltu  a1, t1, 2f
        li    t2, STACK_TOP
        bgtu  t0, t2, 2f
        li    a0, 1
        ret
2:      li    a0, 0
        ret

# vk_bench(kind, n): the in-kernel nanobenchmarks. s1 counts down.
sys_vk_bench:
        mv    s1, a1
        beqz  a0, bench_call_return
        li    t0, 1
        beq   a0, t0, bench_irq_mask
        li    t0, 2
        beq   a0, t0, bench_device
        li    t0, 3
        beq   a0, t0, bench_pte_update
        li    t0, 4
        beq   a0, t0, bench_map_unmap
        li    t0, 5
        beq   a0, t0, bench_as_switch
        li    t0, 6
        beq   a0, t0, bench_fork_copy
        li    a0, -EINVAL
        j     syscall_return
bench_done:
        li    a0, 0
        j     syscall_return

bench_device:                           # n reads of the UART's line status register
        li    t0, UART + UART_LSR       # (para-virtualized it is not mapped: each load
1:      beqz  s1, bench_done            # faults, and the hypervisor emulates it)
        lbu   t1, 0(t0)
        addi  s1, s1, -1
        j     1b

bench_call_return:                      # n calls of an empty function
1:      beqz  s1, bench_done
        call  bench_empty
        addi  s1, s1, -1
        j     1b
bench_empty:
        ret
        # (bench_irq_mask follows, at the top of kernel/irq.*.s)
