# kernel.s -- a small Unix-like supervisor-mode kernel, the guest of vkernel's hypervisors.
#
# It is entered in S-mode at 0x8020_0000 with paging off (by vkernel/guests/sbi.s natively,
# or by a hypervisor), and runs the user programs of one "workload" as processes: it gives
# each an Sv39 address space, schedules them round-robin with a timer, serves their system
# calls, maps their heap on demand, and shuts the machine down when they have all exited.
#
# It is written to be run UNMODIFIED under several virtualization techniques, so it talks
# to the machine only through:
#   * SBI calls (ecall to the firmware or hypervisor): sbi_set_timer, the debug console,
#     system reset. Never the CLINT, never stimecmp, never the UART for output;
#   * the S-mode CSRs sstatus (its SIE, SPP and SUM bits), sie, stvec, sscratch, sepc,
#     scause, stval, satp and `rdtime`; the instructions sret and sfence.vma;
#   * memory: its own guest-physical RAM 0x8020_0000..0x8080_0000, and -- only in the
#     "device" benchmark -- loads from the UART's line status register.
# Every one of those "sensitive" instructions is something a hypervisor has to get right.
#
# ---- memory ------------------------------------------------------------------------------
# Guest physical (the kernel maps all of it at the same virtual addresses, so a kernel
# pointer is its physical address):
#   0x8000_0000 .. 0x8020_0000  firmware (the kernel never touches it)
#   0x8020_0000 .. 0x8030_0000  this kernel: .text, .rodata (with the workload's program
#                               images), .bss (process table, output buffers, stack)
#   0x8030_0000 .. 0x8040_0000  page-table pool: every page-table page, plus the scratch
#                               page of the pte-update benchmark (bump allocator, zeroed)
#   0x8040_0000 .. 0x8080_0000  user pool: every page a process can see: program, stack,
#                               heap (bump allocator, zeroed). Pages are handed out in an
#                               order that does not depend on timing, so the guest-physical
#                               layout of user memory is the same in every run.
#   0x1000_0000                 the UART (mapped at the same virtual address, not U)
#
# Kernel page table (satp ASID 0 at boot; its entries are shared by every process):
#   root[2]  -> L1: four 2 MiB megapages identity-mapping 0x8000_0000..0x8080_0000, R W X,
#               global, not U
#   root[0]  -> L1[128] -> L0: [0] the UART page 0x1000_0000 (R W, global, not U)
#                              [1] the scratch slot SCRATCH_VA 0x1000_1000, rewritten by the
#                                  pte-update benchmark (invalid otherwise)
# A process's root is a copy of the kernel's root, except that root[0] (VA 0..1 GiB, where
# both the UART and the user's program live) points to a private copy of the kernel's
# L1 there: the user's own L0 hangs off it, and L1[128] still points to the shared L0.
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
# table. Each slot begins with the process's TRAP FRAME: slot 0 holds sepc, slot i
# (1..31) register xi. The sscratch convention (Linux's): while a process runs in U,
# sscratch holds its trap-frame address; while the kernel runs, sscratch is 0. The trap
# vector swaps t6 with sscratch: non-zero means "from U: save the user's registers here",
# zero means "the kernel was interrupted". sstatus.SPP (the mode the trap came from) must
# agree, and is checked.
#
# The kernel has ONE stack (kstack): it never sleeps inside a system call, so a trap from
# U always starts on an empty kernel stack, and a switch to another process just reloads
# that process's trap frame and srets. The kernel runs with interrupts off (sstatus.SIE
# = 0) except in the boot self-check and the irq-mask benchmark; a timer tick that
# arrives then is counted and leaves need_resched set.
#
# Scheduling: round robin over runnable slots. Every switch to a process (and every time
# a process gets a new time slice) arms the timer with sbi_set_timer(now + TIME_SLICE)
# and, if the address space changes, writes satp (ASID = pid). A timer interrupt from U
# preempts; sched_yield, exit and being killed give up the CPU at once.
#
# Output: write() appends to the process's own 2 KiB buffer instead of printing, because
# with preemption the interleaving of two processes' lines depends on timing, and the
# output must be byte-identical under every virtualization technique. When every process
# has exited, the kernel prints the buffers in pid order, each line prefixed "[pid] ",
# then one "halt: pid N exit S" line per process, and calls sbi_system_reset(0, 0).
# Boot messages and panics are printed at once, with sbi_debug_console_write_byte.
#
# System calls (RISC-V Linux numbers; a7 = number, a0..a2 = arguments, a0 = result):
#   write(64: fd ignored, buf, len)  -> len, or -14 (EFAULT) if buf..buf+len is not all in
#                                       the program image or the stack
#   exit(93: status)                    never returns; status & 0xff is reported
#   sched_yield(124)                 -> 0
#   getpid(172)                      -> pid (1..NPROC)
#   vk_bench(500: kind, n)           -> 0, or -22 (EINVAL) for an unknown kind: do n of
#        kind 0 call-return  calls and returns of an empty kernel function
#        kind 1 irq-mask     csrc sstatus,SIE / csrs sstatus,SIE pairs (SIE restored after)
#        kind 2 device       byte loads of the UART's line status register
#        kind 3 pte-update   rewrites of the scratch PTE, each followed by sfence.vma
#   anything else                    -> -38 (ENOSYS)
# Other traps from U: breakpoint (ebreak, c.ebreak): skipped, the process continues;
# load/store page fault in the heap: demand paging; anything else kills the process
# ("killed: <cause> (pc .., address ..)" in its output; exit status 132 for an illegal
# instruction, 139 otherwise, like a shell reports SIGILL and SIGSEGV).
#
# The boot self-check (selfcheck_interrupts) is a Popek-Goldberg experiment: it only
# passes if `csrc sstatus, SIE` really masks interrupts and `csrr sstatus` really shows it.
#
# The workload -- workload_name, workload_table and the program images -- is appended to
# this file by vkernel/guests/__init__.py (see there); it is not in this file.

        .option rvc

        .equ NPROC,        4
        .equ TIME_SLICE,   500              # mtime ticks per time slice (native: 10 instr.)
        .equ OUTBUF_SIZE,  2048             # bytes of output kept per process
        .equ KSTACK_SIZE,  8192
        .equ PAGE,         4096

        # guest physical memory
        .equ RAM_BASE,     0x80000000
        .equ RAM_END,      0x80800000
        .equ MEGAPAGE,     0x200000
        .equ KPOOL_BASE,   0x80300000
        .equ KPOOL_END,    0x80400000
        .equ UPOOL_BASE,   0x80400000
        .equ UPOOL_END,    0x80800000
        .equ UART,         0x10000000
        .equ UART_LSR,     5
        .equ SCRATCH_VA,   0x10001000       # the pte-update benchmark's page slot

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
        .equ KERNEL_RWX,   PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D
        .equ KERNEL_RW,    PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D
        .equ USER_RX,      PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
        .equ USER_RW,      PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
        .equ SATP_SV39,    8 << 60
        .equ SATP_ASID_SHIFT, 44

        # CSR bits
        .equ SSTATUS_SIE,  1 << 1
        .equ SSTATUS_SPP,  1 << 8           # the mode a trap came from: 1 = S, 0 = U
        .equ SSTATUS_SUM,  1 << 18          # S may load and store U pages
        .equ SIE_STIE,     1 << 5
        .equ IRQ_S_TIMER,  (1 << 63) | 5    # scause of the S timer interrupt
        .equ SCAUSE_ILLEGAL,      2
        .equ SCAUSE_BREAKPOINT,   3
        .equ SCAUSE_ECALL_U,      8
        .equ SCAUSE_LOAD_PAGE_FAULT,  13
        .equ SCAUSE_STORE_PAGE_FAULT, 15

        # SBI (extension id in a7, function id in a6)
        .equ EID_TIME,     0x54494D45
        .equ EID_DBCN,     0x4442434E
        .equ EID_SRST,     0x53525354

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
        .equ TF_EPC,       0                # sepc; register xi is at 8*i
        .equ TF_RA,        1 * 8
        .equ TF_SP,        2 * 8
        .equ TF_A0,        10 * 8
        .equ TF_A1,        11 * 8
        .equ TF_A2,        12 * 8
        .equ TF_A7,        17 * 8
        .equ TF_T6,        31 * 8
        .equ P_STATE,      256              # P_FREE, P_RUNNABLE or P_EXITED
        .equ P_PID,        264
        .equ P_SATP,       272              # Sv39 | pid << 44 | root's page number
        .equ P_STATUS,     280              # exit status
        .equ P_OUTLEN,     288              # bytes in the output buffer
        .equ P_OUTBUF,     296              # its address
        .equ P_IMGEND,     304              # user VA just past the program image
        .equ P_ROOT,       312              # the root page table (physical address)
        .equ P_SIZE,       512
        .equ P_FREE,       0
        .equ P_RUNNABLE,   1
        .equ P_EXITED,     2

        .text
        .globl _start
# ==== boot =================================================================================
_start:
        csrw  sscratch, zero            # we are in the kernel
        la    sp, kstack_top
        la    t0, __bss_start           # zero .bss ourselves: a loader might not have
        la    t1, __bss_end
1:      bgeu  t0, t1, 2f
        sd    zero, 0(t0)
        addi  t0, t0, 8
        j     1b
2:      la    t0, trap_vector
        csrw  stvec, t0                 # direct mode: every trap enters at trap_vector
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
        li    t0, SSTATUS_SPP           # sret goes to U from now on
        csrc  sstatus, t0
        j     schedule                  # never returns

# ==== the Popek-Goldberg self-check ========================================================
# Make a timer interrupt pending while interrupts are masked, and check that it waits:
#   1. sie.STIE = 1, sstatus.SIE = 0 (csrc), then sbi_set_timer(now): the tick is due;
#   2. spin ~2000 instructions: no interrupt may be taken (the trap handler counts ticks);
#   3. csrr sstatus must show SIE = 0;
#   4. csrs sstatus.SIE: now the pending tick must be taken, in the kernel, exactly once.
# A hypervisor that lets the guest kernel's csrc/csrs/csrr of sstatus run unprivileged
# without trapping (x86's POPF problem) fails step 2 or 3.
selfcheck_interrupts:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        li    t0, SIE_STIE
        csrs  sie, t0                   # S timer interrupts may come, when SIE allows
        csrc  sstatus, 2                # SIE = 0: interrupts off
        rdtime a0
        call  sbi_set_timer             # due now: pending from here on
        li    t0, 1000
1:      addi  t0, t0, -1                # 2 instructions a turn
        bnez  t0, 1b
        ld    t0, ticks
        la    a0, msg_irq_off
        bnez  t0, panic                 # taken although masked
        csrr  t0, sstatus
        andi  t0, t0, SSTATUS_SIE
        la    a0, msg_sie_reads_1
        bnez  t0, panic                 # the mask did not stick (or reads wrong)
        csrs  sstatus, 2                # SIE = 1: interrupts on; the tick is taken now
        li    t0, 100000
2:      ld    t1, ticks
        bnez  t1, 3f
        addi  t0, t0, -1
        bnez  t0, 2b
3:      csrc  sstatus, 2                # and off again: the kernel runs with them off
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

# ==== memory: allocators and page tables ===================================================
# kalloc_pt() -> a0: a zeroed page from the page-table pool (panics when it is empty)
kalloc_pt:
        la    t0, kpool_next
        ld    a0, 0(t0)
        li    t1, KPOOL_END
        bgeu  a0, t1, 1f
        li    t1, PAGE
        add   t1, a0, t1
        sd    t1, 0(t0)
        j     zero_page                 # tail call: it returns a0
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

# walk(a0 = root, a1 = va, a2 = allocate?) -> a0 = address of the level-0 PTE for va (0 if
# a table on the way is missing and a2 = 0), a1 = 1 if it had to allocate a table.
# Like the MMU: VPN[2] = va[38:30] indexes the root, VPN[1] = va[29:21] the level-1
# table, VPN[0] = va[20:12] the level-0 table. Only for addresses mapped with 4 KiB
# pages: a leaf (a PTE with R, W or X) on the way is a kernel bug.
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
        srli  t1, a0, 12
        slli  t1, t1, 10
        ori   t1, t1, PTE_V             # V alone: a pointer to the next level
        sd    t1, 0(s5)
        li    s4, 1
2:      andi  t2, t1, PTE_R | PTE_W | PTE_X
        la    a0, msg_walk_leaf
        bnez  t2, panic
        srli  t1, t1, 10                # the PTE's PPN ...
        slli  s0, t1, 12                # ... is the next table's physical address
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
# creating tables as needed. The caller fences (sfence.vma) when the table is live.
map_page:
        addi  sp, sp, -32
        sd    ra, 24(sp)
        sd    s0, 16(sp)
        sd    s1, 8(sp)
        mv    s0, a2
        mv    s1, a3
        li    a2, 1
        call  walk
        srli  t0, s0, 12
        slli  t0, t0, 10
        or    t0, t0, s1
        sd    t0, 0(a0)
        ld    ra, 24(sp)
        ld    s0, 16(sp)
        ld    s1, 8(sp)
        addi  sp, sp, 32
        ret

# kvm_init(): build the kernel's page table (see the top of the file) and turn paging on.
kvm_init:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        sd    s0, 0(sp)
        call  kalloc_pt
        mv    s0, a0
        la    t0, kernel_root
        sd    a0, 0(t0)
        call  kalloc_pt                 # root[2] (VA 0x8000_0000..) -> an L1 of megapages
        srli  t0, a0, 12
        slli  t0, t0, 10
        ori   t0, t0, PTE_V
        sd    t0, 2*8(s0)
        li    t1, ((RAM_BASE >> 12) << 10) | KERNEL_RWX
        li    t2, (MEGAPAGE >> 12) << 10     # the PPN step from one megapage to the next
        li    t3, (RAM_END - RAM_BASE) / MEGAPAGE
1:      sd    t1, 0(a0)                 # L1[0..3]: VA bits 29..21 of 0x8000_0000 are 0
        add   t1, t1, t2
        addi  a0, a0, 8
        addi  t3, t3, -1
        bnez  t3, 1b
        mv    a0, s0                    # the UART page; walk() builds root[0] -> L1 -> L0
        li    a1, UART
        li    a2, 1
        call  walk
        li    t0, ((UART >> 12) << 10) | KERNEL_RW
        sd    t0, 0(a0)
        mv    a0, s0                    # the scratch slot: its PTE stays 0 (invalid) until
        li    a1, SCRATCH_VA            # the pte-update benchmark rewrites it
        li    a2, 1
        call  walk
        la    t0, scratch_pte
        sd    a0, 0(t0)
        call  kalloc_pt                 # the page the scratch slot maps
        la    t0, scratch_page
        sd    a0, 0(t0)
        srli  t0, s0, 12                # satp: Sv39, ASID 0, the root's page number
        li    t1, SATP_SV39
        or    t0, t0, t1
        csrw  satp, t0                  # paging on: we run at the same addresses
        sfence.vma                      # forget any translation from before
        la    a0, msg_paging
        call  kputs
        ld    ra, 8(sp)
        ld    s0, 0(sp)
        addi  sp, sp, 16
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
        sfence.vma                      # new page tables: no stale translation may remain
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
        # the address space: a copy of the kernel's root, with a private copy of the
        # L1 table behind root[0] (the user's pages go there, next to the UART's)
        call  kalloc_pt
        mv    s5, a0
        sd    a0, P_ROOT(s0)
        ld    a1, kernel_root
        call  copy_page
        call  kalloc_pt
        mv    s6, a0
        ld    a1, 0(s5)                 # root[0] still points to the kernel's L1
        srli  a1, a1, 10
        slli  a1, a1, 12
        call  copy_page
        srli  t0, s6, 12
        slli  t0, t0, 10
        ori   t0, t0, PTE_V
        sd    t0, 0(s5)                 # root[0] -> the private copy
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
        # the first "return" to U: pc = entry, sp = top of stack, other registers 0
        sd    s4, TF_EPC(s0)
        li    t0, STACK_TOP
        sd    t0, TF_SP(s0)
        slli  t0, s3, 12
        li    t1, USER_VA
        add   t0, t0, t1
        sd    t0, P_IMGEND(s0)
        ld    t0, P_PID(s0)             # satp = Sv39 | ASID (the pid) | root PPN
        slli  t0, t0, SATP_ASID_SHIFT
        srli  t1, s5, 12
        or    t0, t0, t1
        li    t1, SATP_SV39
        or    t0, t0, t1
        sd    t0, P_SATP(s0)
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
        ld    t0, satp_owner
        beq   t0, s0, 4f
        ld    t1, P_SATP(s0)
        csrw  satp, t1                  # switch address spaces; the ASID tags the TLB,
        la    t0, satp_owner            # so no flush is needed
        sd    s0, 0(t0)
4:      la    t0, need_resched
        sd    zero, 0(t0)
        rdtime a0
        li    t0, TIME_SLICE
        add   a0, a0, t0
        call  sbi_set_timer             # the next preemption (and acknowledges the last)
        j     return_to_user

# return_to_user(s0 = process): load its trap frame and sret to U.
return_to_user:
        ld    t0, TF_EPC(s0)
        csrw  sepc, t0
        csrw  sscratch, s0              # the next trap from U saves into this frame
        mv    t6, s0
        ld    ra, 1*8(t6)
        ld    sp, 2*8(t6)
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
        ld    a7, 17*8(t6)
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
        sret                            # to U (sstatus.SPP = 0) at sepc

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
7:      li    a0, 0                     # type 0: shutdown
        li    a1, 0                     # reason 0: no failure
        call  sbi_system_reset
        j     .

# ==== traps ================================================================================
        .align 2
trap_vector:
        csrrw t6, sscratch, t6          # t6 = trap frame (from U) or 0 (from the kernel)
        beqz  t6, kernel_trap
        # ---- from U: save every user register into the process's trap frame ----
        sd    ra, 1*8(t6)
        sd    sp, 2*8(t6)
        sd    gp, 3*8(t6)
        sd    tp, 4*8(t6)
        sd    t0, 5*8(t6)
        sd    t1, 6*8(t6)
        sd    t2, 7*8(t6)
        sd    s0, 8*8(t6)
        sd    s1, 9*8(t6)
        sd    a0, 10*8(t6)
        sd    a1, 11*8(t6)
        sd    a2, 12*8(t6)
        sd    a3, 13*8(t6)
        sd    a4, 14*8(t6)
        sd    a5, 15*8(t6)
        sd    a6, 16*8(t6)
        sd    a7, 17*8(t6)
        sd    s2, 18*8(t6)
        sd    s3, 19*8(t6)
        sd    s4, 20*8(t6)
        sd    s5, 21*8(t6)
        sd    s6, 22*8(t6)
        sd    s7, 23*8(t6)
        sd    s8, 24*8(t6)
        sd    s9, 25*8(t6)
        sd    s10, 26*8(t6)
        sd    s11, 27*8(t6)
        sd    t3, 28*8(t6)
        sd    t4, 29*8(t6)
        sd    t5, 30*8(t6)
        csrr  t5, sscratch              # the user's t6, parked there by the swap
        sd    t5, 31*8(t6)
        csrw  sscratch, zero            # in the kernel now
        csrr  t5, sepc
        sd    t5, TF_EPC(t6)
        mv    s0, t6                    # s0 = the current process, all through the kernel
        la    sp, kstack_top
        csrr  t0, sstatus               # sscratch said "from U": so must sstatus.SPP
        andi  t0, t0, SSTATUS_SPP
        la    a0, msg_spp_user
        bnez  t0, panic
        csrr  a0, scause
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

# ---- a trap while the kernel ran: only a timer tick with interrupts on is expected ----
kernel_trap:
        csrrw t6, sscratch, t6          # undo the swap: t6 back, sscratch 0 again
        addi  sp, sp, -128              # save what a call may clobber, on the kernel stack
        sd    ra, 0*8(sp)
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
        sd    a7, 15*8(sp)
        csrr  t0, sstatus               # sscratch said "from the kernel": so must SPP
        andi  t0, t0, SSTATUS_SPP
        la    a0, msg_spp_kernel
        beqz  t0, panic
        csrr  t0, scause
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
        li    a0, -1                    # acknowledge (clears the pending bit) with no new
        call  sbi_set_timer             # deadline: schedule() arms the next slice
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
        ld    a7, 15*8(sp)
        addi  sp, sp, 128
        sret                            # back into the kernel (SPP = S), SIE as it was

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
        csrr  a0, scause
        call  kput_hex
        la    a0, msg_sepc
        call  kputs
        csrr  a0, sepc
        call  kput_hex
        la    a0, msg_stval
        call  kputs
        csrr  a0, stval
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
# was just fetched from, so its page is mapped; sstatus.SUM lets S read a U page.
fetch_user_insn:
        li    t0, SSTATUS_SUM
        csrs  sstatus, t0
        lhu   t1, 0(a0)                 # 2-byte aligned, maybe not 4: two halves
        andi  t2, t1, 3
        li    t3, 3
        bne   t2, t3, 1f                # a compressed instruction: 16 bits
        lhu   t2, 2(a0)
        slli  t2, t2, 16
        or    t1, t1, t2
1:      csrc  sstatus, t0
        mv    a0, t1
        ret

# ---- demand paging: a load or store page fault in the heap maps a fresh page ----
page_fault:
        csrr  s1, stval                 # the address that faulted
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
        srli  t0, a0, 12
        slli  t0, t0, 10
        ori   t0, t0, USER_RW
        sd    t0, 0(s2)                 # the new mapping ...
        sfence.vma s1                   # ... and no stale translation of that page
        beqz  s3, 1f
        ld    t0, P_PID(s0)             # a new table (a non-leaf PTE changed): flush
        sfence.vma zero, t0             # the whole address space
1:      j     ret_from_trap             # sret retries the access

# ---- anything else from U: the process dies with a message in its output ----
kill:
        csrr  s1, scause
        csrr  s2, stval
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
        li    t0, SSTATUS_SUM
        csrs  sstatus, t0               # user memory readable from S (Linux: stac)
        add   s3, s1, s2
2:      lbu   a0, 0(s1)
        call  kputc
        addi  s1, s1, 1
        bltu  s1, s3, 2b
        li    t0, SSTATUS_SUM
        csrc  sstatus, t0               # and not any more (Linux: clac)
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

bench_irq_mask:                         # n times: interrupts off, interrupts on
        csrr  s2, sstatus
        andi  s2, s2, SSTATUS_SIE       # as they were (off: we are in the kernel)
1:      beqz  s1, 2f
        csrc  sstatus, 2
        csrs  sstatus, 2                # a pending tick is taken here: kernel_trap
        addi  s1, s1, -1
        j     1b
2:      csrc  sstatus, 2
        csrs  sstatus, s2               # back as they were
        j     bench_done

bench_device:                           # n reads of the UART's line status register
        li    t0, UART + UART_LSR
1:      beqz  s1, bench_done
        lbu   t1, 0(t0)
        addi  s1, s1, -1
        j     1b

bench_pte_update:                       # n rewrites of the scratch PTE, each fenced:
        ld    s2, scratch_pte           # mapped, unmapped, mapped, ...
        ld    t0, scratch_page
        srli  t0, t0, 12
        slli  t0, t0, 10
        ori   s3, t0, KERNEL_RW
        li    s4, SCRATCH_VA
        li    s5, 0
1:      beqz  s1, bench_done
        xor   s5, s5, s3
        sd    s5, 0(s2)
        sfence.vma s4
        addi  s1, s1, -1
        j     1b

# ==== output ===============================================================================
# kputc(a0 = byte): to the console (k_sink = 0) or into process k_sink's output buffer
# (dropped when it is full)
kputc:
        ld    t0, k_sink
        beqz  t0, sbi_putchar           # tail call
        ld    t1, P_OUTLEN(t0)
        li    t2, OUTBUF_SIZE
        bgeu  t1, t2, 1f
        ld    t2, P_OUTBUF(t0)
        add   t2, t2, t1
        sb    a0, 0(t2)
        addi  t1, t1, 1
        sd    t1, P_OUTLEN(t0)
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
        li    a0, 0
        li    a1, 1                     # reason 1: system failure
        call  sbi_system_reset
        j     .

# ==== SBI calls: a7 = extension, a6 = function; the firmware changes only a0 and a1 ====
sbi_putchar:                            # (a0 = byte)
        li    a7, EID_DBCN
        li    a6, 2
        ecall
        ret

sbi_set_timer:                          # (a0 = absolute time)
        li    a7, EID_TIME
        li    a6, 0
        ecall
        ret

sbi_system_reset:                       # (a0 = type, a1 = reason)
        li    a7, EID_SRST
        li    a6, 0
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
msg_irq_off:        .asciz "interrupt taken with interrupts off"
msg_sie_reads_1:    .asciz "sstatus.SIE reads 1 after csrc sstatus, SIE"
msg_irq_lost:       .asciz "timer interrupt not taken after csrs sstatus, SIE"
msg_irq_twice:      .asciz "timer interrupt taken more than once"
msg_irq_not_kernel: .asciz "timer interrupt not seen as taken in the kernel (sstatus.SPP)"
msg_spp_user:       .asciz "trap with sscratch set (from U) but sstatus.SPP = S"
msg_spp_kernel:     .asciz "trap with sscratch 0 (from the kernel) but sstatus.SPP = U"
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

# ==== variables (zeroed at boot) ===========================================================
        .bss
        .balign 8
__bss_start:
procs:        .zero NPROC * P_SIZE      # the process table (trap frames first)
outbufs:      .zero NPROC * OUTBUF_SIZE # each process's output
nproc:        .zero 8                   # slots in use
cur_slot:     .zero 8                   # the slot that ran last
satp_owner:   .zero 8                   # the process whose address space satp holds
need_resched: .zero 8                   # a tick came while the kernel ran
ticks:        .zero 8                   # timer interrupts taken (from U or S)
ticks_kernel: .zero 8                   # ... of which in the kernel (sstatus.SPP = S)
k_sink:       .zero 8                   # where kputc goes: 0 = console, else a process
kpool_next:   .zero 8                   # the next free page-table page
upool_next:   .zero 8                   # the next free user page
kernel_root:  .zero 8                   # the kernel's root page table
scratch_pte:  .zero 8                   # address of the scratch slot's PTE
scratch_page: .zero 8                   # the page it maps (when it does)
        .balign 16
kstack:       .zero KSTACK_SIZE
kstack_top:
__bss_end:
