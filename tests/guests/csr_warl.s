# WARL ("write any, read legal") behaviour of the machine and supervisor CSRs, and the
# access rules of the CSR instructions (privilege, read-only, counter enables).
# References: RISC-V privileged spec 1.12, chapters 2 (CSR address map), 3 (machine
# level) and 4 (supervisor level); the Sstc and debug (trigger) specs.
#
# Register conventions of this file:
#   s1  number of traps taken by the S-mode handler (not used here: nothing is delegated)
#   s2  mcause, s3 mtval, s4 mepc of the last trap taken by m_trap; s5 counts those traps
#   s6  mstatus seen by the handler
#   s10, s11 scratch of the handlers (never used by the checks)
# An ecall with a7 = 0x4d4d from S or U is not recorded: m_trap returns to the caller
# in M-mode ("go back to M"). to_s / to_u continue at the caller in S / U.
#
# Bits used below:
#   mstatus: SIE 1, MIE 3, SPIE 5, MPIE 7, SPP 8, MPP 12:11, MPRV 17, SUM 18, MXR 19,
#            TVM 20, TW 21, TSR 22, UXL 33:32, SXL 35:34; FS 14:13, XS 16:15, VS 10:9,
#            SD 63 (no F/V extensions: those read 0)
#   mip/mie: SSI 1, MSI 3, STI 5, MTI 7, SEI 9, MEI 11

    .include "prelude.s"
    .include "trap_handler.inc"

main:
    recording_init                # mtvec, stvec, s1 = s5 = s7 = 0, a7 = 0, PMP open

# ---- mstatus -----------------------------------------------------------------------------
    li gp, 1                      # UXL and SXL read 2 (XLEN 64 in U and S)
    csrr a0, mstatus
    srli a0, a0, 32
    andi a0, a0, 0xf
    li a1, 0xa
    bne a0, a1, fail

    li gp, 2                      # every field that exists for M+S+U+H is writable (MPV and
    li t0, -1                     # GVA are the H extension's); the rest (FS, VS, XS, SD,
    csrw mstatus, t0              # UBE/SBE/MBE) read 0
    csrr a0, mstatus
    li a1, 0xca007e19aa
    bne a0, a1, fail

    li gp, 3                      # writing 0 clears them all; UXL/SXL still read 2
    csrw mstatus, zero
    csrr a0, mstatus
    li a1, 0xa00000000
    bne a0, a1, fail

    li gp, 4                      # FS, VS, XS and SD are read-only 0: there is no F, V
    li t0, (3 << 13) | (3 << 9) | (3 << 15)   # or custom extension state to track
    li t2, 1
    slli t2, t2, 63
    or t0, t0, t2
    csrs mstatus, t0
    csrr a0, mstatus
    and a0, a0, t0
    bnez a0, fail

    li gp, 5                      # MPP=2 is reserved: the read value must be legal ...
    li t0, 1 << 11                # (set MPP = S first)
    csrw mstatus, t0
    li t0, 2 << 11
    csrw mstatus, t0
    csrr a0, mstatus
    srli a0, a0, 11
    andi a0, a0, 3
    li a1, 2
    beq a0, a1, fail
    li gp, 6                      # ... and vkernel (like QEMU) keeps the old MPP
    li a1, 1
    bne a0, a1, fail

    li gp, 7                      # MPP accepts U, S and M
    li t0, 3 << 11
    csrw mstatus, t0
    csrr a0, mstatus
    srli a0, a0, 11
    andi a0, a0, 3
    li a1, 3
    bne a0, a1, fail
    csrw mstatus, zero
    csrr a0, mstatus
    srli a0, a0, 11
    andi a0, a0, 3
    bnez a0, fail

# ---- sstatus: a restricted view of mstatus -----------------------------------------------
    li gp, 8                      # with mstatus all ones, sstatus shows only SIE, SPIE,
    li t0, -1                     # SPP, SUM, MXR and UXL
    csrw mstatus, t0
    csrr a0, sstatus
    li a1, 0x2000c0122
    bne a0, a1, fail

    li gp, 9                      # writing sstatus = 0 clears only the S fields of mstatus
    csrw sstatus, zero
    csrr a0, mstatus
    li a1, 0xca00721888
    bne a0, a1, fail

    li gp, 10                     # writing sstatus all ones sets only the S fields
    csrw mstatus, zero
    li t0, -1
    csrw sstatus, t0
    csrr a0, mstatus
    li a1, 0xa000c0122
    bne a0, a1, fail

    li gp, 11                     # the two are one register: a change to mstatus.SIE
    csrw mstatus, zero            # shows in sstatus at once
    csrsi mstatus, 2
    csrr a0, sstatus
    andi a0, a0, 2
    beqz a0, fail
    csrw mstatus, zero

# ---- misa ----------------------------------------------------------------------------------
    li gp, 12                     # MXL=2 (64-bit) and the letters A C H I M S U
    csrr a0, misa
    li a1, 0x8000000000141185
    bne a0, a1, fail

    li gp, 13                     # misa may be read-only (WARL); vkernel's is: a write of
    csrw misa, zero               # 0 changes nothing (and the hart keeps running)
    csrr a0, misa
    bne a0, a1, fail
    li t0, 4                      # clearing C is refused too
    csrc misa, t0
    csrr a0, misa
    bne a0, a1, fail

# ---- medeleg / mideleg --------------------------------------------------------------------
    li gp, 14                     # ecall from M (bit 11) can never be delegated: an M trap
    li t0, -1                     # never goes to a lower mode, so the bit is read-only 0
    csrw medeleg, t0
    csrr a0, medeleg
    srli a1, a0, 11
    andi a1, a1, 1
    bnez a1, fail

    li gp, 15                     # the other standard exceptions are delegable on vkernel,
    li a1, 0xf0b7ff               # the H extension's (10, 20-23) too; code 14 is reserved
    bne a0, a1, fail
    csrw medeleg, zero
    csrr a0, medeleg
    bnez a0, fail

    li gp, 16                     # only the S-level interrupts (SSI, STI, SEI) can be
    li t0, -1                     # delegated: the M-level bits are read-only 0, and the
    csrw mideleg, t0              # VS-level ones (2, 6, 10) read-only 1 (H extension)
    csrr a0, mideleg
    li a1, 0x666
    bne a0, a1, fail
    csrw mideleg, zero

# ---- mie / mip / sie / sip ---------------------------------------------------------------
    li gp, 17                     # mie has an enable for each of the nine interrupts (three
    li t0, -1                     # VS-level ones); mstatus.MIE is 0: nothing is taken in M
    csrw mie, t0
    csrr a0, mie
    li a1, 0xeee
    bne a0, a1, fail
    csrw mie, zero

    li gp, 18                     # mip: SSIP, STIP, SEIP and VSSIP (another name for
    li t0, -1                     # hvip.VSSIP) are writable by M software; MSIP, MTIP,
    csrw mip, t0                  # MEIP come from the CLINT and PLIC and are read-only
    csrr a0, mip
    li a1, 0x226
    bne a0, a1, fail
    csrw mip, zero
    csrr a0, mip
    bnez a0, fail

    li gp, 19                     # with Sstc enabled (menvcfg.STCE), STIP is the result of
    li t0, -1                     # time >= stimecmp and software writes to it are ignored
    csrw stimecmp, t0             # (stimecmp = far future: STIP = 0)
    li t0, 1
    slli t0, t0, 63
    csrs menvcfg, t0
    li t1, 0x20
    csrs mip, t1
    csrr a0, mip
    bnez a0, fail
    csrc menvcfg, t0

    li gp, 20                     # sie shows only the delegated bits: with mideleg = 0 it
    li t0, -1                     # reads 0 and writing it does not reach mie
    csrw sie, t0
    csrr a0, sie
    bnez a0, fail
    csrr a0, mie
    bnez a0, fail

    li gp, 21                     # with SSI/STI/SEI delegated, sie writes those mie bits
    li t0, 0x222                  # and no others
    csrw mideleg, t0
    li t0, -1
    csrw sie, t0
    csrr a0, sie
    li a1, 0x222
    bne a0, a1, fail
    csrr a0, mie
    bne a0, a1, fail

    li gp, 22                     # sie hides the M-level enables even when they are set
    li t0, -1
    csrw mie, t0
    csrr a0, sie
    li a1, 0x222
    bne a0, a1, fail
    csrw mie, zero

    li gp, 23                     # sip shows only delegated pending bits: STIP and SEIP
    li t0, 0x222                  # set in mip, only SSI delegated -> sip = SSIP
    csrw mip, t0
    li t0, 0x2
    csrw mideleg, t0
    csrr a0, sip
    li a1, 0x2
    bne a0, a1, fail

    li gp, 24                     # in sip only SSIP is writable (STIP and SEIP belong to
    li t0, 0x222                  # M software / the interrupt controllers)
    csrw mideleg, t0
    csrw mip, zero
    li t0, -1
    csrw sip, t0
    csrr a0, mip
    li a1, 0x2
    bne a0, a1, fail
    csrr a0, sip
    bne a0, a1, fail

    li gp, 25                     # and clearing sip.SSIP clears mip.SSIP
    csrci sip, 2
    csrr a0, mip
    bnez a0, fail
    csrw mideleg, zero

# ---- mtvec / stvec -----------------------------------------------------------------------
    li gp, 26                     # MODE 1 (vectored) is accepted
    la t0, m_trap
    ori t1, t0, 1
    csrw mtvec, t1
    csrr a0, mtvec
    bne a0, t1, fail

    li gp, 27                     # MODE 3 is reserved: a legal mode must be read back;
    ori t2, t0, 3                 # vkernel keeps the old mode (1) and takes the new base
    csrw mtvec, t2
    csrr a0, mtvec
    bne a0, t1, fail

    li gp, 28                     # MODE 2 is reserved too; from direct mode it stays direct
    csrw mtvec, t0
    ori t2, t0, 2
    csrw mtvec, t2
    csrr a0, mtvec
    bne a0, t0, fail

    li gp, 29                     # the same rules for stvec
    la t0, s_trap
    ori t1, t0, 1
    csrw stvec, t1
    csrr a0, stvec
    bne a0, t1, fail
    ori t2, t0, 2
    csrw stvec, t2
    csrr a0, stvec
    bne a0, t1, fail
    csrw stvec, t0
    ori t2, t0, 3
    csrw stvec, t2
    csrr a0, stvec
    bne a0, t0, fail

# ---- mepc / sepc: bit 0 is always 0 (IALIGN=16 with the C extension) ---------------------
    li gp, 30
    li t0, 0x80001233
    csrw mepc, t0
    csrr a0, mepc
    li a1, 0x80001232             # bit 1 stays: 2-byte aligned instructions exist
    bne a0, a1, fail

    li gp, 31
    csrw sepc, t0
    csrr a0, sepc
    bne a0, a1, fail

    li gp, 32                     # an upper-half Sv39 virtual address is held exactly
    li t0, 0xffffffffc0000001
    csrw sepc, t0
    csrr a0, sepc
    li a1, 0xffffffffc0000000
    bne a0, a1, fail

# ---- scratch and cause registers --------------------------------------------------------
    li gp, 33                     # mscratch and sscratch are plain 64-bit registers
    li t0, 0x0123456789abcdef
    csrw mscratch, t0
    csrr a0, mscratch
    bne a0, t0, fail
    not t0, t0
    csrw sscratch, t0
    csrr a0, sscratch
    bne a0, t0, fail

    li gp, 34                     # mcause holds any implemented cause: interrupt bit + 7
    li t0, 1
    slli t0, t0, 63
    ori t0, t0, 7
    csrw mcause, t0
    csrr a0, mcause
    bne a0, t0, fail
    li t0, 9
    csrw scause, t0
    csrr a0, scause
    bne a0, t0, fail

# ---- the CSR instructions themselves -----------------------------------------------------
    li gp, 35                     # csrrw returns the old value and writes the new one
    li t0, 0x55
    csrw mscratch, t0
    li t1, 0xaa
    csrrw a0, mscratch, t1
    bne a0, t0, fail
    csrr a0, mscratch
    bne a0, t1, fail

    li gp, 36                     # csrrs / csrrc set / clear the bits of rs1, return the old
    li t0, 0x0f
    csrrs a0, mscratch, t0        # 0xaa | 0x0f = 0xaf
    li a1, 0xaa
    bne a0, a1, fail
    li t0, 0xa0
    csrrc a0, mscratch, t0        # 0xaf & ~0xa0 = 0x0f
    li a1, 0xaf
    bne a0, a1, fail
    csrr a0, mscratch
    li a1, 0x0f
    bne a0, a1, fail

    li gp, 37                     # the immediate forms use a 5-bit zero-extended uimm
    csrrwi a0, mscratch, 31
    csrrsi a0, mscratch, 0x10     # still 31
    csrrci a0, mscratch, 1        # 31 -> 30
    csrr a0, mscratch
    li a1, 30
    bne a0, a1, fail

# ---- counter enables ----------------------------------------------------------------------
    li gp, 38                     # mcounteren/scounteren are 32-bit registers; CY, TM and
    li t0, -1                     # IR (bits 0-2) are writable
    csrw mcounteren, t0
    csrr a0, mcounteren
    srli a1, a0, 32
    bnez a1, fail
    andi a1, a0, 7
    li a2, 7
    bne a1, a2, fail
    csrw scounteren, t0
    csrr a0, scounteren
    srli a1, a0, 32
    bnez a1, fail
    andi a1, a0, 7
    bne a1, a2, fail
    csrw mcounteren, zero
    csrw scounteren, zero
    csrr a0, mcounteren
    bnez a0, fail

    # S-mode with mcounteren = 0: cycle, time and instret are illegal instructions;
    # the trap leaves rd unwritten and mtval holds the instruction bits
    li gp, 39
    jal to_s
    li a0, 0x55
1:  csrr a0, cycle
    la a1, 1b
    jal expect_illegal
    li t0, 0x55
    bne a0, t0, fail              # rd was not written

    li gp, 40
1:  csrr a0, time
    la a1, 1b
    jal expect_illegal

    li gp, 41
1:  csrr a0, instret
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d                 # back to M
    ecall

    li gp, 42                     # mcounteren.TM only: time readable in S, cycle still not
    csrwi mcounteren, 2
    jal to_s
    csrr a0, time
    bnez s5, fail
1:  csrr a0, cycle
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 43                     # mcounteren = 7: S reads all three ...
    csrwi mcounteren, 7
    jal to_s
    csrr a0, cycle
    csrr a0, time
    csrr a0, instret
    bnez s5, fail

    li gp, 44                     # ... but U also needs scounteren (still 0)
    li a7, 0x4d4d
    ecall
    jal to_u
1:  csrr a0, cycle
    la a1, 1b
    jal expect_illegal
1:  csrr a0, time
    la a1, 1b
    jal expect_illegal
1:  csrr a0, instret
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 45                     # mcounteren = scounteren = 7: U reads all three
    csrwi scounteren, 7
    jal to_u
    csrr a0, cycle
    csrr a0, time
    csrr a0, instret
    bnez s5, fail
    li a7, 0x4d4d
    ecall

    li gp, 46                     # scounteren alone does not open a counter to U
    csrw mcounteren, zero
    jal to_u
1:  csrr a0, time
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 47                     # scounteren does not restrict S itself
    csrwi mcounteren, 7
    csrw scounteren, zero
    jal to_s
    csrr a0, cycle
    bnez s5, fail
    li a7, 0x4d4d
    ecall
    csrw mcounteren, zero

    li gp, 48                     # M-mode reads the counters whatever the enables say
    csrr a0, cycle
    csrr a0, time
    csrr a0, instret
    bnez s5, fail

# ---- privilege of the CSR number ---------------------------------------------------------
    li gp, 49                     # bits 9:8 of the number give the lowest privilege: an
    jal to_s                   # M CSR from S is illegal ...
1:  csrr a0, mscratch
    la a1, 1b
    jal expect_illegal
1:  csrr a0, mstatus
    la a1, 1b
    jal expect_illegal

    li gp, 50                     # ... while S CSRs are fine in S
    csrr a0, sstatus
    csrr a0, sscratch
    csrr a0, satp
    bnez s5, fail
    li a7, 0x4d4d
    ecall

    li gp, 51                     # an S CSR from U is illegal
    jal to_u
1:  csrr a0, sscratch
    la a1, 1b
    jal expect_illegal
1:  csrw sstatus, zero
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

# ---- menvcfg / senvcfg / stimecmp ----------------------------------------------------------
    li gp, 52                     # reset value: ADUE=1 (hardware A/D updates), STCE=0
    csrr a0, menvcfg
    li a1, 1
    slli a1, a1, 61
    bne a0, a1, fail

    li gp, 53                     # writable: FIOM (0), ADUE (61), STCE (63); PBMTE and the
    li t0, -1                     # cache-block bits read 0 (no Svpbmt, no Zicbo*)
    csrw menvcfg, t0
    csrr a0, menvcfg
    li a1, 0xa000000000000001
    bne a0, a1, fail
    csrw menvcfg, zero
    csrr a0, menvcfg
    bnez a0, fail

    li gp, 54                     # senvcfg: only FIOM
    li t0, -1
    csrw senvcfg, t0
    csrr a0, senvcfg
    li a1, 1
    bne a0, a1, fail
    csrw senvcfg, zero

    li gp, 55                     # Sstc: stimecmp is illegal in S while menvcfg.STCE = 0
    csrwi mcounteren, 2           # (even with mcounteren.TM = 1)
    jal to_s
1:  csrr a0, stimecmp
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 56                     # ... and while mcounteren.TM = 0 (even with STCE = 1)
    li t0, 1
    slli t0, t0, 63
    csrw menvcfg, t0
    csrw mcounteren, zero
    jal to_s
1:  csrr a0, stimecmp
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

    li gp, 57                     # with both, S can read and write it
    csrwi mcounteren, 2
    jal to_s
    li t0, -1
    csrw stimecmp, t0
    csrr a0, stimecmp
    bne a0, t0, fail
    bnez s5, fail
    li a7, 0x4d4d
    ecall
    csrw mcounteren, zero
    li t0, 1
    slli t0, t0, 61
    csrw menvcfg, t0              # back to the reset value

# ---- mcycle / minstret -------------------------------------------------------------------
    li gp, 58                     # a write to minstret is what the next instruction reads
    li t0, 100                    # (the writing instruction itself is not counted on top)
    csrw minstret, t0
    csrr a0, minstret
    li a1, 100
    bne a0, a1, fail

    li gp, 59                     # minstret counts retired instructions: two reads around
    csrr a0, minstret             # one nop differ by exactly 2
    nop
    csrr a1, minstret
    sub a1, a1, a0
    li a2, 2
    bne a1, a2, fail

    li gp, 60                     # instret (0xC02) is a read-only shadow of minstret
    li t0, 5000
    csrw minstret, t0
    csrr a0, instret
    bne a0, t0, fail

    li gp, 61                     # mcycle is writable; the cycles per instruction are not
    li t0, 1000                   # architectural, so only a small lead is required
    csrw mcycle, t0
    csrr a0, mcycle
    bltu a0, t0, fail
    addi a1, t0, 16
    bgeu a0, a1, fail
    csrr a0, cycle                # cycle shadows mcycle
    bltu a0, t0, fail
    bgeu a0, a1, fail

    li gp, 62                     # the time CSR reads the CLINT's mtime
    li t0, 0x0200bff8
    ld a0, 0(t0)
    csrr a1, time
    sub a1, a1, a0
    li a2, 2
    bgeu a1, a2, fail

# ---- satp ----------------------------------------------------------------------------------
    li gp, 63                     # Sv39 (MODE 8) with an ASID and a PPN reads back exactly
    li t0, (8 << 60) | (0x1234 << 44) | 0x80010
    csrw satp, t0
    csrr a0, satp
    bne a0, t0, fail

    li gp, 64                     # an unsupported MODE (9 = Sv48, 1 = reserved, 10 = Sv57):
    li t1, (9 << 60) | 0x80020    # the whole write has no effect
    csrw satp, t1
    csrr a0, satp
    bne a0, t0, fail
    li t1, (1 << 60) | 0x80020
    csrw satp, t1
    csrr a0, satp
    bne a0, t0, fail
    li t1, (10 << 60) | 0x80020
    csrw satp, t1
    csrr a0, satp
    bne a0, t0, fail

    li gp, 65                     # writing 0 selects Bare and the register reads 0
    csrw satp, zero               # (Bare with non-zero ASID/PPN is UNSPECIFIED: not tested)
    csrr a0, satp
    bnez a0, fail

# ---- PMP ------------------------------------------------------------------------------------
    # pmpcfg bytes: R 0x01, W 0x02, X 0x04, A 0x18 (0 OFF, 0x08 TOR, 0x10 NA4, 0x18 NAPOT),
    # bits 5-6 reserved, L 0x80. Entry 0 (byte 0) keeps the allow-all region.
    li gp, 66                     # R=0 W=1 is reserved: vkernel drops W (entry 1: W -> 0)
    li t0, (0x02 << 8) | 0x1f
    csrw pmpcfg0, t0
    csrr a0, pmpcfg0
    li a1, 0x1f
    bne a0, a1, fail

    li gp, 67                     # W+X without R -> X (entry 2); RWX stays RWX (entry 3)
    li t0, (0x07 << 24) | (0x06 << 16) | 0x1f
    csrw pmpcfg0, t0
    csrr a0, pmpcfg0
    li a1, (0x07 << 24) | (0x04 << 16) | 0x1f
    bne a0, a1, fail

    li gp, 68                     # the reserved bits 5-6 of a cfg byte read 0 (entry 4)
    li t0, (0x61 << 32) | 0x1f
    csrw pmpcfg0, t0
    csrr a0, pmpcfg0
    li a1, (0x01 << 32) | 0x1f
    bne a0, a1, fail
    li t0, 0x1f
    csrw pmpcfg0, t0

    li gp, 69                     # RV64 has only the even pmpcfg registers: pmpcfg1 is
1:  csrr a0, 0x3a1                # illegal
    la a1, 1b
    jal expect_illegal

    li gp, 70                     # pmpaddr holds bits 55:2 of an address: 54 bits (all
                                  # writable on vkernel: 56-bit addresses, 4-byte grain)
    li t0, -1
    csrw pmpaddr1, t0
    csrr a0, pmpaddr1
    li a1, (1 << 54) - 1
    bne a0, a1, fail
    csrw pmpaddr1, zero

    li gp, 71                     # a locked entry ignores writes to its cfg and address:
    li t0, 0x1234                 # lock entry 15 (A=OFF, so it matches nothing) ...
    csrw pmpaddr15, t0
    li t0, 0x80 << 56
    csrw pmpcfg2, t0
    li t1, 0x5678
    csrw pmpaddr15, t1
    csrr a0, pmpaddr15
    li a1, 0x1234
    bne a0, a1, fail
    li t1, 0x07 << 56             # ... nor can its cfg byte be changed (until reset)
    csrw pmpcfg2, t1
    csrr a0, pmpcfg2
    bne a0, t0, fail

    li gp, 72                     # a locked TOR entry also locks the address below it:
    li t1, (0x88 << 48) | (0x80 << 56)   # entry 14 = L|TOR over [pmpaddr13, pmpaddr14) =
    csrw pmpcfg2, t1              # [0, 0), an empty range
    li t2, 0x99
    csrw pmpaddr13, t2
    csrr a0, pmpaddr13
    bnez a0, fail
    csrw pmpaddr12, t2            # entry 12's address is not locked
    csrr a0, pmpaddr12
    bne a0, t2, fail

# ---- triggers (Sdtrig) with no triggers implemented ---------------------------------------
    li gp, 73                     # tselect 0: tinfo = 1 (only type 0 = "no trigger here")
    csrw tselect, zero
    csrr a0, tselect
    bnez a0, fail
    csrr a0, 0x7a4                # tinfo
    li a1, 1
    bne a0, a1, fail

    li gp, 74                     # tdata1.type (bits 63:60) is 0 and cannot be changed to
    li t0, -1                     # a trigger type that is not implemented
    csrw tdata1, t0
    csrr a0, tdata1
    srli a0, a0, 60
    bnez a0, fail

    li gp, 75                     # trigger CSRs are M-mode (debug) registers: illegal in S
    jal to_s
1:  csrr a0, tselect
    la a1, 1b
    jal expect_illegal
    li a7, 0x4d4d
    ecall

# ---- identification and read-only CSRs ---------------------------------------------------
    li gp, 76                     # single hart 0, non-commercial implementation
    csrr a0, mhartid
    bnez a0, fail
    csrr a0, mvendorid
    bnez a0, fail
    bnez s5, fail                 # reading a read-only CSR is fine

    li gp, 77                     # csrrs/csrrc with rs1 = x0 (and the i forms with uimm 0)
    csrrs a0, mhartid, zero       # do not write, so they are fine on read-only CSRs
    csrrc a0, cycle, zero
    csrrsi a0, mvendorid, 0
    bnez s5, fail

    li gp, 78                     # any write to a read-only CSR (number bits 11:10 = 3)
1:  csrw mhartid, zero            # is illegal ...
    la a1, 1b
    jal expect_illegal
1:  csrw cycle, zero
    la a1, 1b
    jal expect_illegal

    li gp, 79                     # ... including csrrw with rd = x0 and csrrs with a
1:  csrrw zero, mvendorid, zero   # non-zero rs1 register that holds 0: "writes" are
    la a1, 1b                     # decided by the encoding, not by the value
    jal expect_illegal
    li t0, 0
1:  csrrs a0, mhartid, t0
    la a1, 1b
    jal expect_illegal
1:  csrrsi a0, instret, 1
    la a1, 1b
    jal expect_illegal

    li gp, 80                     # a CSR number that does not exist is illegal, in M too,
    li a0, 0x55                   # with mtval = the instruction and rd not written
1:  csrr a0, 0x7ff
    la a1, 1b
    jal expect_illegal
    li t0, 0x55
    bne a0, t0, fail

    li gp, 81                     # there is no mtime CSR (0xB01): mtime is memory-mapped
1:  csrr a0, 0xb01
    la a1, 1b
    jal expect_illegal

    li gp, 82                     # no Sdtrig hypervisor context: hcontext (0x6a8) does not exist
1:  csrr a0, 0x6a8
    la a1, 1b
    jal expect_illegal

    j pass

# ---- helpers and trap handlers (trap_handler.inc) ------------------------------------------
    expect_illegal_insn

    mode_switches

    m_trap_recording

# s_trap: only its address is used (as an stvec value); nothing is delegated here
    .align 8
s_trap:
    j fail
