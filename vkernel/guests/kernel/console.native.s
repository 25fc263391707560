# kernel/console.native.s -- the console (twin: console.pv.s).
#
# Natively the kernel prints through the SBI debug console (DBCN): one SBI call a byte.
        .equ  EID_DBCN,    0x4442434E       # "DBCN"

# console_putc(a0 = byte)
console_putc:
        li    a7, EID_DBCN
        li    a6, 2                         # FID 2: sbi_debug_console_write_byte
        ecall
        ret
