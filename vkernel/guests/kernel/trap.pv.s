# kernel/trap.pv.s -- entering and leaving the kernel (twin: trap.native.s).
#
# The kernel runs in the machine's U-mode, so a trap -- a system call, a fault, a timer
# event -- goes to the hypervisor first, which enters trap_vector (set_trap_table) with
# the trap described in the shared-info page's trap frame: cause, epc, tval, status (SPP:
# the mode it came from; SPIE: events were on), and the sp and a7 the trap interrupted;
# events masked, the kernel root loaded and, from U, sp = the kernel stack (stack_switch).
# a7 is therefore free for the handler. There is no sret: the iret hypercall returns, to
# the pc, mode and event mask in the trap frame, restoring sp and a7 from it.
#
# The cur_tf convention (kernel.s keeps it in sscratch): while a process runs in U, cur_tf
# holds its trap-frame address; while the kernel runs, cur_tf is 0. Non-zero means "from
# U: save the user's registers here", zero means "the kernel was interrupted". The
# frame's status.SPP must agree, and is checked.
        .equ  HYPERVISOR_iret, 23
        .equ  SSTATUS_SPIE, 1 << 5          # the trap frame's status: events were on
        .equ  SH_CAUSE,    64               # the shared-info page's trap frame: scause,
        .equ  SH_EPC,      72               # sepc,
        .equ  SH_TVAL,     80               # stval,
        .equ  SH_STATUS,   88               # sstatus (SPP, SPIE),
        .equ  SH_SP,       96               # and the sp and a7 the trap interrupted
        .equ  SH_A7,       104

# what the trap was, for the handlers in kernel/traps.s: loads from the trap frame
        .macro trap_cause rd
        ld    \rd, shared_info
        ld    \rd, SH_CAUSE(\rd)
        .endm
        .macro trap_tval rd
        ld    \rd, shared_info
        ld    \rd, SH_TVAL(\rd)
        .endm
        .macro trap_epc rd
        ld    \rd, shared_info
        ld    \rd, SH_EPC(\rd)
        .endm

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
        .irp  i, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        ld    x\i, \i*8(t6)             # register xi from slot i (not sp, a7): t6 last
        .endr
        li    a7, HYPERVISOR_iret
        ecall                           # to U at the frame's epc

# ---- a trap while the kernel ran: only a timer event with events on is expected ----
kernel_trap:
        addi  sp, sp, -256              # save what a call may clobber, on the kernel stack
        .irp  i, 1, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 28, 29, 30, 31
        sd    x\i, \i*8(sp)             # ra, t0-t6, a0-a6 (not a7: iret restores it)
        .endr
        ld    t5, shared_info
        ld    t0, SH_STATUS(t5)         # cur_tf said "from the kernel": so must SPP
        andi  t0, t0, SSTATUS_SPP
        la    a0, msg_spp_kernel
        beqz  t0, panic
        ld    a0, SH_CAUSE(t5)
        call  kernel_tick               # a timer event (kernel/traps.s), or a panic
        .irp  i, 1, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 28, 29, 30, 31
        ld    x\i, \i*8(sp)
        .endr
        addi  sp, sp, 256
        li    a7, HYPERVISOR_iret       # back into the kernel (SPP = S), events as they
        ecall                           # were (SPIE), sp and a7 as they were

# ==== the trap vector ======================================================================
        .align 2
trap_vector:
        ld    a7, cur_tf                # a7 = trap frame (from U) or 0 (from the kernel)
        beqz  a7, kernel_trap
        # ---- from U: save every user register into the process's trap frame ----
        .irp  i, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        sd    x\i, \i*8(a7)             # register xi into slot i (sp, a7: in the hypervisor's)
        .endr
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
        # falls through into user_trap (kernel/traps.s, included right after this file)

        .section .rodata
msg_spp_user:       .asciz "trap with cur_tf set (from U) but status.SPP = S"
msg_spp_kernel:     .asciz "trap with cur_tf 0 (from the kernel) but status.SPP = U"
        .bss
        .balign 8
cur_tf:       .zero 8                   # the running process's trap frame; 0: the kernel
        .text
