# kernel_pv.s -- kernel.s para-virtualized: the same kernel, asking the hypervisor.
#
# This is the twin of kernel.s for VM(technique="paravirt"): the same processes, scheduler,
# system calls, workloads and output (byte for byte), and the same order of user-page
# allocation. Only the privileged operations differ. This kernel knows that it runs in
# the machine's U-mode under a hypervisor (vkernel/hv/paravirt.py), so instead of
# executing privileged instructions it asks, with hypercalls, or writes memory it shares
# with the hypervisor. docs/paravirt.md is the interface.
#
# The twins share their code (kernel/*.s); each privileged operation is a pair of files
# side by side, kernel/<operation>.native.s and kernel/<operation>.pv.s: what differs
# between them is what para-virtualization is.
#
#   file     kernel.s (.native.s)              kernel_pv.s (.pv.s)
#   boot     csrw stvec; sscratch              set_trap_table(trap_vector), stack_switch
#                                              (kstack_top); the start info page
#   trap     csrr scause, sepc, stval,         loads from the trap frame in the shared-info
#            sstatus; sscratch; sret           page; the variable cur_tf; iret (pc, mode,
#                                              event mask, sp and a7 from the frame)
#   irq      csrc / csrs sstatus, SIE          a byte store to evtchn_upcall_mask: no exit.
#                                              After unmasking, xen_version if an event is
#                                              pending
#   mmu      PTE stores, megapages             mmu_update (batched): machine frame numbers,
#                                              4 KiB pages, the page tables mapped read-only
#            csrw satp, sfence.vma             mmuext_op: NEW_BASEPTR and NEW_USER_BASEPTR
#                                              (two roots per address space), INVLPG,
#                                              TLB_FLUSH
#            sstatus.SUM                       nothing: every page is U (the kernel runs in
#                                              U-mode)
#   timer    SBI set_timer                     set_timer_op
#   console  SBI debug console write           console_io (both: a line a call)
#   power    SBI system reset                  sched_op(SCHEDOP_shutdown)
#   balloon  SBI balloon extension; software   memory_op (decrease_reservation,
#            interrupt (sip.SSIP)              populate_physmap); an event on its port;
#                                              its pages unmapped before they go
#
# The shared files are listed at the top of kernel.s. This kernel talks to the hypervisor
# only through those hypercalls (ecall, a7 = number) and the shared-info page; to the
# machine only through `rdtime`, its memory (pseudo-physical RAM 0x8000_0000..0x8080_0000),
# and -- only in the "device" benchmark -- loads from the UART's line status register,
# which is not mapped: each load faults and the hypervisor emulates it.
#
# The workload -- workload_name, workload_table and the program images -- is appended to
# this file by vkernel/guests/__init__.py (see there); it is not in this file.

        .equ TIME_SLICE,   500              # mtime ticks per time slice (native: 10 instr.)

        .include "kernel/constants.s"       # (also starts .bss; ends in .text)
        .globl _start
        .include "kernel/boot.pv.s"         # _start (first in .text): start info, trap table
        .include "kernel/mmu.pv.s"          # mmu_update, mmuext_op; p2m and m2p
        .include "kernel/timer.pv.s"        # set_timer_op
        .include "kernel/console.pv.s"      # console_io, a line at a time
        .include "kernel/power.pv.s"        # sched_op(shutdown)
        .include "kernel/balloon.pv.s"      # memory_op, an event on the balloon's port
        .include "kernel/memory.s"
        .include "kernel/balloon.s"         # the balloon driver
        .include "kernel/process.s"
        .include "kernel/trap.pv.s"
        .include "kernel/traps.s"           # after trap.*.s: trap_vector falls in
        .include "kernel/syscalls.s"
        # (irq before boot.s, whose self-check uses its macros; its bench_irq_mask
        # follows syscalls.s's bench_call_return, which ends at it)
        .include "kernel/irq.pv.s"          # the event mask byte; xen_version
        .include "kernel/mm_bench.s"        # vk_bench kinds 4..6: page-table work
        .include "kernel/boot.s"
        .include "kernel/output.s"
        .include "kernel/data.s"
