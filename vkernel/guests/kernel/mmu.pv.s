# kernel/mmu.pv.s -- page tables, address spaces and the TLB (twin: mmu.native.s).
#
# Para-virtualized, the kernel may read its page tables but not write them: the
# hypervisor maps them read-only and makes every change itself, after checking it
# (Xen's direct paging). A PTE is a request to the mmu_update hypercall (queued, and sent
# MMU_BATCH at a time); loading an address space and flushing the TLB are mmuext_op
# operations (NEW_BASEPTR, NEW_USER_BASEPTR, INVLPG, TLB_FLUSH).
#
# The page tables hold MACHINE frame numbers: the pseudo-physical pages (Xen's name for
# what the guest believes is its physical RAM) are scattered over the machine's memory.
# mfn_list (Xen's p2m) gives the machine frame of a page; m2p gives the page of a machine
# frame, to follow a table's pointers. The hypervisor checks every table it is given and
# every change against its rules: leaves map our own frames, 4 KiB, with U; page tables
# are never mapped writable. So the pool of page-table pages (0x8030_0000..0x8040_0000)
# is mapped READ-ONLY, and the kernel's RAM with 4 KiB pages, not megapages.
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
# The hypervisor gives every root its own ASID, so switching needs no flush. The UART is
# never mapped: the hypervisor emulates the loads that fault on it.
        .equ  SCRATCH_VA,  0x80800000       # the pte-update benchmark's page slot, in
                                            # root[2], which user roots do not have
        # the kernel's pages are U as well (it runs in U-mode) and not G (see above)
        .equ  KERNEL_RWX,  PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
        .equ  KERNEL_RW,   PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
        .equ  KERNEL_R,    PTE_V | PTE_R | PTE_U | PTE_A    # the page-table pool
        .equ  HYPERVISOR_mmu_update,    1
        .equ  HYPERVISOR_mmuext_op,     26
        .equ  MMUEXT_PIN_L3_TABLE,      2   # validate a root before it is ever loaded
        .equ  MMUEXT_NEW_BASEPTR,       5   # the kernel root
        .equ  MMUEXT_TLB_FLUSH_LOCAL,   6
        .equ  MMUEXT_INVLPG_LOCAL,      7
        .equ  MMUEXT_NEW_USER_BASEPTR,  15  # the user root
        .equ  MMU_BATCH,   16               # page-table updates sent per mmu_update
        .equ  P_KROOT,     272              # a process's kernel root (its slot)
        .equ  P_SWITCH,    320              # 2 mmuext ops: NEW_BASEPTR, NEW_USER_BASEPTR

        # kalloc_pt's last step (kernel/memory.s): the page is zero as the hypervisor gave
        # it to us. The pool is mapped read-only (page tables must be), so we could not
        # zero it with stores, and nothing but mmu_update writes it.
        .macro zero_pt_page
        ret
        .endm
        # t1 = a valid non-leaf PTE -> s0 = the table it points to. Its PPN is a machine
        # frame, whose page m2p gives (changes a0, t0..t2)
        .macro next_table
        srli  a0, t1, 10
        slli  a0, a0, 12
        call  ma_to_pa
        mv    s0, a0
        .endm
        # send the page-table updates still queued (a walk that follows does not see them)
        .macro mmu_sync
        call  mmu_flush
        .endm
        # load process s0's roots: its kernel root now, its user root for U, in one
        # hypercall. Each root has its own ASID, so no flush is needed
        .macro switch_space
        addi  a0, s0, P_SWITCH
        li    a1, 2
        call  mmuext_ops
        .endm
        .macro tlb_flush_all            # forget every translation
        li    a0, MMUEXT_TLB_FLUSH_LOCAL
        li    a1, 0
        call  mmuext
        .endm
        .macro tlb_flush_page va        # forget the translation of one page
        li    a0, MMUEXT_INVLPG_LOCAL
        mv    a1, \va
        call  mmuext
        .endm
        .macro tlb_flush_space          # forget process s0's translations: all of them
        tlb_flush_all
        .endm
        # every page is U here (the kernel runs in U-mode): user memory is readable as it is
        .macro user_access_on
        .endm
        .macro user_access_off
        .endm

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
# set_pte(a0 = address of a PTE, a1 = pseudo-physical page, a2 = flags): one request for
# the next mmu_update (kernel.s stores it at once): the PTE's machine address, and the PTE.
set_pte:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        sd    a0, 0(sp)
        mv    a0, a1
        mv    a1, a2
        call  make_pte
        mv    t3, a0                    # (pa_to_ma keeps t3)
        ld    a0, 0(sp)
        call  pa_to_ma
        mv    a1, t3
        ld    ra, 8(sp)
        addi  sp, sp, 16
        # fall through: queue it

# mmu_queue(a0 = machine address of a PTE, a1 = its new value): one request for the next
# mmu_update; a full batch is sent at once.
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

# as_create(s0 = process slot) -> a0 = the root its user pages are mapped in: a user root
# and a kernel root (see the top of the file), pinned: the hypervisor checks them as roots
# (empty), so that mmu_update may fill them before they are ever loaded. Sets P_ROOT,
# P_KROOT and P_SWITCH (the ops that load them).
as_create:
        addi  sp, sp, -48
        sd    ra, 40(sp)
        sd    s1, 32(sp)
        sd    s2, 24(sp)                # 0(sp): a PTE being made
        call  kalloc_pt
        mv    s1, a0
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
        li    s2, 0                     # root[0] and root[1] of both -> new L1 tables
1:      call  kalloc_pt
        li    a1, PTE_V
        call  make_pte
        sd    a0, 0(sp)
        slli  a0, s2, 3
        add   a0, a0, s1
        call  pa_to_ma
        ld    a1, 0(sp)
        call  mmu_queue                 # user root[i] -> it
        slli  a0, s2, 3
        ld    t0, P_KROOT(s0)
        add   a0, a0, t0
        call  pa_to_ma
        ld    a1, 0(sp)
        call  mmu_queue                 # kernel root[i] -> it
        addi  s2, s2, 1
        li    t0, 2
        bltu  s2, t0, 1b
        ld    a0, P_KROOT(s0)           # kernel root[2] -> the kernel's L1: its mappings
        addi  a0, a0, 2*8
        call  pa_to_ma
        ld    t0, kernel_root
        ld    a1, 2*8(t0)
        call  mmu_queue
        call  mmu_flush                 # now: map_page walks these roots next
        mv    a0, s1
        ld    ra, 40(sp)
        ld    s1, 32(sp)
        ld    s2, 24(sp)
        addi  sp, sp, 48
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
        li    t1, -1                    # (none: a page that starts ballooned out, not
        beq   t0, t1, 4f                # mapped: kernel/balloon.s)
        slli  t0, t0, 10
        or    t0, t0, a1
        sd    t0, 0(s3)
4:
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

# vk_bench kind 3 (kernel/syscalls.s; s1 = n): n rewrites of the scratch PTE: mapped,
# unmapped, mapped, ... MMU_BATCH of them to an mmu_update, each batch then fenced
bench_pte_update:
        ld    s2, scratch_pte
        ld    a0, scratch_page
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
        tlb_flush_page s4               # sent: forget the old translation
        j     1b
2:      ld    t0, mmu_count             # the last, partial batch
        beqz  t0, bench_done
        call  mmu_flush
        tlb_flush_page s4
        j     bench_done

        .section .rodata
msg_mmu_refused:    .asciz "the hypervisor refused a page-table update"
msg_mmuext_refused: .asciz "the hypervisor refused an MMU operation"
        .bss
        .balign 8
mmu_count:    .zero 8                   # requests queued for mmu_update ...
mmu_reqs:     .zero MMU_BATCH * 16      # ... here
        .text
