# kernel/trap.native.s -- entering and leaving the kernel (twin: trap.pv.s).
#
# The CPU enters trap_vector (stvec) in S-mode with the trap in CSRs: scause (what),
# sepc (where), stval (the address or instruction), sstatus.SPP (the mode it came from),
# and interrupts off (sstatus.SIE = 0, the old value in SPIE). sret goes back: to SPP's
# mode, at sepc, with SIE = SPIE.
#
# The trap vector needs a free register to find where to save the others. The sscratch
# convention (Linux's): while a process runs in U, sscratch holds its trap-frame address;
# while the kernel runs, sscratch is 0. The trap vector swaps t6 with sscratch: non-zero
# means "from U: save the user's registers here", zero means "the kernel was
# interrupted". sstatus.SPP must agree, and is checked.

# what the trap was, for the handlers in kernel/traps.s
        .macro trap_cause rd
        csrr  \rd, scause
        .endm
        .macro trap_tval rd
        csrr  \rd, stval
        .endm
        .macro trap_epc rd
        csrr  \rd, sepc
        .endm

# return_to_user(s0 = process): load its trap frame and sret to U.
return_to_user:
        ld    t0, TF_EPC(s0)
        csrw  sepc, t0
        csrw  sscratch, s0              # the next trap from U saves into this frame
        mv    t6, s0
        .irp  i, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        ld    x\i, \i*8(t6)             # register xi from slot i: t6 (x31) last
        .endr
        sret                            # to U (sstatus.SPP = 0) at sepc

# ---- a trap while the kernel ran: only a timer tick with interrupts on is expected ----
kernel_trap:
        csrrw t6, sscratch, t6          # undo the swap: t6 back, sscratch 0 again
        addi  sp, sp, -256              # save what a call may clobber, on the kernel stack
        .irp  i, 1, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31
        sd    x\i, \i*8(sp)             # ra, t0-t6, a0-a7: xi at 8*i, as in a trap frame
        .endr
        csrr  t0, sstatus               # sscratch said "from the kernel": so must SPP
        andi  t0, t0, SSTATUS_SPP
        la    a0, msg_spp_kernel
        beqz  t0, panic
        csrr  a0, scause
        call  kernel_tick               # a timer tick (kernel/traps.s), or a panic
        .irp  i, 1, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 28, 29, 30, 31
        ld    x\i, \i*8(sp)
        .endr
        addi  sp, sp, 256
        sret                            # back into the kernel (SPP = S), SIE as it was

# ==== the trap vector ======================================================================
        .align 2
trap_vector:
        csrrw t6, sscratch, t6          # t6 = trap frame (from U) or 0 (from the kernel)
        beqz  t6, kernel_trap
        # ---- from U: save every user register into the process's trap frame ----
        .irp  i, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
        sd    x\i, \i*8(t6)             # register xi into slot i (t6, x31, is in sscratch)
        .endr
        csrr  t5, sscratch              # the user's t6, parked there by the swap
        sd    t5, TF_T6(t6)
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
        # falls through into user_trap (kernel/traps.s, included right after this file)

        .section .rodata
msg_spp_user:       .asciz "trap with sscratch set (from U) but sstatus.SPP = S"
msg_spp_kernel:     .asciz "trap with sscratch 0 (from the kernel) but sstatus.SPP = U"
        .text
