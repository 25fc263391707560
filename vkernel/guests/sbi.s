# sbi.s -- a tiny machine-mode firmware: "OpenSBI in miniature".
#
# On a real RISC-V board the first code to run is firmware in machine mode (M), usually
# OpenSBI. It sets up what only M can set up, then drops to supervisor mode (S) and jumps
# to the operating-system kernel. From then on the kernel asks it for the few services
# that need M through the Supervisor Binary Interface (SBI): an `ecall` from S traps to M,
# the firmware does the work and `mret`s back. This file is that firmware, small enough to
# read in one sitting. It is used for NATIVE runs of vkernel/guests/kernel.s; under a
# hypervisor the hypervisor answers the same SBI calls instead (that is the point: the
# kernel cannot tell who answers).
#
# Boot (at 0x8000_0000, in M, every register zero):
#   1. PMP: one NAPOT entry over all addresses, R W X. With PMP implemented, an S or U
#      access that matches no entry fails, so without this S could not run at all.
#   2. Delegation: every exception except ecall-from-S (9, the SBI calls themselves) and
#      ecall-from-M (11) goes straight to S (medeleg = 0xB1FF), and so do the three S
#      interrupts (mideleg = SSI|STI|SEI = 0x222). M only sees SBI calls and its own timer.
#   3. mcounteren = 7: S may read the cycle, time and instret counters (rdtime).
#   4. mret into S at the kernel's entry 0x8020_0000 with a0 = hart id (0) and a1 as the
#      boot left it: the device tree's address (Machine.boot), 0 when there is none.
#
# SBI calls (SBI v2 calling convention): a7 = extension id (EID), a6 = function id (FID),
# arguments in a0, a1, ...; the firmware returns an error code in a0 (0 = success,
# -2 = SBI_ERR_NOT_SUPPORTED, -3 = SBI_ERR_INVALID_PARAM) and a value in a1, and preserves
# every other register. Implemented:
#   TIME  (EID 0x54494D45 "TIME") FID 0  sbi_set_timer(stime_value)
#   DBCN  (EID 0x4442434E "DBCN") FID 0  sbi_debug_console_write(num_bytes, base_addr_lo,
#                                        base_addr_hi) -> bytes written
#                                 FID 2  sbi_debug_console_write_byte(byte)
#   SRST  (EID 0x53525354 "SRST") FID 0  sbi_system_reset(type, reason)
#
# The console write reads S-mode's buffer in place, at its PHYSICAL address: M-mode runs
# untranslated. The firmware reads only memory that is S-mode's to give: the kernel's RAM,
# S_RAM_BASE..S_RAM_END (not the firmware's own 2 MiB below it, not a device). A buffer
# that is not all in it is refused (SBI_ERR_INVALID_PARAM) before a byte is read.
#
# The timer, the classic way (before the Sstc extension gave S its own stimecmp): S asks
# for an interrupt at time T; M writes T to the CLINT's mtimecmp and enables its own timer
# interrupt (mie.MTIE). When mtime reaches T, M is interrupted, and it passes the event on
# by setting the S timer interrupt pending (mip.STIP, which only M can write) and masking
# its own (mie.MTIE = 0, else it would fire again at once: mtime stays >= mtimecmp). The
# kernel sees an ordinary S timer interrupt; its next sbi_set_timer clears mip.STIP.
#
# Register use: the trap handler swaps sp with mscratch, which holds the address of a
# save area, saves the registers it needs there, and restores them all before mret.

        .option rvc

        .equ KERNEL_ENTRY, 0x80200000
        .equ UART,         0x10000000    # 16550: THR at +0, LSR at +5
        .equ UART_LSR,     5
        .equ LSR_THRE,     0x20          # transmit holding register empty
        .equ FINISHER,     0x100000      # SiFive test finisher: a word store ends the run
        .equ FINISH_PASS,  0x5555
        .equ FINISH_FAIL,  0x3333        # (code << 16) | 0x3333
        .equ FW_FAIL_CODE, 0xFF          # exit code when the firmware itself gives up
        .equ CLINT_MTIMECMP, 0x02004000
        .equ MIP_STIP,     1 << 5
        .equ MIE_MTIE,     1 << 7
        .equ MCAUSE_ECALL_S, 9
        .equ MCAUSE_M_TIMER, 7
        .equ EID_TIME,     0x54494D45
        .equ EID_DBCN,     0x4442434E
        .equ EID_SRST,     0x53525354
        .equ SBI_ERR_NOT_SUPPORTED, -2
        .equ SBI_ERR_INVALID_PARAM, -3
        .equ S_RAM_BASE,   0x80200000    # the memory S-mode may pass to the console
        .equ S_RAM_END,    0x80800000

        .globl _start
_start:
        # 1. PMP entry 0: NAPOT covering everything (pmpaddr = all ones >> 10), R W X
        li    t0, -1
        srli  t0, t0, 10
        csrw  pmpaddr0, t0
        li    t0, 0x1f                  # A = NAPOT (3 << 3), X W R
        csrw  pmpcfg0, t0

        # where traps into M go, and where the handler saves registers
        la    t0, m_trap
        csrw  mtvec, t0
        la    t0, m_save
        csrw  mscratch, t0

        # 2. delegation to S
        li    t0, 0xB1FF                # all exceptions 0..15 but 9 and 11 (10, 14 are
        csrw  medeleg, t0               # reserved)
        li    t0, 0x222                 # SSIP | STIP | SEIP
        csrw  mideleg, t0
        csrw  mie, zero                 # MTIE is enabled only while a timer is armed

        # 3. S may read the counters (bit 0 cycle, 1 time, 2 instret)
        li    t0, 7
        csrw  mcounteren, t0

        # 4. into S at the kernel: mstatus.MPP = S (01), mepc = entry, a0 = hart id
        li    t0, 3 << 11
        csrc  mstatus, t0
        li    t0, 1 << 11
        csrs  mstatus, t0
        li    t0, KERNEL_ENTRY
        csrw  mepc, t0
        li    a0, 0
        li    t0, 0                     # a1: as the boot left it, the device tree (or 0)
        mret

# ---- traps into M: SBI calls from S, and the M timer --------------------------------------
        .align 2
m_trap:
        csrrw sp, mscratch, sp          # sp = save area; mscratch = the kernel's sp
        sd    t0, 0*8(sp)
        sd    t1, 1*8(sp)
        sd    t2, 2*8(sp)
        sd    ra, 3*8(sp)
        csrr  t0, mcause
        bltz  t0, m_interrupt           # bit 63: an interrupt
        li    t1, MCAUSE_ECALL_S
        bne   t0, t1, m_unexpected      # nothing else is ever meant to reach M
        csrr  t0, mepc                  # return past the ecall (always 4 bytes: there is
        addi  t0, t0, 4                 # no compressed ecall)
        csrw  mepc, t0
        li    t0, EID_TIME
        beq   a7, t0, sbi_time
        li    t0, EID_DBCN
        beq   a7, t0, sbi_dbcn
        li    t0, EID_SRST
        beq   a7, t0, sbi_srst
not_supported:
        li    a0, SBI_ERR_NOT_SUPPORTED
        li    a1, 0
m_return:
        ld    t0, 0*8(sp)
        ld    t1, 1*8(sp)
        ld    t2, 2*8(sp)
        ld    ra, 3*8(sp)
        csrrw sp, mscratch, sp          # the kernel's sp back; mscratch = save area again
        mret

success:
        li    a0, 0
        li    a1, 0
        j     m_return

# TIME: sbi_set_timer(a0 = absolute time of the next interrupt)
sbi_time:
        bnez  a6, not_supported         # FID 0 only
        li    t0, CLINT_MTIMECMP
        sd    a0, 0(t0)                 # a time in the past fires as soon as we mret
        li    t0, MIP_STIP
        csrc  mip, t0                   # the kernel's previous tick is acknowledged
        li    t0, MIE_MTIE
        csrs  mie, t0
        j     success

# DBCN: sbi_debug_console_write (FID 0), sbi_debug_console_write_byte (FID 2)
sbi_dbcn:
        beqz  a6, sbi_dbcn_write
        li    t0, 2
        bne   a6, t0, not_supported     # (FID 1, read, is not offered)
        mv    t0, a0                    # write_byte(a0 = byte)
        call  uart_putc
        j     success

# write(a0 = num_bytes, a1 = base_addr_lo, a2 = base_addr_hi) -> a1 = bytes written: all
# of them (the UART is polled). The range is checked first, without overflow: a1 + a0
# could wrap around.
sbi_dbcn_write:
        bnez  a2, invalid_param         # an address above 2^64: no such memory
        li    t0, S_RAM_BASE
        bltu  a1, t0, invalid_param
        li    t0, S_RAM_END
        bgtu  a1, t0, invalid_param
        sub   t0, t0, a1                # the bytes from a1 to the end of S's RAM
        bgtu  a0, t0, invalid_param
        mv    t2, a1                    # the next byte
        add   a1, a1, a0                # the end
1:      bgeu  t2, a1, 2f
        lbu   t0, 0(t2)
        call  uart_putc
        addi  t2, t2, 1
        j     1b
2:      mv    a1, a0                    # every byte written
        li    a0, 0
        j     m_return

invalid_param:
        li    a0, SBI_ERR_INVALID_PARAM
        li    a1, 0
        j     m_return

# SRST: sbi_system_reset(a0 = type, a1 = reason): reason 0 passes, anything else fails
sbi_srst:
        bnez  a6, not_supported
        li    t0, FINISH_PASS
        beqz  a1, 1f
        slli  t0, a1, 16
        li    t1, FINISH_FAIL
        or    t0, t0, t1
1:      li    t1, FINISHER
        sw    t0, 0(t1)                 # the machine stops here
        j     .

# The M timer fired: hand it to S as a pending S timer interrupt, and mask our own.
m_interrupt:
        slli  t0, t0, 1                 # the cause without bit 63
        srli  t0, t0, 1
        li    t1, MCAUSE_M_TIMER
        bne   t0, t1, m_unexpected
        li    t0, MIP_STIP
        csrs  mip, t0
        li    t0, MIE_MTIE
        csrc  mie, t0
        ld    t0, 0*8(sp)
        ld    t1, 1*8(sp)
        ld    t2, 2*8(sp)
        ld    ra, 3*8(sp)
        csrrw sp, mscratch, sp
        mret                            # an interrupt: mepc is where S was, untouched

# A trap M never expects (the kernel did something it must not): say so and stop.
m_unexpected:
        la    t2, msg_unexpected
        call  uart_puts
        csrr  t2, mcause
        call  uart_hex
        la    t2, msg_mepc
        call  uart_puts
        csrr  t2, mepc
        call  uart_hex
        la    t2, msg_mtval
        call  uart_puts
        csrr  t2, mtval
        call  uart_hex
        li    t0, '\n'
        call  uart_putc
        li    t0, (FW_FAIL_CODE << 16) | FINISH_FAIL
        li    t1, FINISHER
        sw    t0, 0(t1)
        j     .

# uart_putc(t0 = byte): wait until the transmitter has room, then send. Uses t1.
uart_putc:
1:      li    t1, UART
        lbu   t1, UART_LSR(t1)
        andi  t1, t1, LSR_THRE
        beqz  t1, 1b
        li    t1, UART
        sb    t0, 0(t1)
        ret

# uart_puts(t2 = NUL-terminated string). Uses t0, t1, t2; keeps ra in the save area.
uart_puts:
        sd    ra, 4*8(sp)
1:      lbu   t0, 0(t2)
        beqz  t0, 2f
        call  uart_putc
        addi  t2, t2, 1
        j     1b
2:      ld    ra, 4*8(sp)
        ret

# uart_hex(t2 = value): "0x" and 16 hex digits. Uses t0, t1, t2 and save-area slots 4-5.
uart_hex:
        sd    ra, 4*8(sp)
        sd    s0, 5*8(sp)
        li    t0, '0'
        call  uart_putc
        li    t0, 'x'
        call  uart_putc
        li    s0, 16                    # digits left
1:      srli  t0, t2, 60                # the top nibble
        slli  t2, t2, 4
        addi  t0, t0, '0'
        li    t1, '9'
        ble   t0, t1, 2f
        addi  t0, t0, 'a' - '9' - 1
2:      call  uart_putc
        addi  s0, s0, -1
        bnez  s0, 1b
        ld    s0, 5*8(sp)
        ld    ra, 4*8(sp)
        ret

msg_unexpected: .asciz "sbi: unexpected trap into M: mcause="
msg_mepc:       .asciz " mepc="
msg_mtval:      .asciz " mtval="

        .bss
        .align 3
m_save: .zero 8*8                       # t0 t1 t2 ra, then uart_puts/uart_hex's ra, s0
