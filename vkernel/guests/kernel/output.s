# kernel/output.s -- printing.
#
# write() appends to the process's own 2 KiB buffer instead of printing, because with
# preemption the interleaving of two processes' lines depends on timing, and the output
# must be byte-identical under every virtualization technique. When every process has
# exited, the kernel prints the buffers in pid order, each line prefixed "[pid] ", then
# one "halt: pid N exit S" line per process, and powers off (kernel/process.s, halt_all).
# Boot messages and panics go to the console at once, a line at a time: console_putc
# collects a line in conbuf and console_write (kernel/console.*.s) sends it whole, with
# one SBI call natively, one console_io hypercall para-virtualized.

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

# console_putc(a0 = byte): into the console's line buffer, which goes out whole at the end
# of the line (or when it is full)
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
        j     console_write             # tail call
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
        call  panic_start
        li    a0, '\n'
        call  kputc
power_off_failed:
        li    a0, 1                     # reason 1: system failure
        call  power_off
        j     .

# power_off(a0 = reason: 0, or 1 for a system failure): the console's last line, then off
power_off:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        sd    a0, 0(sp)
        call  console_flush
        ld    a0, 0(sp)
        call  shutdown                  # kernel/power.*.s: never returns
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

# panic_start(a0 = message): "panic: <message>" on the console (not into a process's
# buffer), no newline yet. A panic never returns, so s0 and s1 are free to use.
panic_start:
        mv    s0, a0
        mv    s1, ra
        la    t0, k_sink
        sd    zero, 0(t0)
        la    a0, msg_panic
        call  kputs
        mv    a0, s0
        mv    ra, s1
        j     kputs                     # tail call
