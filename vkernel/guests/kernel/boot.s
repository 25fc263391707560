# kernel/boot.s -- booting, after the first instructions (kernel/boot.native.s, boot.pv.s):
# clear .bss, set up the allocators, say hello, build the kernel's page table, check
# that the interrupt mask masks, create the processes.

# zero_bss(): zero .bss ourselves (a loader might not have). Uses t0, t1.
zero_bss:
        la    t0, __bss_start
        la    t1, __bss_end
1:      bgeu  t0, t1, 2f
        sd    zero, 0(t0)
        addi  t0, t0, 8
        j     1b
2:      ret

# kernel_init(): everything between the first instructions and the first process
kernel_init:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        la    t0, kpool_next
        li    t1, KPOOL_BASE
        sd    t1, 0(t0)
        la    t0, upool_next
        li    t1, UPOOL_BASE
        sd    t1, 0(t0)
        la    t0, upool_end
        li    t1, UPOOL_END
        sd    t1, 0(t0)
        call  balloon_init              # how much of our RAM the host backs (balloon.s)
        la    t0, cur_slot              # so that the first scan starts at slot 0
        li    t1, NPROC - 1
        sd    t1, 0(t0)

        la    a0, msg_boot
        call  kputs
        la    a0, workload_name
        call  kputs
        la    a0, msg_boot_end
        call  kputs

        call  kvm_init                  # kernel/mmu.*.s
        call  selfcheck_interrupts
        call  create_processes
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

# ==== the Popek-Goldberg self-check ========================================================
# Make a timer interrupt pending while interrupts are masked, and check that it waits:
#   1. interrupts off (irq_off), then set_timer(now): the tick is due;
#   2. spin ~2000 instructions: no interrupt may be taken (the trap handler counts ticks);
#   3. the mask must show where the kernel looks (irq_check_masked): natively `csrr
#      sstatus` must show SIE = 0; para-virtualized, the hypervisor must hold the event for
#      us (evtchn_upcall_pending = 1);
#   4. interrupts on (irq_on): now the pending tick must be taken, in the kernel, exactly
#      once.
# A hypervisor that lets the guest kernel's csrc/csrs/csrr of sstatus run unprivileged
# without trapping (x86's POPF problem) fails step 2 or 3. Para-virtualized, the mask is
# plain memory, and what must work is the hypervisor's side of it: one that ignores the
# mask byte fails step 2; one that forgets the event while it is masked fails step 3 or 4.
# (irq_off, irq_on, irq_check_masked: kernel/irq.*.s)
selfcheck_interrupts:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        irq_timer_on
        irq_off
        rdtime a0
        call  set_timer                 # due now: pending from here on
        li    t0, 1000
1:      addi  t0, t0, -1                # 2 instructions a turn
        bnez  t0, 1b
        ld    t0, ticks
        la    a0, msg_irq_off
        bnez  t0, panic                 # taken although masked
        irq_check_masked
        irq_on                          # the pending tick is taken now
        li    t0, 100000
2:      ld    t1, ticks
        bnez  t1, 3f
        addi  t0, t0, -1
        bnez  t0, 2b
3:      irq_off                         # and off again: the kernel runs with them off
        ld    t1, ticks
        la    a0, msg_irq_lost
        beqz  t1, panic
        li    t2, 1
        la    a0, msg_irq_twice
        bne   t1, t2, panic
        ld    t1, ticks_kernel          # the handler saw it come from S (sstatus.SPP)
        la    a0, msg_irq_not_kernel
        bne   t1, t2, panic
        la    t0, need_resched          # the tick meant nothing: no process runs yet
        sd    zero, 0(t0)
        la    a0, msg_irq_ok
        call  kputs
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret
