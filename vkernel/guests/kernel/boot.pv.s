# kernel/boot.pv.s -- the kernel's first instructions (twin: boot.native.s).
#
# The hypervisor enters _start in (virtual) S-mode -- really the machine's U-mode -- with
# a0 = the start info page, events masked, and paging on: its boot table maps our RAM at
# the same virtual addresses. The start info says where the hypervisor's pages are (the
# shared-info page, mfn_list, m2p: docs/paravirt.md). Where traps go is a hypercall, not a
# CSR: set_trap_table (the trap entry) and stack_switch (the kernel stack for traps from
# U). Then the common boot (kernel/boot.s), and the first process.
        .equ  START_MAGIC,  0x302e312d76706b76   # "vkpv-1.0", little-endian
        .equ  START_SHARED_INFO, 16
        .equ  START_MFN_LIST,    24
        .equ  START_M2P,         32
        .equ  START_M2P_FIRST,   40
        .equ  HYPERVISOR_set_trap_table, 0
        .equ  HYPERVISOR_stack_switch,   3

_start:
        mv    s0, a0                    # the start info (cur_tf = 0 with .bss: the kernel)
        la    sp, kstack_top
        call  zero_bss                  # a loader might not have
        ld    t0, 0(s0)                 # is it a hypervisor we know?
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
        call  kernel_init               # memory, paging, the self-check, the processes
        j     schedule                  # never returns (return_to_user irets to U)

# ---- hypercalls: a7 = number, a0.. = arguments; the hypervisor changes only a0 ----
hyp_set_trap_table:                     # (a0 = trap entry)
        li    a7, HYPERVISOR_set_trap_table
        ecall
        ret

hyp_stack_switch:                       # (a0 = the kernel stack for traps from U)
        li    a7, HYPERVISOR_stack_switch
        ecall
        ret

        .section .rodata
msg_bad_start_info: .asciz "not started by the vkpv-1.0 hypervisor (start info magic)"
        .bss
        .balign 8
shared_info:  .zero 8                   # where the hypervisor's pages are (start info)
mfn_list:     .zero 8
m2p:          .zero 8
m2p_first:    .zero 8                   # the machine frame number of m2p's entry 0
        .text
