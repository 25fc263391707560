# user_lib.s -- the user programs' C library in miniature: system-call wrappers and a
# line buffer with string and decimal output.
#
# Every user program includes this file (`.include "user_lib.s"`) in front of its own
# code, so each program carries its own copy, like a statically linked libc. The program
# proper starts at its `_start` label, which becomes the entry point the kernel jumps to;
# these functions are placed before it.
#
# Functions follow the RISC-V calling convention (arguments and results in a0.., ra the
# return address, s0..s11 preserved). A line is collected with lb_putc / lb_puts /
# lb_putu and sent with ONE write() system call by lb_flush, so the kernel sees whole
# lines.

        .option rvc

        # system calls (RISC-V Linux numbers) and what the kernel returns on errors
        .include "syscalls.inc"
        .equ LB_SIZE,         256           # longest line

        .text
# exit(a0 = status): never returns
exit:
        li    a7, SYS_EXIT
        ecall
        j     exit

# sched_yield(): let another process run
sched_yield:
        li    a7, SYS_SCHED_YIELD
        ecall
        ret

# write(a0 = fd, a1 = buffer, a2 = length) -> a0 = length written, or -EFAULT
write:
        li    a7, SYS_WRITE
        ecall
        ret

# lb_putc(a0 = byte): append a byte to the line (dropped when the line is full)
lb_putc:
        la    t0, lb_len
        ld    t1, 0(t0)
        li    t2, LB_SIZE
        bgeu  t1, t2, 1f
        la    t2, lb_buf
        add   t2, t2, t1
        sb    a0, 0(t2)
        addi  t1, t1, 1
        sd    t1, 0(t0)
1:      ret

# lb_puts(a0 = NUL-terminated string): append it
lb_puts:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        sd    s0, 0(sp)
        mv    s0, a0
1:      lbu   a0, 0(s0)
        beqz  a0, 2f
        call  lb_putc
        addi  s0, s0, 1
        j     1b
2:      ld    ra, 8(sp)
        ld    s0, 0(sp)
        addi  sp, sp, 16
        ret

# lb_putu(a0 = unsigned number): append it in decimal
lb_putu:
        addi  sp, sp, -48
        sd    ra, 40(sp)
        sd    s0, 32(sp)
        sd    s1, 24(sp)
        addi  s1, sp, 24                # digits fill sp+0..23 from the end
        mv    s0, s1
        li    t1, 10
1:      remu  t0, a0, t1
        divu  a0, a0, t1
        addi  t0, t0, '0'
        addi  s1, s1, -1
        sb    t0, 0(s1)
        bnez  a0, 1b
2:      lbu   a0, 0(s1)
        call  lb_putc
        addi  s1, s1, 1
        bne   s1, s0, 2b
        ld    ra, 40(sp)
        ld    s0, 32(sp)
        ld    s1, 24(sp)
        addi  sp, sp, 48
        ret

# lb_flush() -> a0 = write()'s result: send the line (add the newline yourself)
lb_flush:
        addi  sp, sp, -16
        sd    ra, 8(sp)
        la    t0, lb_len
        ld    a2, 0(t0)
        sd    zero, 0(t0)
        la    a1, lb_buf
        li    a0, 1                     # stdout (the kernel ignores it)
        call  write
        ld    ra, 8(sp)
        addi  sp, sp, 16
        ret

# bench_done(a0 = name, a1 = n): print "<name>: <n> done" and exit(0)
bench_done:
        mv    s0, a1
        call  lb_puts
        la    a0, lib_colon
        call  lb_puts
        mv    a0, s0
        call  lb_putu
        la    a0, lib_done
        call  lb_puts
        call  lb_flush
        li    a0, 0
        j     exit

# fail(a0 = message): print "FAILED: <message>" and exit(1)
fail:
        mv    s0, a0
        la    a0, lib_failed
        call  lb_puts
        mv    a0, s0
        call  lb_puts
        li    a0, '\n'
        call  lb_putc
        call  lb_flush
        li    a0, 1
        j     exit

        .section .rodata
lib_colon:  .asciz ": "
lib_done:   .asciz " done\n"
lib_failed: .asciz "FAILED: "

        .bss
        .balign 8
lb_len: .zero 8
lb_buf: .zero LB_SIZE

        .text
