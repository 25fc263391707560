# kernel/console.native.s -- the console (twin: console.pv.s).
#
# The kernel prints through the SBI debug console (DBCN) of the layer below: the firmware
# vkernel/guests/sbi.s, or a hypervisor. Its write function takes a buffer, so a whole
# line goes in one SBI call, as a whole line goes in one console_io hypercall in
# kernel_pv.s (kernel/output.s collects the line). The buffer is given by its PHYSICAL
# address, as two halves (low and high XLEN bits); the kernel's own memory is mapped at its
# physical address, so a kernel pointer is one. (DBCN also has write_byte, FID 2: one SBI
# call -- one exit, under a hypervisor -- a byte.)
        .equ  EID_DBCN,    0x4442434E       # "DBCN"

# console_write(a0 = buffer, a1 = bytes). The call may write only part of it (it is non-
# blocking: a1 comes back with the bytes written): then the rest goes in another call. An
# error (a0 != 0) drops the rest.
console_write:
        mv    t3, a0                    # the next byte (the SBI preserves t3 and t4)
        mv    t4, a1                    # bytes left
1:      beqz  t4, 2f
        mv    a0, t4                    # num_bytes
        mv    a1, t3                    # the physical address's low 64 bits ...
        li    a2, 0                     # ... and its high 64 bits
        li    a7, EID_DBCN
        li    a6, 0                     # FID 0: sbi_debug_console_write
        ecall
        bnez  a0, 2f
        add   t3, t3, a1
        sub   t4, t4, a1
        j     1b
2:      ret
