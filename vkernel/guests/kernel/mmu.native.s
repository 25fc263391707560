# kernel/mmu.native.s -- page tables, address spaces and the TLB (twin: mmu.pv.s).
#
# Natively the kernel owns its page tables outright: a PTE is a store to memory, an
# address space is loaded with `csrw satp`, and stale translations are dropped with
# `sfence.vma`. Page tables hold physical page numbers, and the kernel's RAM is mapped
# with 2 MiB megapages. (Linux calls these operations set_pte, write_cr3/switch_mm and
# flush_tlb_*: exactly the ones its paravirt_ops let a hypervisor replace.)
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
# satp = Sv39 | ASID | root: every process has its own ASID (its pid), so switching
# address spaces needs no TLB flush.
        .equ  SCRATCH_VA,  0x10001000       # the pte-update benchmark's page slot
        .equ  KERNEL_RWX,  PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D
        .equ  KERNEL_RW,   PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D
        .equ  SATP_SV39,   8 << 60
        .equ  SATP_ASID_SHIFT, 44
        .equ  SSTATUS_SUM, 1 << 18          # S may load and store U pages
        .equ  P_SATP,      272              # a process's satp (its slot, kernel/constants.s)

        # kalloc_pt's last step (kernel/memory.s): the page-table page must be zero
        .macro zero_pt_page
        j     zero_page                 # tail call: it returns a0
        .endm
        # t1 = a valid non-leaf PTE -> s0 = the table it points to: its PPN is the address
        .macro next_table
        srli  t1, t1, 10
        slli  s0, t1, 12
        .endm
        # page-table changes are stores: done at once, nothing to send
        .macro mmu_sync
        .endm
        # load process s0's address space; the ASID tags the TLB, so no flush is needed
        .macro switch_space
        ld    t1, P_SATP(s0)
        csrw  satp, t1
        .endm
        .macro tlb_flush_all            # forget every translation
        sfence.vma
        .endm
        .macro tlb_flush_page va        # forget the translation of one page
        sfence.vma \va
        .endm
        .macro tlb_flush_space          # forget process s0's translations (its ASID)
        ld    t0, P_PID(s0)
        sfence.vma zero, t0
        .endm
        # S may read user pages only with sstatus.SUM set (Linux: stac, clac)
        .macro user_access_on
        li    t0, SSTATUS_SUM
        csrs  sstatus, t0
        .endm
        .macro user_access_off
        li    t0, SSTATUS_SUM
        csrc  sstatus, t0
        .endm

# set_pte(a0 = address of a PTE, a1 = physical page, a2 = flags): a store. The caller
# fences (sfence.vma) when the table is live.
set_pte:
        srli  a1, a1, 12
        slli  a1, a1, 10
        or    a1, a1, a2
        sd    a1, 0(a0)
        ret

# as_create(s0 = process slot, its pid set) -> a0 = the root its user pages are mapped in
# (see the top of the file); sets P_ROOT and P_SATP.
as_create:
        addi  sp, sp, -32
        sd    ra, 24(sp)
        sd    s1, 16(sp)
        sd    s2, 8(sp)
        call  kalloc_pt
        mv    s1, a0
        sd    a0, P_ROOT(s0)
        ld    a1, kernel_root
        call  copy_page
        call  kalloc_pt
        mv    s2, a0
        ld    a1, 0(s1)                 # root[0] still points to the kernel's L1
        srli  a1, a1, 10
        slli  a1, a1, 12
        call  copy_page
        srli  t0, s2, 12
        slli  t0, t0, 10
        ori   t0, t0, PTE_V
        sd    t0, 0(s1)                 # root[0] -> the private copy
        ld    t0, P_PID(s0)             # satp = Sv39 | ASID (the pid) | root PPN
        slli  t0, t0, SATP_ASID_SHIFT
        srli  t1, s1, 12
        or    t0, t0, t1
        li    t1, SATP_SV39
        or    t0, t0, t1
        sd    t0, P_SATP(s0)
        mv    a0, s1
        ld    ra, 24(sp)
        ld    s1, 16(sp)
        ld    s2, 8(sp)
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

# vk_bench kind 3 (kernel/syscalls.s; s1 = n): n rewrites of the scratch PTE, each fenced:
# mapped, unmapped, mapped, ...
bench_pte_update:
        ld    s2, scratch_pte
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
