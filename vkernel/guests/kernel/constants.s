# kernel/constants.s -- what both kernels agree on: the memory layout, the page-table bits,
# the trap causes, the system calls and the process slot. (Each twin's own constants are at
# the top of kernel.s and kernel_pv.s.)
#
# ---- memory ------------------------------------------------------------------------------
# Guest physical (kernel_pv.s says pseudo-physical: see there). The kernel maps all of it at
# the same virtual addresses, so a kernel pointer is its physical address:
#   0x8000_0000 .. 0x8020_0000  firmware natively; the hypervisor's pages under paravirt
#                               (the kernel never touches the firmware)
#   0x8020_0000 .. 0x8030_0000  the kernel: .text, .rodata (with the workload's program
#                               images), .bss (process table, output buffers, stack)
#   0x8030_0000 .. 0x8040_0000  page-table pool: every page-table page, plus the scratch
#                               page of the pte-update benchmark (bump allocator, zeroed)
#   0x8040_0000 .. 0x8080_0000  user pool: every page a process can see: program, stack,
#                               heap (bump allocator, zeroed). Pages are handed out in an
#                               order that does not depend on timing, so the physical
#                               layout of user memory is the same in every run.
#   0x1000_0000                 the UART (only the "device" benchmark reads it)
# How the kernel maps itself and the UART: kernel/mmu.native.s, kernel/mmu.pv.s.
#
# User virtual memory (every process alike; U=1 pages):
#   0x0001_0000 ..         the program image: read-only pages first (code, constants:
#                          R X), then data and bss (R W). Entry point from the image table.
#   0x4000_0000 .. 0x4040_0000  heap: nothing mapped until touched; a load or store page
#                          fault there maps a fresh zeroed page (R W) -- demand paging
#   0x7FFF_D000 .. 0x7FFF_F000  stack, two pages (R W); sp starts at 0x7FFF_F000 and the
#                          page above is left unmapped, so running off the top faults

        .option rvc                         # compressed instructions wherever they fit

        .equ NPROC,        4
        .equ OUTBUF_SIZE,  2048             # bytes of output kept per process
        .equ CONBUF_SIZE,  256              # the console's line buffer
        .equ KSTACK_SIZE,  8192
        .equ PAGE,         4096

        # physical memory
        .equ RAM_BASE,     0x80000000
        .equ RAM_END,      0x80800000
        .equ MEGAPAGE,     0x200000
        .equ KPOOL_BASE,   0x80300000
        .equ KPOOL_END,    0x80400000
        .equ UPOOL_BASE,   0x80400000
        .equ UPOOL_END,    0x80800000
        .equ UART,         0x10000000
        .equ UART_LSR,     5

        # user virtual memory
        .equ USER_VA,      0x10000
        .equ HEAP_VA,      0x40000000
        .equ HEAP_END,     0x40400000
        .equ STACK_BOTTOM, 0x7FFFD000
        .equ STACK_TOP,    0x7FFFF000

        # Sv39 page-table entries (the kernel's own flags differ: see each twin's top)
        .equ PTE_V, 1
        .equ PTE_R, 2
        .equ PTE_W, 4
        .equ PTE_X, 8
        .equ PTE_U, 16
        .equ PTE_G, 32
        .equ PTE_A, 64
        .equ PTE_D, 128
        .equ USER_RX,      PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
        .equ USER_RW,      PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D

        # traps: the scause (and sstatus) encodings, which the PV trap frame keeps too
        .equ SSTATUS_SPP,  1 << 8           # the mode a trap came from: 1 = S, 0 = U
        .equ IRQ_S_TIMER,  (1 << 63) | 5    # the S timer interrupt (PV: the timer's event)
        .equ SCAUSE_ILLEGAL,      2
        .equ SCAUSE_BREAKPOINT,   3
        .equ SCAUSE_ECALL_U,      8
        .equ SCAUSE_LOAD_PAGE_FAULT,  13
        .equ SCAUSE_STORE_PAGE_FAULT, 15

        # system calls and errors: the ABI shared with the user programs
        .include "syscalls.inc"
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
                                            # 272: the address space (mmu.*.s: P_SATP,
                                            # P_KROOT)
        .equ P_STATUS,     280              # exit status
        .equ P_OUTLEN,     288              # bytes in the output buffer
        .equ P_OUTBUF,     296              # its address
        .equ P_IMGEND,     304              # user VA just past the program image
        .equ P_ROOT,       312              # the root its user pages are mapped in
                                            # 320..: mmu.pv.s's P_SWITCH
        .equ P_SIZE,       512
        .equ P_FREE,       0
        .equ P_RUNNABLE,   1
        .equ P_EXITED,     2

        # .bss starts here: every variable, in whichever file, lies between __bss_start
        # and __bss_end (kernel/data.s), and is zeroed at boot (kernel/boot.s, zero_bss)
        .bss
        .balign 8
__bss_start:
        .text
