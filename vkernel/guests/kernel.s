# kernel.s -- a small Unix-like supervisor-mode kernel, the guest of vkernel's hypervisors.
#
# It is entered in S-mode at 0x8020_0000 with paging off (by vkernel/guests/sbi.s natively,
# or by a hypervisor), and runs the user programs of one "workload" as processes: it gives
# each an Sv39 address space, schedules them round-robin with a timer, serves their system
# calls, maps their heap on demand, and shuts the machine down when they have all exited.
#
# It is written to be run UNMODIFIED under several virtualization techniques, so it talks
# to the machine only through:
#   * SBI calls (ecall to the firmware or hypervisor): sbi_set_timer, the debug console's
#     write (a line a call), system reset. Never the CLINT, never stimecmp, never the
#     UART for output;
#   * the S-mode CSRs sstatus (its SIE, SPP and SUM bits), sie, stvec, sscratch, sepc,
#     scause, stval, satp and `rdtime`; the instructions sret and sfence.vma;
#   * memory: its own guest-physical RAM 0x8020_0000..0x8080_0000, and -- only in the
#     "device" benchmark -- loads from the UART's line status register.
# Every one of those "sensitive" instructions is something a hypervisor has to get right.
#
# kernel_pv.s is its para-virtualized twin: the same kernel, with every one of those
# operations replaced by a hypercall or a store to memory shared with the hypervisor. The
# two share their code; what differs lives in pairs of files, side by side in kernel/:
#
#   kernel/<operation>.native.s  (this kernel)   kernel/<operation>.pv.s  (kernel_pv.s)
#   boot        the first instructions: stvec, sscratch -- set_trap_table, stack_switch
#   trap        trap entry and return, reading scause/sepc/stval: CSRs and sret -- the
#               hypervisor's trap frame in shared memory and the iret hypercall
#   irq         the interrupt mask: csrc/csrs sstatus.SIE -- a byte in shared memory
#   mmu         PTE stores, satp, sfence.vma -- mmu_update and mmuext_op hypercalls
#   timer       SBI set_timer -- set_timer_op
#   console     SBI debug console write, a line a call -- console_io, a line a call
#   power       SBI system reset -- sched_op(shutdown)
#   balloon     the SBI's balloon extension, a software interrupt -- memory_op, an event
#
#   shared by both: kernel/constants.s (memory layout, trap causes, system calls, the
#   process slot), boot.s (the common boot, the interrupt self-check), memory.s
#   (allocators, the page-table walk), balloon.s (the balloon driver), process.s
#   (processes, the scheduler), traps.s (what a trap from U does), syscalls.s, output.s,
#   data.s (messages, variables).
#
# The workload -- workload_name, workload_table and the program images -- is appended to
# this file by vkernel/guests/__init__.py (see there); it is not in this file.

        .equ TIME_SLICE,   500              # mtime ticks per time slice (native: 10 instr.)

        .include "kernel/constants.s"       # (also starts .bss; ends in .text)
        .globl _start
        .include "kernel/boot.native.s"     # _start (first in .text): stvec, sscratch
        .include "kernel/mmu.native.s"      # PTE stores, satp, sfence.vma, SUM
        .include "kernel/timer.native.s"    # SBI set_timer
        .include "kernel/console.native.s"  # SBI debug console write
        .include "kernel/power.native.s"    # SBI system reset
        .include "kernel/balloon.native.s"  # SBI balloon extension, software interrupt
        .include "kernel/memory.s"
        .include "kernel/balloon.s"         # the balloon driver
        .include "kernel/process.s"
        .include "kernel/trap.native.s"
        .include "kernel/traps.s"           # after trap.*.s: trap_vector falls in
        .include "kernel/syscalls.s"
        # (irq before boot.s, whose self-check uses its macros; its bench_irq_mask
        # follows syscalls.s's bench_call_return, which ends at it)
        .include "kernel/irq.native.s"      # csrc/csrs sstatus.SIE
        .include "kernel/mm_bench.s"        # vk_bench kinds 4..6: page-table work
        .include "kernel/boot.s"
        .include "kernel/output.s"
        .include "kernel/data.s"
