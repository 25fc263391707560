# kernel/boot.native.s -- the kernel's first instructions (twin: boot.pv.s).
#
# Entered in S-mode at 0x8020_0000 with paging off, by vkernel/guests/sbi.s natively or by
# a hypervisor that gives the guest the same machine. Telling the CPU where traps go takes
# two CSR writes: stvec (the trap vector) and sscratch = 0 ("the kernel runs", the
# convention of kernel/trap.native.s). Then the common boot (kernel/boot.s), and the first
# process.
_start:
        csrw  sscratch, zero            # we are in the kernel
        la    sp, kstack_top
        call  zero_bss                  # a loader might not have
        la    t0, trap_vector
        csrw  stvec, t0                 # direct mode: every trap enters at trap_vector
        call  kernel_init               # memory, paging, the self-check, the processes
        li    t0, SSTATUS_SPP           # sret goes to U from now on
        csrc  sstatus, t0
        j     schedule                  # never returns
