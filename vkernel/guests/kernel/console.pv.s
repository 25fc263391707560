# kernel/console.pv.s -- the console (twin: console.native.s).
#
# The console_io hypercall prints a whole buffer in one exit. The kernel collects a line
# in conbuf and sends it at the end of the line (or when the buffer is full): one exit a
# line, where kernel.s makes one SBI call a byte.
        .equ  HYPERVISOR_console_io, 18
        .equ  CONSOLEIO_write, 0
        .equ  CONBUF_SIZE, 256              # the console's line buffer

# console_putc(a0 = byte): into the console's line buffer
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
        la    a2, conbuf
        li    a0, CONSOLEIO_write
        li    a7, HYPERVISOR_console_io
        ecall
1:      ret

        .bss
        .balign 8
con_len:      .zero 8                   # bytes in the console's line buffer
conbuf:       .zero CONBUF_SIZE
        .text
