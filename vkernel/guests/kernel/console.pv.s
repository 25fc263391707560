# kernel/console.pv.s -- the console (twin: console.native.s).
#
# The console_io hypercall prints a buffer in one exit: the kernel sends a whole line
# (kernel/output.s collects it), as kernel.s does with one SBI debug-console write.
        .equ  HYPERVISOR_console_io, 18
        .equ  CONSOLEIO_write, 0

# console_write(a0 = buffer, a1 = bytes)
console_write:
        mv    a2, a0
        li    a0, CONSOLEIO_write
        li    a7, HYPERVISOR_console_io
        ecall
        ret
