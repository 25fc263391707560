# kernel/data.s -- the read-only data and the variables both kernels have. (Each file
# keeps the messages and variables only it uses next to its code.) Included last: the
# kernel stack ends .bss.

        .section .rodata
        .balign 8
cause_names:                            # scause 0..15 -> its name
        .dword cn_0, cn_1, cn_2, cn_3, cn_4, cn_5, cn_6, cn_7
        .dword cn_8, cn_9, msg_cause_other, cn_11, cn_12, cn_13, msg_cause_other, cn_15
cn_0:   .asciz "instruction address misaligned"
cn_1:   .asciz "instruction access fault"
cn_2:   .asciz "illegal instruction"
cn_3:   .asciz "breakpoint"
cn_4:   .asciz "load address misaligned"
cn_5:   .asciz "load access fault"
cn_6:   .asciz "store address misaligned"
cn_7:   .asciz "store access fault"
cn_8:   .asciz "ecall from U"
cn_9:   .asciz "ecall from S"
cn_11:  .asciz "ecall from M"
cn_12:  .asciz "instruction page fault"
cn_13:  .asciz "load page fault"
cn_15:  .asciz "store page fault"
msg_cause_other:    .asciz "exception"
msg_boot:           .asciz "boot: vkernel guest kernel, workload \""
msg_boot_end:       .asciz "\"\n"
msg_paging:         .asciz "boot: paging on (Sv39)\n"
msg_irq_ok:         .asciz "boot: interrupts off/on: ok\n"
msg_created:        .asciz "boot: pid "
msg_created_2:      .asciz ": "
msg_created_3:      .asciz " program pages, 2 stack pages\n"
msg_prefix_end:     .asciz "] "
msg_halt:           .asciz "halt: pid "
msg_halt_2:         .asciz " exit "
msg_killed:         .asciz "killed: "
msg_kill_pc:        .asciz " (pc "
msg_kill_stval:     .asciz ", address "
msg_kill_insn:      .asciz ", instruction "
msg_kill_end:       .asciz ")\n"
msg_panic:          .asciz "panic: "
msg_kernel_trap:    .asciz "unexpected trap in the kernel:"
msg_user_irq:       .asciz "unexpected interrupt from U:"
msg_scause:         .asciz " scause="
msg_sepc:           .asciz " sepc="
msg_stval:          .asciz " stval="
msg_no_pt:          .asciz "out of page-table pages"
msg_no_user_memory: .asciz "out of user memory while creating a process"
msg_walk_leaf:      .asciz "walk() met a superpage"
msg_no_programs:    .asciz "the workload has no programs"
msg_too_many:       .asciz "the workload has more programs than process slots"

# ==== variables (zeroed at boot: .bss begins at __bss_start, in kernel.s / kernel_pv.s) ====
        .bss
        .balign 8
procs:        .zero NPROC * P_SIZE      # the process table (trap frames first)
outbufs:      .zero NPROC * OUTBUF_SIZE # each process's output
nproc:        .zero 8                   # slots in use
cur_slot:     .zero 8                   # the slot that ran last
space_owner:  .zero 8                   # the process whose address space is loaded
need_resched: .zero 8                   # a tick came while the kernel ran
ticks:        .zero 8                   # timer interrupts taken (from U or S)
ticks_kernel: .zero 8                   # ... of which in the kernel (sstatus.SPP = S)
k_sink:       .zero 8                   # where kputc goes: 0 = console, else a process
kpool_next:   .zero 8                   # the next free page-table page
upool_next:   .zero 8                   # the next free user page
kernel_root:  .zero 8                   # the kernel's root page table
scratch_pte:  .zero 8                   # the scratch slot's PTE (PV: machine address)
scratch_page: .zero 8                   # the page it maps (when it does)
con_len:      .zero 8                   # bytes in the console's line buffer
conbuf:       .zero CONBUF_SIZE
        .balign 16
kstack:       .zero KSTACK_SIZE
kstack_top:
__bss_end:
        .text
