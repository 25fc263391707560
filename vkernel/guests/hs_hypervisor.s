# hs_hypervisor.s -- a bare-metal hypervisor in machine code, for the RISC-V H extension.
#
# vkernel's Python hypervisors (vkernel/hv/) drive the machine from outside. This one runs
# ON it, like a real type-1 hypervisor (Xvisor, Bao, KVM's world switch in miniature): it
# is the first code the hart runs, it owns M and HS, and it runs vkernel/guests/kernel.s,
# unmodified, as a guest in VS-mode. The guest kernel cannot tell: its console output is
# byte for byte the output of a native run (tests/test_hs_hypervisor.py checks it, on
# vkernel and on QEMU with -cpu rv64,h=true).
#
# ---- machine memory (64 MiB of RAM from 0x8000_0000) ---------------------------------------
#   0x8000_0000  this file: code, messages, the guest's register frame, stacks
#   0x8070_0000  the G-stage page table: the Sv39x4 root (16 KiB, 16 KiB aligned), one L1
#                table, then four L0 tables (4 KiB each, contiguous)
#   0x8080_0000  the guest kernel's image as the loader left it (GUEST_IMAGE_PAGES pages,
#                placed by vkernel/guests/__init__.py); read once, at boot
#   0x8100_0000 .. 0x8180_0000  the guest's RAM: 2048 frames of 4 KiB, in a scrambled
#                order: guest page g lives in frame perm(g) = (g * 1229 + 611) mod 2048
#                (1229 is odd, so perm is a bijection on 0..2047). Neighbouring guest pages
#                land far apart, so nothing works unless the G-stage translation does.
#   0x1000_0000  the UART (16550) -- the hypervisor's console, never mapped for the guest
#                (its loads from it are emulated)
#   0x0010_0000  the SiFive test finisher -- how the machine is switched off
#
# ---- what the guest sees (guest-physical) --------------------------------------------------
#   0x8000_0000 .. 0x8080_0000  8 MiB of RAM, its kernel at 0x8020_0000 (the same layout as
#                a native boot, where vkernel/guests/sbi.s sits in the first 2 MiB). Nothing
#                else: any other guest-physical address is a guest-page fault. The UART's
#                registers (0x1000_0000..) may be read: the hypervisor emulates the load.
#
# ---- boot ----------------------------------------------------------------------------------
# In M (at reset): PMP open; every exception a guest or the hypervisor can cause, and the
# S-level interrupts, delegated to HS (medeleg, mideleg; the VS-level interrupts are
# delegated by the hardware); counters readable below M; Sstc on (menvcfg.STCE). Then mret
# into HS. M is never entered again: a trap into M is a bug, reported and fatal.
#
# In HS: build the G-stage table (4 KiB leaves, R W X U A D: a G-stage leaf must have U,
# every guest access is checked as a user access) and copy the kernel image page by page
# into the frames that back guest pages 0x8020_0000...; then
#   hgatp     = Sv39x4, VMID 1, the root
#   hedeleg   = what the guest kernel handles itself: misaligned fetches and loads, access
#               faults, breakpoints, ecalls from its programs (VU), page faults
#   hideleg   = VSSI, VSTI, VSEI: the guest's interrupts go straight to the guest
#   henvcfg   .STCE = 1: the guest's timer is vstimecmp (Sstc)
#   hcounteren= cycle, time, instret: the guest's rdtime runs without a trap
# and enter the guest: hstatus.SPV = 1 and sstatus.SPP = 1 (sret goes to VS), sepc =
# 0x8020_0000, every guest register 0 (a0 = hart id 0, a1 = 0: no device tree).
#
# ---- what traps to the hypervisor (its "VM exits") -----------------------------------------
# Every trap out of the guest enters hs_trap, which saves all 31 guest registers in
# guest_regs (the guest's a0..a7 stay live in the registers for the handlers; results go
# into the frame) and returns through hs_return, which reloads them all and srets.
#   * ecall from VS (cause 10): an SBI call (SBI v2 convention, as sbi.s answers it):
#       TIME set_timer(t)        vstimecmp = t. The hardware raises VSTIP when time >= t
#                                and delivers it to the guest as its S timer interrupt;
#                                a later t clears it. The interrupt itself is no exit,
#                                and the hypervisor needs no timer of its own
#       DBCN console_write       num_bytes at guest-physical base_addr_lo (a0, a1, a2):
#                                each byte read through the G-stage table (the leaf of
#                                its guest page, as the hardware finds it), to the UART.
#                                A range not all in guest RAM: a0 = -3
#                                (SBI_ERR_INVALID_PARAM), and nothing is read
#            console_write_byte  the byte to the UART (polled)
#       SRST system_reset        the test finisher: 0x5555 for reason 0, else
#                                (reason << 16) | 0x3333
#       anything else            a0 = -2 (SBI_ERR_NOT_SUPPORTED)
#   * virtual instruction (22): the guest did something only HS may do (in VU: touched a
#     supervisor CSR, e.g. `csrr sstatus`). On the machine the guest thinks it has, that
#     is an illegal instruction: the hypervisor injects one (cause 2, the same tval).
#   * illegal instruction (2) and store/AMO misaligned (6) from the guest: reflected to it
#     the same way (inject). The hardware could do that itself through hedeleg, but QEMU 7.2
#     delivers exception causes 2, 6 (and 10) delegated to VS with vscause 1, 5, 9 (it
#     "translates" them as if they were the VS interrupt numbers); injecting by hand is
#     correct everywhere and costs an exit on a rare event.
#   * guest-page faults (20, 21, 23): the guest touched guest-physical memory it does not
#     have. A load from the UART's registers is emulated (see guest_page_fault); anything
#     else is printed, and the machine stops.
#   * anything else (an interrupt, a trap from HS itself): printed, and the machine stops.
# Injecting exception `cause` into the guest does what the hardware does on a trap into
# VS: vsepc = sepc, vscause, vstval; vsstatus.SPP = the mode it came from, SPIE = SIE,
# SIE = 0; and the sret goes to VS at vstvec's base.
#
# A failure ends the run through the finisher with exit code 0xFE (hypervisor) or 0xFF
# (a trap into M), after a line "hs: ..." on the UART.

        .equ GUEST_RAM,     0x80000000   # guest-physical RAM base ...
        .equ GUEST_PAGES,   2048         # ... and its size in pages (8 MiB)
        .equ GUEST_ENTRY,   0x80200000   # where the kernel starts, guest-physical
        .equ GUEST_FRAMES,  0x81000000   # machine: the frames behind guest RAM
        .equ PERM_MUL,      1229         # guest page g -> frame (g * PERM_MUL + PERM_ADD)
        .equ PERM_ADD,      611          #                       mod GUEST_PAGES
        .equ GUEST_IMAGE,   0x80800000   # machine: the kernel image, as loaded
        .equ GUEST_IMAGE_PAGES, 0        # its size (set by vkernel/guests/__init__.py)
        .equ GSTAGE_ROOT,   0x80700000   # Sv39x4 root: 2048 entries, 16 KiB
        .equ GSTAGE_L1,     0x80704000   # covers guest-physical 0x8000_0000..0xC000_0000
        .equ GSTAGE_L0,     0x80705000   # four tables: guest pages 0..2047, in order
        .equ GSTAGE_END,    0x80709000
        .equ VMID,          1
        .equ PAGE,          4096

        .equ UART,          0x10000000
        .equ UART_LSR,      5
        .equ LSR_THRE,      0x20
        .equ FINISHER,      0x100000
        .equ FINISH_PASS,   0x5555
        .equ FINISH_FAIL,   0x3333
        .equ HS_FAIL_CODE,  0xFE
        .equ M_FAIL_CODE,   0xFF

        .equ PTE_V, 1
        .equ PTE_R, 2
        .equ PTE_W, 4
        .equ PTE_X, 8
        .equ PTE_U, 16
        .equ PTE_A, 64
        .equ PTE_D, 128
        .equ GSTAGE_LEAF,   PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
        .equ HGATP_SV39X4,  8 << 60

        .equ SSTATUS_SIE,   1 << 1
        .equ SSTATUS_SPIE,  1 << 5
        .equ SSTATUS_SPP,   1 << 8
        .equ HSTATUS_SPV,   1 << 7
        .equ ENVCFG_STCE,   1 << 63
        .equ MEDELEG_HS,    0xB1FF | (1 << 10) | (0xF << 20)  # 0-8, 12, 13, 15; 10; 20-23
        .equ HEDELEG_VS,    0xB1BB       # 0, 1, 3, 4, 5, 7, 8, 12, 13, 15 (not 2, 6: above)
        .equ MIDELEG_HS,    0x222        # SSI, STI, SEI
        .equ HIDELEG_VS,    0x444        # VSSI, VSTI, VSEI

        .equ CAUSE_ILLEGAL,       2
        .equ CAUSE_STORE_MISALIGNED, 6
        .equ CAUSE_ECALL_VS,      10
        .equ CAUSE_FETCH_GUEST_PAGE, 20
        .equ CAUSE_LOAD_GUEST_PAGE,  21
        .equ CAUSE_VIRTUAL_INSN,  22
        .equ CAUSE_STORE_GUEST_PAGE, 23

        .equ EID_TIME,      0x54494D45
        .equ EID_DBCN,      0x4442434E
        .equ EID_SRST,      0x53525354
        .equ SBI_ERR_NOT_SUPPORTED, -2
        .equ SBI_ERR_INVALID_PARAM, -3

        # guest_regs: slot i holds register xi (slot 0 unused)
        .equ R_A0, 10 * 8
        .equ R_A1, 11 * 8

        .text
        .globl _start
# ==== M-mode: from reset to HS =============================================================
_start:
        la    t0, m_trap
        csrw  mtvec, t0
        la    t0, m_stack_top
        csrw  mscratch, t0
        li    t0, -1                    # PMP entry 0: NAPOT over every address, R W X
        srli  t0, t0, 10
        csrw  pmpaddr0, t0
        li    t0, 0x1f
        csrw  pmpcfg0, t0
        li    t0, MEDELEG_HS            # every trap below M goes to HS
        csrw  medeleg, t0
        li    t0, MIDELEG_HS
        csrw  mideleg, t0
        csrw  mie, zero
        li    t0, 7                     # cycle, time, instret readable below M
        csrw  mcounteren, t0
        li    t0, ENVCFG_STCE           # Sstc: stimecmp, vstimecmp
        csrs  menvcfg, t0
        li    t0, 3 << 11               # mret to HS: MPP = S, MPV = 0
        csrc  mstatus, t0
        li    t0, 1 << 11
        csrs  mstatus, t0
        la    t0, hs_start
        csrw  mepc, t0
        mret

# A trap into M: never meant to happen.
        .align 2
m_trap:
        csrrw sp, mscratch, sp
        la    a0, msg_m_trap
        call  puts
        csrr  a0, mcause
        call  puthex
        la    a0, msg_epc
        call  puts
        csrr  a0, mepc
        call  puthex
        la    a0, msg_tval
        call  puts
        csrr  a0, mtval
        call  puthex
        li    a0, M_FAIL_CODE
        j     stop

# ==== HS-mode: set up the guest ============================================================
hs_start:
        la    sp, hs_stack_top
        la    t0, hs_trap
        csrw  stvec, t0
        la    t0, guest_regs
        csrw  sscratch, t0
        csrw  satp, zero                # the hypervisor itself runs untranslated

        # -- the G-stage table: zero it, then root[2] -> L1, L1[0..3] -> the four L0s
        li    t0, GSTAGE_ROOT
        li    t1, GSTAGE_END
1:      sd    zero, 0(t0)
        addi  t0, t0, 8
        bltu  t0, t1, 1b
        li    t0, GSTAGE_ROOT + ((GUEST_RAM >> 30) & 0x7ff) * 8   # GPA[40:30]
        li    t1, (GSTAGE_L1 >> 12 << 10) | PTE_V   # a pointer: V alone
        sd    t1, 0(t0)
        li    t0, GSTAGE_L1 + ((GUEST_RAM >> 21) & 0x1ff) * 8    # GPA[29:21]
        li    t1, (GSTAGE_L0 >> 12 << 10) | PTE_V
        li    t2, 4
        li    t3, PAGE >> 2             # the next L0's PPN is 1 higher: PTE + (1 << 10)
2:      sd    t1, 0(t0)
        addi  t0, t0, 8
        add   t1, t1, t3
        addi  t2, t2, -1
        bnez  t2, 2b
        # -- the leaves: guest page g (L0 entry g) -> frame(g), readable, writable,
        #    executable, U (required in a G-stage leaf), A and D (nothing left to set)
        li    s0, 0                     # g
        li    s1, GSTAGE_L0
        li    s2, GUEST_PAGES
3:      mv    a0, s0
        call  frame_of
        srli  a0, a0, 12
        slli  a0, a0, 10
        ori   a0, a0, GSTAGE_LEAF
        slli  t0, s0, 3
        add   t0, t0, s1
        sd    a0, 0(t0)
        addi  s0, s0, 1
        bltu  s0, s2, 3b

        # -- the guest kernel's image into the frames behind guest pages 0x8020_0000...
        #    (the frames are zero since reset; a hypervisor that reuses memory must clear it)
        li    s0, (GUEST_ENTRY - GUEST_RAM) >> 12   # guest page of the image's first page
        li    s1, GUEST_IMAGE                       # where it is now
        li    s2, GUEST_IMAGE_PAGES
4:      beqz  s2, 6f
        mv    a0, s0
        call  frame_of
        li    t0, PAGE
        add   t0, t0, s1
5:      ld    t1, 0(s1)
        sd    t1, 0(a0)
        addi  s1, s1, 8
        addi  a0, a0, 8
        bltu  s1, t0, 5b
        addi  s0, s0, 1
        addi  s2, s2, -1
        j     4b

        # -- the hypervisor's CSRs
6:      li    t0, HGATP_SV39X4 | (VMID << 44) | (GSTAGE_ROOT >> 12)
        csrw  hgatp, t0
        hfence.gvma zero, zero          # no stale guest-physical translation
        li    t0, HEDELEG_VS
        csrw  hedeleg, t0
        li    t0, HIDELEG_VS
        csrw  hideleg, t0
        csrw  hvip, zero
        li    t0, 7
        csrw  hcounteren, t0
        li    t0, ENVCFG_STCE
        csrs  henvcfg, t0
        csrw  htimedelta, zero          # the guest's time is the machine's
        li    t0, -1
        csrw  vstimecmp, t0             # no guest timer interrupt until it asks for one
        csrw  vsatp, zero               # the guest starts with paging off ...
        li    t0, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP
        csrc  vsstatus, t0              # ... and its interrupts off

        # -- into the guest: sret to VS (hstatus.SPV = 1, sstatus.SPP = 1) at its entry,
        #    every register 0 (guest_regs is zero: a0 = hart id 0, a1 = 0)
        li    t0, HSTATUS_SPV
        csrs  hstatus, t0
        li    t0, SSTATUS_SPP
        csrs  sstatus, t0
        li    t0, SSTATUS_SPIE
        csrc  sstatus, t0
        li    t0, GUEST_ENTRY
        csrw  sepc, t0
        j     hs_return

# frame_of(a0 = guest page number g) -> a0 = machine address of the frame behind it.
frame_of:
        li    t0, PERM_MUL
        mul   a0, a0, t0
        addi  a0, a0, PERM_ADD
        andi  a0, a0, GUEST_PAGES - 1
        slli  a0, a0, 12
        li    t0, GUEST_FRAMES
        add   a0, a0, t0
        ret

# ==== HS-mode: the trap handler (every VM exit comes here) =================================
        .align 2
hs_trap:
        csrrw sp, sscratch, sp          # sp = guest_regs, sscratch = the guest's sp
        sd    ra, 1*8(sp)
        sd    gp, 3*8(sp)
        sd    tp, 4*8(sp)
        sd    t0, 5*8(sp)
        sd    t1, 6*8(sp)
        sd    t2, 7*8(sp)
        sd    s0, 8*8(sp)
        sd    s1, 9*8(sp)
        sd    a0, 10*8(sp)
        sd    a1, 11*8(sp)
        sd    a2, 12*8(sp)
        sd    a3, 13*8(sp)
        sd    a4, 14*8(sp)
        sd    a5, 15*8(sp)
        sd    a6, 16*8(sp)
        sd    a7, 17*8(sp)
        sd    s2, 18*8(sp)
        sd    s3, 19*8(sp)
        sd    s4, 20*8(sp)
        sd    s5, 21*8(sp)
        sd    s6, 22*8(sp)
        sd    s7, 23*8(sp)
        sd    s8, 24*8(sp)
        sd    s9, 25*8(sp)
        sd    s10, 26*8(sp)
        sd    s11, 27*8(sp)
        sd    t3, 28*8(sp)
        sd    t4, 29*8(sp)
        sd    t5, 30*8(sp)
        sd    t6, 31*8(sp)
        csrr  t0, sscratch
        sd    t0, 2*8(sp)
        csrw  sscratch, sp              # ready for the next exit
        la    sp, hs_stack_top
        # from here on the guest's a0..a7 are still live: the handlers read them there

        csrr  t0, hstatus               # a trap from HS itself (V was 0) is a bug here
        andi  t0, t0, HSTATUS_SPV
        beqz  t0, unexpected
        csrr  t0, scause
        bltz  t0, unexpected            # no interrupt is meant for HS
        li    t1, CAUSE_ECALL_VS
        beq   t0, t1, sbi_call
        li    t1, CAUSE_VIRTUAL_INSN
        beq   t0, t1, virtual_instruction
        li    t1, CAUSE_ILLEGAL
        beq   t0, t1, reflect
        li    t1, CAUSE_STORE_MISALIGNED
        beq   t0, t1, reflect
        li    t1, CAUSE_FETCH_GUEST_PAGE
        beq   t0, t1, guest_page_fault
        li    t1, CAUSE_LOAD_GUEST_PAGE
        beq   t0, t1, guest_page_fault
        li    t1, CAUSE_STORE_GUEST_PAGE
        beq   t0, t1, guest_page_fault
        j     unexpected

# Back to the guest: every register from guest_regs, then sret (to VS or VU: sstatus.SPP;
# V = 1: hstatus.SPV, which the trap set and nothing here clears).
hs_return:
        la    sp, guest_regs
        ld    ra, 1*8(sp)
        ld    gp, 3*8(sp)
        ld    tp, 4*8(sp)
        ld    t0, 5*8(sp)
        ld    t1, 6*8(sp)
        ld    t2, 7*8(sp)
        ld    s0, 8*8(sp)
        ld    s1, 9*8(sp)
        ld    a0, 10*8(sp)
        ld    a1, 11*8(sp)
        ld    a2, 12*8(sp)
        ld    a3, 13*8(sp)
        ld    a4, 14*8(sp)
        ld    a5, 15*8(sp)
        ld    a6, 16*8(sp)
        ld    a7, 17*8(sp)
        ld    s2, 18*8(sp)
        ld    s3, 19*8(sp)
        ld    s4, 20*8(sp)
        ld    s5, 21*8(sp)
        ld    s6, 22*8(sp)
        ld    s7, 23*8(sp)
        ld    s8, 24*8(sp)
        ld    s9, 25*8(sp)
        ld    s10, 26*8(sp)
        ld    s11, 27*8(sp)
        ld    t3, 28*8(sp)
        ld    t4, 29*8(sp)
        ld    t5, 30*8(sp)
        ld    t6, 31*8(sp)
        ld    sp, 2*8(sp)
        sret

# ---- SBI calls: a7 = extension, a6 = function, a0.. = arguments (the guest's, live) ------
sbi_call:
        csrr  t0, sepc                  # return past the ecall (4 bytes: ecall has no
        addi  t0, t0, 4                 # compressed form)
        csrw  sepc, t0
        li    t0, EID_TIME
        beq   a7, t0, sbi_time
        li    t0, EID_DBCN
        beq   a7, t0, sbi_dbcn
        li    t0, EID_SRST
        beq   a7, t0, sbi_srst
sbi_not_supported:
        li    t0, SBI_ERR_NOT_SUPPORTED
        j     sbi_result
sbi_invalid_param:
        li    t0, SBI_ERR_INVALID_PARAM
        j     sbi_result
sbi_success:
        li    t0, 0
sbi_result:                             # t0 = error: a0 = error, a1 = value 0
        li    t1, 0
sbi_result_value:                       # t0 = error, t1 = value: into a0 and a1
        la    t2, guest_regs
        sd    t0, R_A0(t2)
        sd    t1, R_A1(t2)
        j     hs_return

# set_timer(a0 = absolute time): the guest's timer interrupt is the hardware's business
# from here on: VSTIP is pending while time + htimedelta >= vstimecmp, and a later value
# clears it, as SBI requires.
sbi_time:
        bnez  a6, sbi_not_supported
        csrw  vstimecmp, a0
        j     sbi_success

# console_write (FID 0) and console_write_byte (FID 2, a0 = byte)
sbi_dbcn:
        beqz  a6, sbi_dbcn_write
        li    t0, 2
        bne   a6, t0, sbi_not_supported
        andi  a0, a0, 0xff
        call  putc
        j     sbi_success

# console_write(a0 = num_bytes, a1 = base_addr_lo, a2 = base_addr_hi): guest-physical.
# The whole range must be guest RAM, checked before a byte is read (without overflow: a1 +
# a0 may wrap); then each byte goes through the G-stage table: the L0 leaf of its guest
# page holds the machine frame. (The guest's registers are saved: s0..s2 are free here.)
sbi_dbcn_write:
        bnez  a2, sbi_invalid_param     # above 2^64: no such guest memory
        li    t0, GUEST_RAM
        sub   s0, a1, t0                # the offset in guest RAM (below it: a huge one)
        li    t1, GUEST_PAGES << 12
        bgeu  s0, t1, sbi_invalid_param
        sub   t1, t1, s0                # the bytes from there to the end of guest RAM
        bgtu  a0, t1, sbi_invalid_param
        mv    s1, a0                    # bytes left
        mv    s2, a0                    # bytes written, when done
1:      beqz  s1, 2f
        srli  t0, s0, 12                # the guest page's leaf, in the four L0 tables
        slli  t0, t0, 3
        li    t1, GSTAGE_L0
        add   t0, t0, t1
        ld    t0, 0(t0)
        srli  t0, t0, 10                # its PPN: the machine frame ...
        slli  t0, t0, 12
        slli  t1, s0, 52                # ... and the offset in the page
        srli  t1, t1, 52
        or    t0, t0, t1
        lbu   a0, 0(t0)
        call  putc
        addi  s0, s0, 1
        addi  s1, s1, -1
        j     1b
2:      li    t0, 0
        mv    t1, s2
        j     sbi_result_value

# system_reset(a0 = type, a1 = reason): reason 0 passes, anything else fails
sbi_srst:
        bnez  a6, sbi_not_supported
        li    t0, FINISH_PASS
        beqz  a1, 1f
        slli  t0, a1, 16
        li    t1, FINISH_FAIL
        or    t0, t0, t1
1:      li    t1, FINISHER
        sw    t0, 0(t1)                 # the machine stops here
        j     .

# ---- exceptions the guest must see as its own ---------------------------------------------
# A virtual-instruction exception: on the machine the guest believes it has, the
# instruction is illegal. stval holds its bits, as for an illegal instruction.
virtual_instruction:
        li    a0, CAUSE_ILLEGAL
        csrr  a1, stval
        j     inject

# An exception the guest handles, reflected with its own cause and tval.
reflect:
        csrr  a0, scause
        csrr  a1, stval
        # fall through

# inject(a0 = cause, a1 = tval): deliver an exception to the guest kernel as the hardware
# would on a trap into VS-mode, and resume the guest at its trap vector.
inject:
        csrw  vscause, a0
        csrw  vstval, a1
        csrr  t0, sepc
        csrw  vsepc, t0
        csrr  t0, vsstatus
        andi  t1, t0, SSTATUS_SIE       # SPIE = SIE
        slli  t1, t1, 4
        li    t2, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP
        not   t2, t2
        and   t0, t0, t2
        or    t0, t0, t1
        csrr  t1, sstatus               # SPP = the mode the trap came from (VS 1, VU 0)
        andi  t1, t1, SSTATUS_SPP
        or    t0, t0, t1
        csrw  vsstatus, t0
        csrr  t0, vstvec                # direct or vectored: exceptions go to the base
        andi  t0, t0, -4
        csrw  sepc, t0
        li    t0, SSTATUS_SPP           # and the guest kernel runs in VS
        csrs  sstatus, t0
        j     hs_return

# ---- guest-page faults: the one device the guest may touch -------------------------------
# The guest's physical address space has RAM and nothing else. A load from the UART's
# registers (the kernel's "device" benchmark reads its line status register) is a
# guest-page fault; the hypervisor emulates it: it reads the faulting instruction as the
# guest's fetch did (HLVX: through the guest's page tables, with its privilege,
# hstatus.SPVP), decodes the load, does it on the real UART, writes the value into the
# guest's destination register and steps over the instruction. Anything else -- a store,
# an address with neither RAM nor the UART behind it, an instruction it cannot decode --
# is reported, and the machine stops.
guest_page_fault:
        csrr  s0, htval                 # the guest-physical address, shifted right by 2 ...
        slli  s0, s0, 2
        csrr  t0, stval                 # ... its low 2 bits are the guest virtual address's
        andi  t0, t0, 3
        or    s0, s0, t0                # s0 = guest-physical address
        csrr  t0, scause
        li    t1, CAUSE_LOAD_GUEST_PAGE
        bne   t0, t1, gpf_fatal
        li    t0, UART                  # the UART's 8 registers: offsets 0..7
        sub   t0, s0, t0
        li    t1, 8
        bgeu  t0, t1, gpf_fatal
        csrr  s1, sepc                  # the instruction, in two halves (it may straddle
        hlvx.hu s2, (s1)                # a page boundary)
        andi  t0, s2, 3
        li    t1, 3
        bne   t0, t1, gpf_fatal         # compressed: not a load this emulates
        addi  t0, s1, 2
        hlvx.hu t0, (t0)
        slli  t0, t0, 16
        or    s2, s2, t0                # s2 = the instruction
        andi  t0, s2, 0x7f
        li    t1, 0x03                  # LOAD
        bne   t0, t1, gpf_fatal
        srli  t0, s2, 12                # funct3: the width and the extension
        andi  t0, t0, 7
        li    t1, 4
        beq   t0, t1, 4f
        li    t1, 0
        beq   t0, t1, 0f
        li    t1, 5
        beq   t0, t1, 5f
        li    t1, 1
        beq   t0, t1, 1f
        li    t1, 6
        beq   t0, t1, 6f
        li    t1, 2
        beq   t0, t1, 2f
        li    t1, 3
        beq   t0, t1, 3f
        j     gpf_fatal
0:      lb    a0, 0(s0)
        j     7f
1:      lh    a0, 0(s0)
        j     7f
2:      lw    a0, 0(s0)
        j     7f
3:      ld    a0, 0(s0)
        j     7f
4:      lbu   a0, 0(s0)
        j     7f
5:      lhu   a0, 0(s0)
        j     7f
6:      lwu   a0, 0(s0)
7:      srli  t0, s2, 7                 # rd (x0: the value goes nowhere)
        andi  t0, t0, 31
        beqz  t0, 8f
        slli  t0, t0, 3
        la    t1, guest_regs
        add   t0, t0, t1
        sd    a0, 0(t0)
8:      addi  s1, s1, 4
        csrw  sepc, s1
        j     hs_return

gpf_fatal:
        la    a0, msg_gpf
        call  puts
        mv    a0, s0
        call  puthex
        j     report

unexpected:
        la    a0, msg_unexpected
        call  puts
report:
        la    a0, msg_cause
        call  puts
        csrr  a0, scause
        call  puthex
        la    a0, msg_epc
        call  puts
        csrr  a0, sepc
        call  puthex
        la    a0, msg_tval
        call  puts
        csrr  a0, stval
        call  puthex
        li    a0, HS_FAIL_CODE
        # fall through

# stop(a0 = exit code): end the line, switch the machine off through the finisher
stop:
        mv    s0, a0
        li    a0, '\n'
        call  putc
        slli  t0, s0, 16
        li    t1, FINISH_FAIL
        or    t0, t0, t1
        li    t1, FINISHER
        sw    t0, 0(t1)
        j     .

# ---- the console: the UART, polled -----------------------------------------------------------
# putc(a0 = byte). Uses t0.
putc:
1:      li    t0, UART
        lbu   t0, UART_LSR(t0)
        andi  t0, t0, LSR_THRE
        beqz  t0, 1b
        li    t0, UART
        sb    a0, 0(t0)
        ret

# puts(a0 = NUL-terminated string). Uses t0, t1.
puts:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        mv    t1, a0
1:      lbu   a0, 0(t1)
        beqz  a0, 2f
        call  putc
        addi  t1, t1, 1
        j     1b
2:      ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

# puthex(a0 = value): "0x" and 16 hex digits. Uses t0, t1, t2.
puthex:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        mv    t1, a0
        li    a0, '0'
        call  putc
        li    a0, 'x'
        call  putc
        li    t2, 16                    # digits left
1:      srli  a0, t1, 60                # the top nibble
        slli  t1, t1, 4
        addi  a0, a0, '0'
        li    t0, '9'
        ble   a0, t0, 2f
        addi  a0, a0, 'a' - '9' - 1
2:      call  putc
        addi  t2, t2, -1
        bnez  t2, 1b
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

        .section .rodata
msg_m_trap:     .asciz "hs: unexpected trap into M: mcause="
msg_unexpected: .asciz "hs: unexpected trap into HS:"
msg_gpf:        .asciz "hs: guest-page fault at guest-physical "
msg_cause:      .asciz " scause="
msg_epc:        .asciz " epc="
msg_tval:       .asciz " tval="

        .bss
        .balign 8
guest_regs:     .zero 32 * 8            # the guest's registers while the hypervisor runs
                .zero 1024
hs_stack_top:
                .zero 512
m_stack_top:
