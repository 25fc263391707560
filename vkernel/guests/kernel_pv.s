# kernel_pv.s -- kernel.s para-virtualized: the same kernel, asking the hypervisor.
#
# This is the twin of kernel.s for VM(technique="paravirt"): the same processes, scheduler,
# system calls, workloads and output (byte for byte), and the same order of user-page
# allocation. Only the privileged operations differ. This kernel knows that it runs in
# the machine's U-mode under a hypervisor (vkernel/hv/paravirt.py), so instead of
# executing privileged instructions it asks, with hypercalls, or writes memory it shares
# with the hypervisor. docs/paravirt.md is the interface. Diff this file against
# kernel.s: what changed is what para-virtualization is.
#
#   kernel.s                          kernel_pv.s
#   csrw stvec; sscratch              set_trap_table(trap_vector), stack_switch(kstack_top);
#                                     the variable cur_tf instead of sscratch
#   csrr scause, sepc, stval, sstatus loads from the trap frame in the shared-info page
#   csrc / csrs sstatus, SIE          a byte store to evtchn_upcall_mask: no exit. After
#                                     unmasking, xen_version if an event is pending
#   sret                              iret (pc, mode, event mask, sp and a7 from the frame)
#   PTE stores, megapages             mmu_update (batched): machine frame numbers, 4 KiB
#                                     pages, the page tables mapped read-only
#   csrw satp, sfence.vma             mmuext_op: NEW_BASEPTR and NEW_USER_BASEPTR (two
#                                     roots per address space), INVLPG, TLB_FLUSH
#   sstatus.SUM                       nothing: every page is U (the kernel runs in U-mode)
#   SBI set_timer, console, reset     set_timer_op, console_io (a line at a time), sched_op
#
# It talks to the hypervisor only through those hypercalls (ecall, a7 = number) and the
# shared-info page; to the machine only through `rdtime`, its memory (pseudo-physical
# RAM 0x8000_0000..0x8080_0000), and -- only in the "device" benchmark -- loads from the
# UART's line status register, which is not mapped: each load faults and the hypervisor
# emulates it.
#
# ---- memory ------------------------------------------------------------------------------
# Pseudo-physical (Xen's name for what the guest believes is its physical RAM; the kernel
# maps all of it at the same virtual addresses, so a kernel pointer is its pseudo-physical
# address):
#   0x8000_0000 .. 0x8020_0000  the hypervisor's pages: start info (a0 at entry), shared
#                               info, mfn_list, m2p (docs/paravirt.md); firmware natively
#   0x8020_0000 .. 0x8030_0000  this kernel: .text, .rodata (with the workload's program
#                               images), .bss (process table, output buffers, stack)
#   0x8030_0000 .. 0x8040_0000  page-table pool: every page-table page, plus the scratch
#                               page of the pte-update benchmark (bump allocator). Mapped
#                               READ-ONLY: the hypervisor refuses a page table that is
#                               mapped writable anywhere. Only mmu_update writes it (and
#                               kvm_init, before the hypervisor checks its first table)
#   0x8040_0000 .. 0x8080_0000  user pool: every page a process can see: program, stack,
#                               heap (bump allocator, zeroed). Pages are handed out in an
#                               order that does not depend on timing, so the pseudo-physical
#                               layout of user memory is the same in every run.
#   0x1000_0000                 the UART: never mapped (the hypervisor emulates it)
#
# The page tables hold MACHINE frame numbers: the pseudo-physical pages are scattered over
# the machine's memory. mfn_list (Xen's p2m) gives the machine frame of a page; m2p gives
# the page of a machine frame, to follow a table's pointers. The hypervisor checks every
# table it is given and every change (mmu_update) against its rules: leaves map our own
# frames, 4 KiB, with U; page tables are never mapped writable.
#
# Every address space has TWO roots, as on 64-bit Xen, because the kernel and its programs
# both run in U-mode: the hypervisor loads the kernel root while the kernel runs and the
# user root while a program does, switching on every trap and iret.
# Kernel page table (kernel_root; the kernel's entries are shared by every process):
#   root[2]  -> L1: [0..3] four L0 tables: 4 KiB pages identity-mapping 0x8000_0000..
#                          0x8080_0000, U, not global: the hypervisor's pages and the
#                          kernel R W X, the page-table pool R, the user pool R W
#                   [4]    an L0 whose [0] is the scratch slot SCRATCH_VA 0x8080_0000,
#                          rewritten by the pte-update benchmark (invalid otherwise)
# A process's user root: root[0] -> its L1 for VA 0..1 GiB (the program), root[1] -> its
# L1 for 1..2 GiB (heap, stack). Its kernel root: the same root[0] and root[1], and
# root[2] of the kernel's. Both L1s are made with the roots, so a page mapped later
# (the heap's) only adds L0 tables below them, and both roots see it. No kernel page is
# global: a global translation would be good in the user root too, where every page is U.
#
# User virtual memory (every process alike; U=1 pages):
#   0x0001_0000 ..         the program image: read-only pages first (code, constants:
#                          R X), then data and bss (R W). Entry point from the image table.
#   0x4000_0000 .. 0x4040_0000  heap: nothing mapped until touched; a load or store page
#                          fault there maps a fresh zeroed page (R W) -- demand paging
#   0x7FFF_D000 .. 0x7FFF_F000  stack, two pages (R W); sp starts at 0x7FFF_F000 and the
#                          page above is left unmapped, so running off the top faults
#
# ---- processes and traps -----------------------------------------------------------------
# A fixed table of NPROC process slots (struct below), created at boot from the workload's
# table. Each slot begins with the process's TRAP FRAME: slot 0 holds epc, slot i
# (1..31) register xi. The hypervisor enters trap_vector with the trap described in the
# shared-info page's trap frame (cause, epc, tval, status, and the sp and a7 the trap
# interrupted), events masked, the kernel root loaded and, from U, sp = the kernel stack
# (stack_switch). a7 is therefore free for the handler. The cur_tf convention (kernel.s
# keeps it in sscratch): while a process runs in U, cur_tf holds its trap-frame address;
# while the kernel runs, cur_tf is 0. Non-zero means "from U: save the user's registers
# here", zero means "the kernel was interrupted". The frame's status.SPP (the mode the
# trap came from) must agree, and is checked.
#
# The kernel has ONE stack (kstack): it never sleeps inside a system call, so a trap from
# U always starts on an empty kernel stack, and a switch to another process just reloads
# that process's trap frame and irets. The kernel runs with events masked
# (evtchn_upcall_mask = 1) except in the boot self-check and the irq-mask benchmark; a
# timer event that arrives then is counted and leaves need_resched set.
#
# Scheduling: round robin over runnable slots. Every switch to a process (and every time
# a process gets a new time slice) arms the timer with set_timer(now + TIME_SLICE) and,
# if the address space changes, loads its two roots with one mmuext_op (the hypervisor
# gives every root its own ASID, so no flush). A timer event from U preempts;
# sched_yield, exit and being killed give up the CPU at once.
#
# Output: write() appends to the process's own 2 KiB buffer instead of printing, because
# with preemption the interleaving of two processes' lines depends on timing, and the
# output must be byte-identical under every virtualization technique. When every process
# has exited, the kernel prints the buffers in pid order, each line prefixed "[pid] ",
# then one "halt: pid N exit S" line per process, and calls sched_op(SCHEDOP_shutdown, 0).
# Boot messages and panics are printed at once, a whole line per console_io hypercall.
#
# System calls (RISC-V Linux numbers; a7 = number, a0..a2 = arguments, a0 = result):
#   write(64: fd ignored, buf, len)  -> len, or -14 (EFAULT) if buf..buf+len is not all in
#                                       the program image or the stack
#   exit(93: status)                    never returns; status & 0xff is reported
#   sched_yield(124)                 -> 0
#   getpid(172)                      -> pid (1..NPROC)
#   vk_bench(500: kind, n)           -> 0, or -22 (EINVAL) for an unknown kind: do n of
#        kind 0 call-return  calls and returns of an empty kernel function
#        kind 1 irq-mask     mask / unmask pairs: two byte stores (the mask restored after)
#        kind 2 device       byte loads of the UART's line status register (emulated)
#        kind 3 pte-update   rewrites of the scratch PTE, MMU_BATCH to an mmu_update, each
#                            batch followed by an MMUEXT_INVLPG_LOCAL
#   anything else                    -> -38 (ENOSYS)
# Other traps from U: breakpoint (ebreak, c.ebreak): skipped, the process continues;
# load/store page fault in the heap: demand paging; anything else kills the process
# ("killed: <cause> (pc .., address ..)" in its output; exit status 132 for an illegal
# instruction, 139 otherwise, like a shell reports SIGILL and SIGSEGV).
#
# The boot self-check (selfcheck_interrupts) is kernel.s's Popek-Goldberg experiment for
# the event mask: it only passes if an event that comes while the mask byte is set waits,
# pending, and is delivered once the kernel unmasks and asks.
#
# The workload -- workload_name, workload_table and the program images -- is appended to
# this file by vkernel/guests/__init__.py (see there); it is not in this file.

        .option rvc

        .equ NPROC,        4
        .equ TIME_SLICE,   500              # mtime ticks per time slice (native: 10 instr.)
        .equ OUTBUF_SIZE,  2048             # bytes of output kept per process
        .equ KSTACK_SIZE,  8192
        .equ PAGE,         4096

        # pseudo-physical memory
        .equ RAM_BASE,     0x80000000
        .equ RAM_END,      0x80800000
        .equ MEGAPAGE,     0x200000
        .equ KPOOL_BASE,   0x80300000
        .equ KPOOL_END,    0x80400000
        .equ UPOOL_BASE,   0x80400000
        .equ UPOOL_END,    0x80800000
        .equ UART,         0x10000000
        .equ UART_LSR,     5
        .equ SCRATCH_VA,   0x80800000       # the pte-update benchmark's page slot, in
                                            # root[2], which user roots do not have

        # user virtual memory
        .equ USER_VA,      0x10000
        .equ HEAP_VA,      0x40000000
        .equ HEAP_END,     0x40400000
        .equ STACK_BOTTOM, 0x7FFFD000
        .equ STACK_TOP,    0x7FFFF000

        # Sv39 page-table entries
        .equ PTE_V, 1
        .equ PTE_R, 2
        .equ PTE_W, 4
        .equ PTE_X, 8
        .equ PTE_U, 16
        .equ PTE_G, 32
        .equ PTE_A, 64
        .equ PTE_D, 128
        # the kernel's pages are U as well (it runs in U-mode) and not G (see the top)
        .equ KERNEL_RWX,   PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
        .equ KERNEL_RW,    PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
        .equ KERNEL_R,     PTE_V | PTE_R | PTE_U | PTE_A    # the page-table pool
        .equ USER_RX,      PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
        .equ USER_RW,      PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D

        # the trap frame's status and cause (the sstatus and scause encodings)
        .equ SSTATUS_SPIE, 1 << 5           # events were unmasked
        .equ SSTATUS_SPP,  1 << 8           # the mode a trap came from: 1 = S, 0 = U
        .equ IRQ_S_TIMER,  (1 << 63) | 5    # cause of an event on the timer's port (0)
        .equ SCAUSE_ILLEGAL,      2
        .equ SCAUSE_BREAKPOINT,   3
        .equ SCAUSE_ECALL_U,      8
        .equ SCAUSE_LOAD_PAGE_FAULT,  13
        .equ SCAUSE_STORE_PAGE_FAULT, 15

        # hypercalls (number in a7; docs/paravirt.md) and their commands
        .equ HYPERVISOR_set_trap_table, 0
        .equ HYPERVISOR_mmu_update,     1
        .equ HYPERVISOR_stack_switch,   3
        .equ HYPERVISOR_set_timer_op,   15
        .equ HYPERVISOR_xen_version,    17
        .equ HYPERVISOR_console_io,     18
        .equ HYPERVISOR_iret,           23
        .equ HYPERVISOR_mmuext_op,      26
        .equ HYPERVISOR_sched_op,       29
        .equ MMUEXT_PIN_L3_TABLE,       2   # validate a root before it is ever loaded
        .equ MMUEXT_NEW_BASEPTR,        5   # the kernel root
        .equ MMUEXT_TLB_FLUSH_LOCAL,    6
        .equ MMUEXT_INVLPG_LOCAL,       7
        .equ MMUEXT_NEW_USER_BASEPTR,   15  # the user root
        .equ CONSOLEIO_write,           0
        .equ SCHEDOP_shutdown,          2
        .equ MMU_BATCH,    16               # page-table updates sent per mmu_update
        .equ CONBUF_SIZE,  256              # the console's line buffer

        # start info (a0 at entry) and shared info: the pages the hypervisor gives us
        .equ START_MAGIC,  0x302e312d76706b76   # "vkpv-1.0", little-endian
        .equ START_SHARED_INFO, 16
        .equ START_MFN_LIST,    24
        .equ START_M2P,         32
        .equ START_M2P_FIRST,   40
        .equ SH_UPCALL_PENDING, 0           # u8: an event waits
        .equ SH_UPCALL_MASK,    1           # u8: 1 = events masked ("interrupts off")
        .equ SH_EVTCHN_PENDING, 8           # u64: one bit per port
        .equ SH_CAUSE,     64               # the trap frame: scause,
        .equ SH_EPC,       72               # sepc,
        .equ SH_TVAL,      80               # stval,
        .equ SH_STATUS,    88               # sstatus (SPP, SPIE),
        .equ SH_SP,        96               # and the sp and a7 the trap interrupted
        .equ SH_A7,        104

        # system calls and errors
        .equ SYS_WRITE,    64
        .equ SYS_EXIT,     93
        .equ SYS_SCHED_YIELD, 124
        .equ SYS_GETPID,   172
        .equ SYS_VK_BENCH, 500
        .equ EFAULT,       14
        .equ EINVAL,       22
        .equ ENOSYS,       38
        .equ STATUS_SIGILL,  128 + 4
        .equ STATUS_SIGSEGV, 128 + 11

        # a process slot: the trap frame, then the kernel's bookkeeping
        .equ TF_EPC,       0                # epc; register xi is at 8*i
        .equ TF_RA,        1 * 8
        .equ TF_SP,        2 * 8
        .equ TF_A0,        10 * 8
        .equ TF_A1,        11 * 8
        .equ TF_A2,        12 * 8
        .equ TF_A7,        17 * 8
        .equ TF_T6,        31 * 8
        .equ P_STATE,      256              # P_FREE, P_RUNNABLE or P_EXITED
        .equ P_PID,        264
        .equ P_KROOT,      272              # its kernel root (pseudo-physical address)
        .equ P_STATUS,     280              # exit status
        .equ P_OUTLEN,     288              # bytes in the output buffer
        .equ P_OUTBUF,     296              # its address
        .equ P_IMGEND,     304              # user VA just past the program image
        .equ P_ROOT,       312              # its user root (pseudo-physical address)
        .equ P_SWITCH,     320              # 2 mmuext ops: NEW_BASEPTR, NEW_USER_BASEPTR
        .equ P_SIZE,       512
        .equ P_FREE,       0
        .equ P_RUNNABLE,   1
        .equ P_EXITED,     2

        .text
        .globl _start
# ==== boot =================================================================================
# The hypervisor enters here in (virtual) S-mode with a0 = the start info page, events
# masked, and paging on: its boot table maps our RAM at the same virtual addresses.
_start:
        mv    s0, a0                    # the start info (cur_tf = 0 with .bss: the kernel)
        la    sp, kstack_top
        la    t0, __bss_start           # zero .bss ourselves: a loader might not have
        la    t1, __bss_end
1:      bgeu  t0, t1, 2f
        sd    zero, 0(t0)
        addi  t0, t0, 8
        j     1b
2:      ld    t0, 0(s0)                 # is it a hypervisor we know?
        li    t1, START_MAGIC
        la    a0, msg_bad_start_info
        bne   t0, t1, panic
        ld    t0, START_SHARED_INFO(s0) # where the hypervisor's pages are
        la    t1, shared_info
        sd    t0, 0(t1)
        ld    t0, START_MFN_LIST(s0)
        la    t1, mfn_list
        sd    t0, 0(t1)
        ld    t0, START_M2P(s0)
        la    t1, m2p
        sd    t0, 0(t1)
        ld    t0, START_M2P_FIRST(s0)
        la    t1, m2p_first
        sd    t0, 0(t1)
        la    a0, trap_vector           # every trap enters at trap_vector
        call  hyp_set_trap_table
        la    a0, kstack_top            # ... and, from U, on the kernel stack
        call  hyp_stack_switch
        la    t0, kpool_next
        li    t1, KPOOL_BASE
        sd    t1, 0(t0)
        la    t0, upool_next
        li    t1, UPOOL_BASE
        sd    t1, 0(t0)
        la    t0, cur_slot              # so that the first scan starts at slot 0
        li    t1, NPROC - 1
        sd    t1, 0(t0)

        la    a0, msg_boot
        call  kputs
        la    a0, workload_name
        call  kputs
        la    a0, msg_boot_end
        call  kputs

        call  kvm_init
        call  selfcheck_interrupts
        call  create_processes
        j     schedule                  # never returns (return_to_user irets to U)

# ==== the Popek-Goldberg self-check ========================================================
# Make a timer event pending while events are masked, and check that it waits:
#   1. the mask byte set (events_off), then set_timer(now): the event is due;
#   2. spin ~2000 instructions: no event may be delivered (the trap handler counts ticks);
#   3. the hypervisor must hold it for us: evtchn_upcall_pending = 1;
#   4. events_on (unmask, and ask, as it is pending): now the event must be delivered, in
#      the kernel, exactly once.
# A hypervisor that ignores the mask byte fails step 2; one that forgets the event while
# it is masked fails step 3 or 4. (kernel.s checks that csrc/csrs/csrr of sstatus really
# reach the virtual CPU; here the mask is plain memory, and what must work is the
# hypervisor's side of it: looking at the byte before it delivers.)
selfcheck_interrupts:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        call  events_off                # events masked: interrupts off (since boot, too)
        rdtime a0
        call  set_timer                 # due now: pending from here on
        li    t0, 1000
1:      addi  t0, t0, -1                # 2 instructions a turn
        bnez  t0, 1b
        ld    t0, ticks
        la    a0, msg_irq_off
        bnez  t0, panic                 # delivered although masked
        ld    t0, shared_info
        lbu   t0, SH_UPCALL_PENDING(t0)
        la    a0, msg_not_pending
        beqz  t0, panic                 # the event was lost, not held
        call  events_on                 # unmask; the pending event is delivered now
        li    t0, 100000
2:      ld    t1, ticks
        bnez  t1, 3f
        addi  t0, t0, -1
        bnez  t0, 2b
3:      call  events_off                # and off again: the kernel runs with them off
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

# ==== events: the kernel's interrupt enable (kernel.s: sstatus.SIE) ========================
# events_off(): mask events: a byte store to the shared-info page, no exit
events_off:
        ld    t0, shared_info
        li    t1, 1
        sb    t1, SH_UPCALL_MASK(t0)
        ret

# events_on(): unmask events. The hypervisor only looks at the mask when something makes
# it exit, so an event that came while they were masked still waits, pending: then ask
# for it with the null hypercall, and it is delivered (kernel_trap) on the way back.
events_on:
        ld    t0, shared_info
        sb    zero, SH_UPCALL_MASK(t0)
        lbu   t1, SH_UPCALL_PENDING(t0)
        beqz  t1, 1f
        j     hyp_xen_version           # tail call
1:      ret

# ==== memory: allocators and page tables ===================================================
# kalloc_pt() -> a0: a zeroed page from the page-table pool (panics when it is empty).
# It is zero as the hypervisor gave it to us: the pool is mapped read-only (page tables
# must be), so we could not zero it with stores, and nothing but mmu_update writes it.
kalloc_pt:
        la    t0, kpool_next
        ld    a0, 0(t0)
        li    t1, KPOOL_END
        bgeu  a0, t1, 1f
        li    t1, PAGE
        add   t1, a0, t1
        sd    t1, 0(t0)
        ret
1:      la    a0, msg_no_pt
        j     panic

# ualloc() -> a0: a zeroed page from the user pool, or 0 when it is empty
ualloc:
        la    t0, upool_next
        ld    a0, 0(t0)
        li    t1, UPOOL_END
        bgeu  a0, t1, 1f
        li    t1, PAGE
        add   t1, a0, t1
        sd    t1, 0(t0)
        j     zero_page
1:      li    a0, 0
        ret

# zero_page(a0 = page) -> a0 unchanged
zero_page:
        li    t0, PAGE
        add   t0, a0, t0
        mv    t1, a0
1:      sd    zero, 0(t1)
        sd    zero, 8(t1)
        sd    zero, 16(t1)
        sd    zero, 24(t1)
        addi  t1, t1, 32
        bltu  t1, t0, 1b
        ret

# copy_page(a0 = destination, a1 = source) -> a0 unchanged
copy_page:
        li    t0, PAGE
        add   t0, a0, t0
        mv    t1, a0
1:      ld    t2, 0(a1)
        sd    t2, 0(t1)
        addi  a1, a1, 8
        addi  t1, t1, 8
        bltu  t1, t0, 1b
        ret

# ---- machine frames: our pages are scattered over the machine's memory ----
# pa_to_ma(a0 = pseudo-physical address) -> a0 = its machine address (mfn_list, the p2m).
# Changes only a0 and t0..t2.
pa_to_ma:
        ld    t0, mfn_list
        li    t1, RAM_BASE
        sub   t1, a0, t1
        srli  t1, t1, 12
        slli  t1, t1, 3
        add   t0, t0, t1
        ld    t0, 0(t0)                 # the machine frame number
        slli  t0, t0, 12
        slli  a0, a0, 52                # the offset in the page
        srli  a0, a0, 52
        or    a0, a0, t0
        ret

# ma_to_pa(a0 = machine address of one of our frames) -> a0 = its pseudo-physical address
# (the m2p). Changes only a0 and t0..t2.
ma_to_pa:
        ld    t0, m2p
        ld    t1, m2p_first
        srli  t2, a0, 12
        sub   t2, t2, t1
        slli  t2, t2, 3
        add   t0, t0, t2
        ld    t0, 0(t0)                 # the pseudo-physical frame number
        slli  t0, t0, 12
        slli  a0, a0, 52
        srli  a0, a0, 52
        or    a0, a0, t0
        ret

# make_pte(a0 = pseudo-physical page, a1 = flags) -> a0 = the PTE that maps it: its
# MACHINE frame number, and the flags. Keeps a1.
make_pte:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        call  pa_to_ma
        srli  a0, a0, 12
        slli  a0, a0, 10
        or    a0, a0, a1
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

# ---- page-table updates go through the hypervisor, a batch at a time ----
# mmu_queue(a0 = machine address of a PTE, a1 = its new value): one request for the next
# mmu_update (kernel.s stores it at once); a full batch is sent at once.
mmu_queue:
        la    t0, mmu_count
        ld    t1, 0(t0)
        slli  t2, t1, 4                 # 16 bytes a request: {u64 ptr, u64 val}
        la    t3, mmu_reqs
        add   t2, t2, t3
        sd    a0, 0(t2)
        sd    a1, 8(t2)
        addi  t1, t1, 1
        sd    t1, 0(t0)
        li    t2, MMU_BATCH
        bgeu  t1, t2, mmu_flush         # tail call
        ret

# mmu_flush(): send the queued requests with one mmu_update. The hypervisor checks each
# one; a refusal is a bug of ours: panic.
mmu_flush:
        ld    a1, mmu_count
        beqz  a1, 1f
        la    t0, mmu_count
        sd    zero, 0(t0)
        la    a0, mmu_reqs
        li    a2, 0                     # no count back: all of them, or we panic
        li    a7, HYPERVISOR_mmu_update
        ecall
        mv    t0, a0
        la    a0, msg_mmu_refused
        bnez  t0, panic
1:      ret

# mmuext_ops(a0 = operations {u64 cmd, u64 arg}, a1 = how many): a refusal is a bug
mmuext_ops:
        li    a2, 0
        li    a7, HYPERVISOR_mmuext_op
        ecall
        mv    t0, a0
        la    a0, msg_mmuext_refused
        bnez  t0, panic
        ret

# mmuext(a0 = cmd, a1 = arg): one operation: a root, or a TLB flush (kernel.s: csrw satp,
# sfence.vma)
mmuext:
        addi  sp, sp, -32
        sd    ra, 24(sp)
        sd    a0, 0(sp)                 # the operation, on the stack
        sd    a1, 8(sp)
        mv    a0, sp
        li    a1, 1
        call  mmuext_ops
        ld    ra, 24(sp)
        addi  sp, sp, 32
        ret

# walk(a0 = root, a1 = va, a2 = allocate?) -> a0 = address of the level-0 PTE for va (0 if
# a table on the way is missing and a2 = 0), a1 = 1 if it had to allocate a table.
# Like the MMU: VPN[2] = va[38:30] indexes the root, VPN[1] = va[29:21] the level-1
# table, VPN[0] = va[20:12] the level-0 table. Only for addresses mapped with 4 KiB
# pages: a leaf (a PTE with R, W or X) on the way is a kernel bug. The tables are read
# with loads (the pool is mapped read-only); their pointers hold machine frame numbers,
# which m2p turns back into addresses we can load from. Requests still queued are not
# seen: a new table is hooked in with mmu_update at once, as the walk goes through it.
walk:
        addi  sp, sp, -64
        sd    ra, 56(sp)
        sd    s0, 48(sp)
        sd    s1, 40(sp)
        sd    s2, 32(sp)
        sd    s3, 24(sp)
        sd    s4, 16(sp)
        sd    s5, 8(sp)
        mv    s0, a0                    # the table at this level
        mv    s1, a1
        mv    s2, a2
        li    s3, 30                    # the shift of this level's VPN: 30, then 21
        li    s4, 0                     # allocated anything?
1:      srl   t0, s1, s3
        andi  t0, t0, 0x1ff
        slli  t0, t0, 3
        add   s5, s0, t0                # &table[VPN]
        ld    t1, 0(s5)
        andi  t2, t1, PTE_V
        bnez  t2, 2f
        li    a0, 0
        beqz  s2, 3f                    # missing, and we may not allocate
        call  kalloc_pt                 # a new, empty next-level table
        li    a1, PTE_V                 # V alone: a pointer to the next level
        call  make_pte
        mv    a1, a0
        mv    a0, s5
        call  pa_to_ma
        call  mmu_queue
        call  mmu_flush                 # the hypervisor checks the table: it is one now
        ld    t1, 0(s5)
        li    s4, 1
2:      andi  t2, t1, PTE_R | PTE_W | PTE_X
        la    a0, msg_walk_leaf
        bnez  t2, panic
        srli  a0, t1, 10                # the PTE's PPN: a machine frame ...
        slli  a0, a0, 12
        call  ma_to_pa                  # ... whose page is the next table
        mv    s0, a0
        addi  s3, s3, -9
        li    t0, 12
        bne   s3, t0, 1b
        srli  t0, s1, 12                # level 0: the entry itself
        andi  t0, t0, 0x1ff
        slli  t0, t0, 3
        add   a0, s0, t0
3:      mv    a1, s4
        ld    ra, 56(sp)
        ld    s0, 48(sp)
        ld    s1, 40(sp)
        ld    s2, 32(sp)
        ld    s3, 24(sp)
        ld    s4, 16(sp)
        ld    s5, 8(sp)
        addi  sp, sp, 64
        ret

# map_page(a0 = root, a1 = va, a2 = physical page, a3 = PTE flags): a 4 KiB mapping,
# creating tables as needed. The mapping is only queued: the caller sends the batch
# (mmu_flush), and fences (mmuext) when the table is live.
map_page:
        addi  sp, sp, -32
        sd    ra, 24(sp)
        sd    s0, 16(sp)
        sd    s1, 8(sp)
        mv    s0, a2
        mv    s1, a3
        li    a2, 1
        call  walk
        call  pa_to_ma                  # the PTE's machine address
        sd    a0, 0(sp)
        mv    a0, s0
        mv    a1, s1
        call  make_pte
        mv    a1, a0
        ld    a0, 0(sp)
        call  mmu_queue
        ld    ra, 24(sp)
        ld    s0, 16(sp)
        ld    s1, 8(sp)
        addi  sp, sp, 32
        ret

# kvm_init(): build the kernel's page table (see the top of the file) and load it. The
# hypervisor's boot table still maps all our RAM writable, so this first table is
# written with plain stores; MMUEXT_NEW_BASEPTR has the hypervisor check all of it at
# once (every page-table page must then be read-only in it), and drops the boot table.
kvm_init:
        addi  sp, sp, -48
        sd    ra, 40(sp)
        sd    s0, 32(sp)
        sd    s1, 24(sp)
        sd    s2, 16(sp)
        sd    s3, 8(sp)
        call  kalloc_pt
        mv    s0, a0
        la    t0, kernel_root
        sd    a0, 0(t0)
        call  kalloc_pt                 # root[2] (VA 0x8000_0000..) -> an L1
        mv    s1, a0
        li    a1, PTE_V
        call  make_pte
        sd    a0, 2*8(s0)
        # L1[0..3] -> four L0 tables of 512 4 KiB pages: no megapages, since our pages
        # are scattered over machine memory. Leaf i maps mfn_list[i], with the flags of
        # its region (see the top of the file)
        li    s2, RAM_BASE              # the next page to map
        ld    a2, mfn_list              # ... and its machine frame number
1:      call  kalloc_pt                 # the next L0: L1[0..3], as VA bits 29..21 of
        mv    s3, a0                    # 0x8000_0000 are 0
        li    a1, PTE_V
        call  make_pte
        sd    a0, 0(s1)
        addi  s1, s1, 8
2:      li    a1, KERNEL_RWX            # the hypervisor's pages and this kernel
        li    t0, KPOOL_BASE
        bltu  s2, t0, 3f
        li    a1, KERNEL_R              # the page-table pool: read-only
        li    t0, UPOOL_BASE
        bltu  s2, t0, 3f
        li    a1, KERNEL_RW             # the user pool
3:      ld    t0, 0(a2)                 # the PTE: machine frame number, flags
        slli  t0, t0, 10
        or    t0, t0, a1
        sd    t0, 0(s3)
        addi  s3, s3, 8
        addi  a2, a2, 8
        li    t0, PAGE
        add   s2, s2, t0
        li    t0, MEGAPAGE - 1          # this L0's 2 MiB done?
        and   t0, s2, t0
        bnez  t0, 2b
        li    t0, RAM_END
        bltu  s2, t0, 1b
        call  kalloc_pt                 # L1[4] -> the scratch slot's L0: its PTE stays 0
        mv    s3, a0                    # (invalid) until the pte-update benchmark
        li    a1, PTE_V                 # rewrites it
        call  make_pte
        sd    a0, 0(s1)
        mv    a0, s3                    # SCRATCH_VA is its entry 0; mmu_update wants the
        call  pa_to_ma                  # entry's machine address
        la    t0, scratch_pte
        sd    a0, 0(t0)
        call  kalloc_pt                 # the page the scratch slot maps
        la    t0, scratch_page
        sd    a0, 0(t0)
        mv    a0, s0                    # the root's machine address, for the hypervisor
        call  pa_to_ma
        addi  sp, sp, -32               # two operations in one hypercall:
        li    t0, MMUEXT_NEW_BASEPTR    # our table now: we run at the same addresses
        sd    t0, 0(sp)
        sd    a0, 8(sp)
        li    t0, MMUEXT_TLB_FLUSH_LOCAL  # forget any translation from before
        sd    t0, 16(sp)
        sd    zero, 24(sp)
        mv    a0, sp
        li    a1, 2
        call  mmuext_ops
        addi  sp, sp, 32
        la    a0, msg_paging
        call  kputs
        ld    ra, 40(sp)
        ld    s0, 32(sp)
        ld    s1, 24(sp)
        ld    s2, 16(sp)
        ld    s3, 8(sp)
        addi  sp, sp, 48
        ret

# ==== processes ============================================================================
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
        li    a0, MMUEXT_TLB_FLUSH_LOCAL  # new page tables: no stale translation may remain
        li    a1, 0
        call  mmuext
        ld    ra, 24(sp)
        ld    s0, 16(sp)
        ld    s1, 8(sp)
        addi  sp, sp, 32
        ret

# proc_create(a0 = image, a1 = read-only pages, a2 = pages, a3 = entry VA): the next slot.
proc_create:
        addi  sp, sp, -80
        sd    ra, 72(sp)
        sd    s0, 64(sp)
        sd    s1, 56(sp)
        sd    s2, 48(sp)
        sd    s3, 40(sp)
        sd    s4, 32(sp)
        sd    s5, 24(sp)
        sd    s6, 16(sp)                # 0(sp): a PTE being made
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
        # the address space: a user root and a kernel root (see the top of the file),
        # pinned: the hypervisor checks them as roots (empty), so that mmu_update may
        # fill them before they are ever loaded. P_SWITCH: the ops that load them.
        call  kalloc_pt
        mv    s5, a0
        sd    a0, P_ROOT(s0)
        call  pa_to_ma
        li    t0, MMUEXT_NEW_USER_BASEPTR
        sd    t0, P_SWITCH+16(s0)
        sd    a0, P_SWITCH+24(s0)
        mv    a1, a0
        li    a0, MMUEXT_PIN_L3_TABLE
        call  mmuext
        call  kalloc_pt
        sd    a0, P_KROOT(s0)
        call  pa_to_ma
        li    t0, MMUEXT_NEW_BASEPTR
        sd    t0, P_SWITCH(s0)
        sd    a0, P_SWITCH+8(s0)
        mv    a1, a0
        li    a0, MMUEXT_PIN_L3_TABLE
        call  mmuext
        li    s6, 0                     # root[0] and root[1] of both -> new L1 tables
1:      call  kalloc_pt
        li    a1, PTE_V
        call  make_pte
        sd    a0, 0(sp)
        slli  a0, s6, 3
        add   a0, a0, s5
        call  pa_to_ma
        ld    a1, 0(sp)
        call  mmu_queue                 # user root[i] -> it
        slli  a0, s6, 3
        ld    t0, P_KROOT(s0)
        add   a0, a0, t0
        call  pa_to_ma
        ld    a1, 0(sp)
        call  mmu_queue                 # kernel root[i] -> it
        addi  s6, s6, 1
        li    t0, 2
        bltu  s6, t0, 1b
        ld    a0, P_KROOT(s0)           # kernel root[2] -> the kernel's L1: its mappings
        addi  a0, a0, 2*8
        call  pa_to_ma
        ld    t0, kernel_root
        ld    a1, 2*8(t0)
        call  mmu_queue
        call  mmu_flush                 # now: map_page walks these roots next
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
        call  mmu_flush                 # the mappings still queued: one batch
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
        ld    ra, 72(sp)
        ld    s0, 64(sp)
        ld    s1, 56(sp)
        ld    s2, 48(sp)
        ld    s3, 40(sp)
        ld    s4, 32(sp)
        ld    s5, 24(sp)
        ld    s6, 16(sp)
        addi  sp, sp, 80
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
        ld    t0, roots_owner
        beq   t0, s0, 4f
        addi  a0, s0, P_SWITCH          # switch address spaces: its kernel root now, its
        li    a1, 2                     # user root for U, in one hypercall. Each root has
        call  mmuext_ops                # its own ASID, so no flush is needed
        la    t0, roots_owner
        sd    s0, 0(t0)
4:      la    t0, need_resched
        sd    zero, 0(t0)
        rdtime a0
        li    t0, TIME_SLICE
        add   a0, a0, t0
        call  set_timer                 # the next preemption (and acknowledges the last)
        j     return_to_user

# return_to_user(s0 = process): load its trap frame and iret to U.
return_to_user:
        ld    t5, shared_info           # iret takes pc, mode, events, sp and a7 from the
        ld    t0, TF_EPC(s0)            # shared-info trap frame (a7: we need it for the
        sd    t0, SH_EPC(t5)            # hypercall's number)
        li    t0, SSTATUS_SPIE          # to U (SPP = 0), where events are on
        sd    t0, SH_STATUS(t5)
        ld    t0, TF_SP(s0)
        sd    t0, SH_SP(t5)
        ld    t0, TF_A7(s0)
        sd    t0, SH_A7(t5)
        la    t0, cur_tf                # the next trap from U saves into this frame
        sd    s0, 0(t0)
        mv    t6, s0
        ld    ra, 1*8(t6)
        ld    gp, 3*8(t6)
        ld    tp, 4*8(t6)
        ld    t0, 5*8(t6)
        ld    t1, 6*8(t6)
        ld    t2, 7*8(t6)
        ld    s0, 8*8(t6)
        ld    s1, 9*8(t6)
        ld    a0, 10*8(t6)
        ld    a1, 11*8(t6)
        ld    a2, 12*8(t6)
        ld    a3, 13*8(t6)
        ld    a4, 14*8(t6)
        ld    a5, 15*8(t6)
        ld    a6, 16*8(t6)
        ld    s2, 18*8(t6)
        ld    s3, 19*8(t6)
        ld    s4, 20*8(t6)
        ld    s5, 21*8(t6)
        ld    s6, 22*8(t6)
        ld    s7, 23*8(t6)
        ld    s8, 24*8(t6)
        ld    s9, 25*8(t6)
        ld    s10, 26*8(t6)
        ld    s11, 27*8(t6)
        ld    t3, 28*8(t6)
        ld    t4, 29*8(t6)
        ld    t5, 30*8(t6)
        ld    t6, 31*8(t6)
        li    a7, HYPERVISOR_iret
        ecall                           # to U at the frame's epc

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
        call  power_off
        j     .

# ==== traps ================================================================================
# The hypervisor comes here with the trap in the shared-info trap frame, events masked,
# the kernel root loaded, from U on the kernel stack; it saved the sp and a7 it found in
# the frame, so a7 is ours to use.
        .align 2
trap_vector:
        ld    a7, cur_tf                # a7 = trap frame (from U) or 0 (from the kernel)
        beqz  a7, kernel_trap
        # ---- from U: save every user register into the process's trap frame ----
        sd    ra, 1*8(a7)
        sd    gp, 3*8(a7)
        sd    tp, 4*8(a7)
        sd    t0, 5*8(a7)
        sd    t1, 6*8(a7)
        sd    t2, 7*8(a7)
        sd    s0, 8*8(a7)
        sd    s1, 9*8(a7)
        sd    a0, 10*8(a7)
        sd    a1, 11*8(a7)
        sd    a2, 12*8(a7)
        sd    a3, 13*8(a7)
        sd    a4, 14*8(a7)
        sd    a5, 15*8(a7)
        sd    a6, 16*8(a7)
        sd    s2, 18*8(a7)
        sd    s3, 19*8(a7)
        sd    s4, 20*8(a7)
        sd    s5, 21*8(a7)
        sd    s6, 22*8(a7)
        sd    s7, 23*8(a7)
        sd    s8, 24*8(a7)
        sd    s9, 25*8(a7)
        sd    s10, 26*8(a7)
        sd    s11, 27*8(a7)
        sd    t3, 28*8(a7)
        sd    t4, 29*8(a7)
        sd    t5, 30*8(a7)
        sd    t6, 31*8(a7)
        mv    t6, a7
        ld    t5, shared_info           # the rest is in the hypervisor's frame: the
        ld    t4, SH_SP(t5)             # user's sp (ours is the kernel stack now) ...
        sd    t4, TF_SP(t6)
        ld    t4, SH_A7(t5)             # ... its a7 ...
        sd    t4, TF_A7(t6)
        ld    t4, SH_EPC(t5)            # ... and its pc
        sd    t4, TF_EPC(t6)
        la    t4, cur_tf                # in the kernel now
        sd    zero, 0(t4)
        mv    s0, t6                    # s0 = the current process, all through the kernel
        la    sp, kstack_top
        ld    t0, SH_STATUS(t5)         # cur_tf said "from U": so must status.SPP
        andi  t0, t0, SSTATUS_SPP
        la    a0, msg_spp_user
        bnez  t0, panic
        ld    a0, SH_CAUSE(t5)
        bltz  a0, user_interrupt        # bit 63: an event
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

# ---- a trap while the kernel ran: only a timer event with events on is expected ----
kernel_trap:
        addi  sp, sp, -128              # save what a call may clobber, on the kernel stack
        sd    ra, 0*8(sp)               # (not a7: iret restores it from the frame)
        sd    t0, 1*8(sp)
        sd    t1, 2*8(sp)
        sd    t2, 3*8(sp)
        sd    t3, 4*8(sp)
        sd    t4, 5*8(sp)
        sd    t5, 6*8(sp)
        sd    t6, 7*8(sp)
        sd    a0, 8*8(sp)
        sd    a1, 9*8(sp)
        sd    a2, 10*8(sp)
        sd    a3, 11*8(sp)
        sd    a4, 12*8(sp)
        sd    a5, 13*8(sp)
        sd    a6, 14*8(sp)
        ld    t5, shared_info
        ld    t0, SH_STATUS(t5)         # cur_tf said "from the kernel": so must SPP
        andi  t0, t0, SSTATUS_SPP
        la    a0, msg_spp_kernel
        beqz  t0, panic
        ld    t0, SH_CAUSE(t5)
        li    t1, IRQ_S_TIMER
        la    a0, msg_kernel_trap
        bne   t0, t1, trap_panic
        la    t0, ticks                 # count it as a tick taken in the kernel
        ld    t1, 0(t0)
        addi  t1, t1, 1
        sd    t1, 0(t0)
        la    t0, ticks_kernel
        ld    t1, 0(t0)
        addi  t1, t1, 1
        sd    t1, 0(t0)
        la    t0, need_resched          # the slice is over: switch on the way out to U
        li    t1, 1
        sd    t1, 0(t0)
        li    a0, 0                     # acknowledge (clears the pending event) with no
        call  set_timer                 # new deadline: schedule() arms the next slice
        ld    ra, 0*8(sp)
        ld    t0, 1*8(sp)
        ld    t1, 2*8(sp)
        ld    t2, 3*8(sp)
        ld    t3, 4*8(sp)
        ld    t4, 5*8(sp)
        ld    t5, 6*8(sp)
        ld    t6, 7*8(sp)
        ld    a0, 8*8(sp)
        ld    a1, 9*8(sp)
        ld    a2, 10*8(sp)
        ld    a3, 11*8(sp)
        ld    a4, 12*8(sp)
        ld    a5, 13*8(sp)
        ld    a6, 14*8(sp)
        addi  sp, sp, 128
        li    a7, HYPERVISOR_iret       # back into the kernel (SPP = S), events as they
        ecall                           # were (SPIE), sp and a7 as they were

# trap_panic(a0 = message): "panic: <message> scause=.. sepc=.. stval=..", power off
trap_panic:
        mv    s0, a0
        la    t0, k_sink
        sd    zero, 0(t0)
        la    a0, msg_panic
        call  kputs
        mv    a0, s0
        call  kputs
        la    a0, msg_scause
        call  kputs
        ld    a0, shared_info
        ld    a0, SH_CAUSE(a0)
        call  kput_hex
        la    a0, msg_sepc
        call  kputs
        ld    a0, shared_info
        ld    a0, SH_EPC(a0)
        call  kput_hex
        la    a0, msg_stval
        call  kputs
        ld    a0, shared_info
        ld    a0, SH_TVAL(a0)
        call  kput_hex
        li    a0, '\n'
        call  kputc
        j     power_off_failed

# ---- interrupts from U: the timer preempts ----
user_interrupt:
        li    t0, IRQ_S_TIMER
        beq   a0, t0, 1f
        la    a0, msg_user_irq          # no other interrupt is enabled
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
# was just fetched from, so its page is mapped, in the kernel root as well; every page is
# U here, so no sstatus.SUM is needed (nor possible) to read it.
fetch_user_insn:
        lhu   t1, 0(a0)                 # 2-byte aligned, maybe not 4: two halves
        andi  t2, t1, 3
        li    t3, 3
        bne   t2, t3, 1f                # a compressed instruction: 16 bits
        lhu   t2, 2(a0)
        slli  t2, t2, 16
        or    t1, t1, t2
1:      mv    a0, t1
        ret

# ---- demand paging: a load or store page fault in the heap maps a fresh page ----
page_fault:
        ld    t0, shared_info
        ld    s1, SH_TVAL(t0)           # the address that faulted
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
        li    a1, USER_RW
        call  make_pte
        mv    s4, a0
        mv    a0, s2
        call  pa_to_ma
        mv    a1, s4
        call  mmu_queue                 # the new mapping ...
        call  mmu_flush
        li    a0, MMUEXT_INVLPG_LOCAL   # ... and no stale translation of that page
        mv    a1, s1
        call  mmuext
        beqz  s3, 1f
        li    a0, MMUEXT_TLB_FLUSH_LOCAL  # a new table (a non-leaf PTE changed): flush
        li    a1, 0                     # every translation
        call  mmuext
1:      j     ret_from_trap             # iret retries the access

# ---- anything else from U: the process dies with a message in its output ----
kill:
        ld    t0, shared_info
        ld    s1, SH_CAUSE(t0)
        ld    s2, SH_TVAL(t0)
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

# ==== system calls =========================================================================
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
        add   s3, s1, s2                # user memory: readable (kernel.s sets SUM here)
2:      lbu   a0, 0(s1)
        call  kputc
        addi  s1, s1, 1
        bltu  s1, s3, 2b
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
        li    a0, -EINVAL
        j     syscall_return
bench_done:
        li    a0, 0
        j     syscall_return

bench_call_return:                      # n calls of an empty function
1:      beqz  s1, bench_done
        call  bench_empty
        addi  s1, s1, -1
        j     1b
bench_empty:
        ret

bench_irq_mask:                         # n times: events off, events on: two stores
        ld    s3, shared_info
        lbu   s2, SH_UPCALL_MASK(s3)    # as they were (masked: we are in the kernel)
        li    s4, 1
1:      beqz  s1, 2f
        sb    s4, SH_UPCALL_MASK(s3)    # masked
        sb    zero, SH_UPCALL_MASK(s3)  # unmasked: a pending event is taken here, by
        lbu   t0, SH_UPCALL_PENDING(s3) # asking for it (kernel_trap runs)
        beqz  t0, 3f
        call  hyp_xen_version
3:      addi  s1, s1, -1
        j     1b
2:      sb    s2, SH_UPCALL_MASK(s3)    # back as they were
        j     bench_done

bench_device:                           # n reads of the UART's line status register: not
        li    t0, UART + UART_LSR       # mapped, so each faults and the hypervisor emulates it
1:      beqz  s1, bench_done
        lbu   t1, 0(t0)
        addi  s1, s1, -1
        j     1b

bench_pte_update:                       # n rewrites of the scratch PTE: mapped,
        ld    s2, scratch_pte           # unmapped, mapped, ... MMU_BATCH of them to an
        ld    a0, scratch_page          # mmu_update, each batch then fenced
        li    a1, KERNEL_RW
        call  make_pte
        mv    s3, a0
        li    s4, SCRATCH_VA
        li    s5, 0
1:      beqz  s1, 2f
        xor   s5, s5, s3
        mv    a0, s2
        mv    a1, s5
        call  mmu_queue                 # sent when the batch is full
        addi  s1, s1, -1
        ld    t0, mmu_count
        bnez  t0, 1b                    # not sent yet: no fence yet
        li    a0, MMUEXT_INVLPG_LOCAL   # sent: forget the old translation
        mv    a1, s4
        call  mmuext
        j     1b
2:      ld    t0, mmu_count             # the last, partial batch
        beqz  t0, bench_done
        call  mmu_flush
        li    a0, MMUEXT_INVLPG_LOCAL
        mv    a1, s4
        call  mmuext
        j     bench_done

# ==== output ===============================================================================
# kputc(a0 = byte): to the console (k_sink = 0) or into process k_sink's output buffer
# (dropped when it is full)
kputc:
        ld    t0, k_sink
        beqz  t0, console_putc          # tail call
        ld    t1, P_OUTLEN(t0)
        li    t2, OUTBUF_SIZE
        bgeu  t1, t2, 1f
        ld    t2, P_OUTBUF(t0)
        add   t2, t2, t1
        sb    a0, 0(t2)
        addi  t1, t1, 1
        sd    t1, P_OUTLEN(t0)
1:      ret

# console_putc(a0 = byte): into the console's line buffer, which goes to the hypervisor
# whole, with one console_io, at the end of the line (or when full): one exit a line,
# where kernel.s makes one SBI call a byte
console_putc:
        la    t0, con_len
        ld    t1, 0(t0)
        la    t2, conbuf
        add   t2, t2, t1
        sb    a0, 0(t2)
        addi  t1, t1, 1
        sd    t1, 0(t0)
        li    t2, '\n'
        beq   a0, t2, console_flush     # tail calls
        li    t2, CONBUF_SIZE
        bgeu  t1, t2, console_flush
        ret

# console_flush(): print what the line buffer holds
console_flush:
        ld    a1, con_len
        beqz  a1, 1f
        la    t0, con_len
        sd    zero, 0(t0)
        la    a0, conbuf
        j     hyp_console_write         # tail call
1:      ret

# kputs(a0 = NUL-terminated string)
kputs:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        sd    s0, 0(sp)
        mv    s0, a0
1:      lbu   a0, 0(s0)
        beqz  a0, 2f
        call  kputc
        addi  s0, s0, 1
        j     1b
2:      ld    ra, 8(sp)
        ld    s0, 0(sp)
        addi  sp, sp, 16
        ret

# kput_dec(a0 = unsigned number), in decimal
kput_dec:
        addi  sp, sp, -48
        sd    ra, 40(sp)
        sd    s0, 32(sp)
        sd    s1, 24(sp)
        addi  s1, sp, 24                # digits go into sp+0..23, last digit first
        mv    s0, s1
        li    t1, 10
1:      remu  t0, a0, t1
        divu  a0, a0, t1
        addi  t0, t0, '0'
        addi  s1, s1, -1
        sb    t0, 0(s1)
        bnez  a0, 1b
2:      lbu   a0, 0(s1)
        call  kputc
        addi  s1, s1, 1
        bne   s1, s0, 2b
        ld    ra, 40(sp)
        ld    s0, 32(sp)
        ld    s1, 24(sp)
        addi  sp, sp, 48
        ret

# kput_hex(a0 = number): "0x" and its hex digits, without leading zeros
kput_hex:
        addi  sp, sp, -32
        sd    ra, 24(sp)
        sd    s0, 16(sp)
        sd    s1, 8(sp)
        mv    s0, a0
        li    a0, '0'
        call  kputc
        li    a0, 'x'
        call  kputc
        li    s1, 60                    # the shift of the digit to print
1:      srl   t0, s0, s1                # skip leading zeros (but print the last digit)
        bnez  t0, 2f
        beqz  s1, 2f
        addi  s1, s1, -4
        j     1b
2:      srl   t0, s0, s1
        andi  t0, t0, 15
        addi  a0, t0, '0'
        li    t1, '9'
        ble   a0, t1, 3f
        addi  a0, a0, 'a' - '9' - 1
3:      call  kputc
        addi  s1, s1, -4
        bgez  s1, 2b
        ld    ra, 24(sp)
        ld    s0, 16(sp)
        ld    s1, 8(sp)
        addi  sp, sp, 32
        ret

# panic(a0 = message): "panic: <message>" and power off with reason 1
panic:
        mv    s0, a0
        la    t0, k_sink
        sd    zero, 0(t0)
        la    a0, msg_panic
        call  kputs
        mv    a0, s0
        call  kputs
        li    a0, '\n'
        call  kputc
power_off_failed:
        li    a0, 1                     # reason 1: system failure
        call  power_off
        j     .

# power_off(a0 = reason: 0, or a crash): the console's last line, then off
power_off:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        sd    a0, 0(sp)
        call  console_flush
        ld    a0, 0(sp)
        call  hyp_shutdown
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

# set_timer(a0 = absolute time, 0: none): a new deadline also acknowledges a timer event
# that is pending, as SBI's set_timer does. The flags the hypervisor raised in the
# shared-info page are ours to clear (we have one port: all of them), and before the
# hypercall: cleared after it, they could hide an event the new deadline raised at once.
set_timer:
        ld    t0, shared_info
        sb    zero, SH_UPCALL_PENDING(t0)
        sd    zero, SH_EVTCHN_PENDING(t0)
        j     hyp_set_timer_op          # tail call

# ==== hypercalls: a7 = number, a0.. = arguments; the hypervisor changes only a0 =========
hyp_set_trap_table:                     # (a0 = trap entry)
        li    a7, HYPERVISOR_set_trap_table
        ecall
        ret

hyp_stack_switch:                       # (a0 = the kernel stack for traps from U)
        li    a7, HYPERVISOR_stack_switch
        ecall
        ret

hyp_set_timer_op:                       # (a0 = absolute time, 0: none)
        li    a7, HYPERVISOR_set_timer_op
        ecall
        ret

hyp_xen_version:                        # the null hypercall: its exit delivers events
        li    a0, 0
        li    a7, HYPERVISOR_xen_version
        ecall
        ret

hyp_console_write:                      # (a0 = buffer, a1 = bytes)
        mv    a2, a0
        li    a0, CONSOLEIO_write
        li    a7, HYPERVISOR_console_io
        ecall
        ret

hyp_shutdown:                           # (a0 = reason)
        mv    a1, a0
        li    a0, SCHEDOP_shutdown
        li    a7, HYPERVISOR_sched_op
        ecall
        ret

# ==== read-only data =======================================================================
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
msg_irq_off:        .asciz "event delivered with events masked"
msg_not_pending:    .asciz "timer event not pending after it came while masked"
msg_irq_lost:       .asciz "timer event not delivered after unmasking"
msg_irq_twice:      .asciz "timer event delivered more than once"
msg_irq_not_kernel: .asciz "timer event not seen as taken in the kernel (status.SPP)"
msg_spp_user:       .asciz "trap with cur_tf set (from U) but status.SPP = S"
msg_spp_kernel:     .asciz "trap with cur_tf 0 (from the kernel) but status.SPP = U"
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
msg_bad_start_info: .asciz "not started by the vkpv-1.0 hypervisor (start info magic)"
msg_mmu_refused:    .asciz "the hypervisor refused a page-table update"
msg_mmuext_refused: .asciz "the hypervisor refused an MMU operation"

# ==== variables (zeroed at boot) ===========================================================
        .bss
        .balign 8
__bss_start:
procs:        .zero NPROC * P_SIZE      # the process table (trap frames first)
outbufs:      .zero NPROC * OUTBUF_SIZE # each process's output
nproc:        .zero 8                   # slots in use
cur_slot:     .zero 8                   # the slot that ran last
roots_owner:  .zero 8                   # the process whose roots are loaded
need_resched: .zero 8                   # a tick came while the kernel ran
ticks:        .zero 8                   # timer events taken (from U or S)
ticks_kernel: .zero 8                   # ... of which in the kernel (status.SPP = S)
k_sink:       .zero 8                   # where kputc goes: 0 = console, else a process
kpool_next:   .zero 8                   # the next free page-table page
upool_next:   .zero 8                   # the next free user page
kernel_root:  .zero 8                   # the kernel's root page table
scratch_pte:  .zero 8                   # MACHINE address of the scratch slot's PTE
scratch_page: .zero 8                   # the page it maps (when it does)
cur_tf:       .zero 8                   # the running process's trap frame; 0: the kernel
shared_info:  .zero 8                   # where the hypervisor's pages are (start info)
mfn_list:     .zero 8
m2p:          .zero 8
m2p_first:    .zero 8                   # the machine frame number of m2p's entry 0
mmu_count:    .zero 8                   # requests queued for mmu_update ...
mmu_reqs:     .zero MMU_BATCH * 16      # ... here
con_len:      .zero 8                   # bytes in the console's line buffer
conbuf:       .zero CONBUF_SIZE
        .balign 16
kstack:       .zero KSTACK_SIZE
kstack_top:
__bss_end:
