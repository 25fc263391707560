# H extension: the virtual-instruction exception (cause 22). With V=1 an instruction that
# is HS-qualified (valid in HS-mode, taking mstatus.TSR = TVM = 0) but not allowed in VS- or
# VU-mode raises it: hypervisor and VS CSRs by their own numbers, supervisor CSRs and
# SRET / SFENCE.VMA / WFI in VU-mode, HLV / HLVX / HSV / HFENCE, hstatus.VTSR / VTW / VTVM,
# counters disabled by hcounteren (or scounteren in VU) but enabled by mcounteren, vstimecmp
# with henvcfg.STCE = 0. What is not HS-qualified stays an illegal instruction (cause 2):
# M-level CSRs, MRET, writes to read-only CSRs, high-half CSRs on RV64, counters disabled by
# mcounteren, WFI with mstatus.TW = 1, anything in U-mode (V=0). xtval is written as for an
# illegal instruction (0 or the instruction's bits).
# Reference: RISC-V privileged spec, chapter "Hypervisor Extension": "Trap Cause Codes" (the
# list of virtual-instruction cases), "Hypervisor Status (hstatus)" (VTSR, VTW, VTVM, HU),
# "Hypervisor Counter-Enable (hcounteren)", "Hypervisor Environment Configuration
# (henvcfg)" (STCE), "Hypervisor Virtual-Machine Load and Store Instructions", "Hypervisor
# Memory-Management Fence Instructions", "Machine Status (mstatus)" (TSR, TVM, TW).
#
# Translation is off (vsatp, hgatp, satp Bare). Nothing is delegated unless said: every
# trap goes to M, and `trapped` checks it.
#
# Conventions (trap records in s1-s9, expect, to_hs / to_u / to_vs / to_vu, MAGIC for
# "back to M-mode"): see the framework at the end of the file.
    .equ MAGIC,     0x4d4d               # a7 value: "back to M-mode" (see the framework)
    .equ LVL_HS,    1
    .equ LVL_VS,    2
    .equ LVL_M,     3
    .equ IRQ,       1 << 63              # interrupt bit of xcause
    # mstatus / sstatus / vsstatus
    .equ SIE,       1 << 1
    .equ MIE,       1 << 3
    .equ SPIE,      1 << 5
    .equ MPIE,      1 << 7
    .equ SPP,       1 << 8
    .equ MPP_MASK,  3 << 11
    .equ MPP_S,     1 << 11
    .equ MPRV,      1 << 17
    .equ SUM,       1 << 18
    .equ MXR,       1 << 19
    .equ TVM,       1 << 20
    .equ TW,        1 << 21
    .equ TSR,       1 << 22
    .equ GVA_M,     1 << 38              # mstatus.GVA
    .equ MPV,       1 << 39              # mstatus.MPV
    # hstatus
    .equ H_GVA,     1 << 6
    .equ H_SPV,     1 << 7
    .equ H_SPVP,    1 << 8
    .equ H_HU,      1 << 9
    .equ H_VTVM,    1 << 20
    .equ H_VTW,     1 << 21
    .equ H_VTSR,    1 << 22
    .equ VI,         22                  # virtual-instruction exception
    .equ II,         2                   # illegal-instruction exception
    .equ STCE,       1 << 63             # menvcfg / henvcfg.STCE

main:
    la t0, m_trap
    csrw mtvec, t0
    la t0, hs_trap
    csrw stvec, t0
    la t0, vs_trap
    csrw vstvec, t0
    la tp, irq_log
    li s0, 0
    li s9, 0
    li a7, 0
    li t0, -1                     # PMP entry 0: all of memory, RWX, for HS/U/VS/VU
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    csrw medeleg, zero
    csrw hedeleg, zero
    csrw mideleg, zero
    csrw hideleg, zero
    csrw satp, zero
    csrw vsatp, zero
    csrw hgatp, zero
    csrw hstatus, zero
    csrw mcounteren, zero
    csrw hcounteren, zero
    csrw scounteren, zero
    li t0, STCE
    csrc menvcfg, t0
    csrc henvcfg, t0

# ---- VS-mode: hypervisor and VS CSRs --------------------------------------------------------
    jal to_vs

    li gp, 1                      # reading a hypervisor CSR in VS-mode: virtual instruction
1:  csrr a0, hstatus
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hedeleg
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hideleg
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hvip
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hip
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hie
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hgeip
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hgeie
    li a1, VI
    la a2, 1b
    jal trapped

    li gp, 2                      # ... the others too
1:  csrr a0, hcounteren
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, htval
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, htinst
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hgatp
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, henvcfg
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, htimedelta
    li a1, VI
    la a2, 1b
    jal trapped

    li gp, 3                      # writing them: virtual instruction
1:  csrw hstatus, zero
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrsi hvip, 4
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrw hgatp, zero
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrw htimedelta, zero
    li a1, VI
    la a2, 1b
    jal trapped

    li gp, 4                      # hgeip is read-only: writing it is not allowed in HS-mode
1:  csrw hgeip, zero              # either, so it is an illegal instruction
    li a1, II
    la a2, 1b
    jal trapped

    li gp, 5                      # "When V=1, an attempt to read or write a VS CSR directly by
1:  csrr a0, vsstatus             # its own separate CSR address causes a virtual-instruction
    li a1, VI                     # exception"
    la a2, 1b
    jal trapped
1:  csrr a0, vsie
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, vstvec
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, vsscratch
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, vsepc
    li a1, VI
    la a2, 1b
    jal trapped

    li gp, 6
1:  csrr a0, vscause
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, vstval
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, vsip
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, vsatp
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrw vsscratch, zero
    li a1, VI
    la a2, 1b
    jal trapped

    li gp, 7                      # M-level CSRs are not HS-qualified: illegal instruction
1:  csrr a0, mstatus
    li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, mscratch
    li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, mideleg
    li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, mtval2
    li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, mtinst
    li a1, II
    la a2, 1b
    jal trapped

    li gp, 8                      # MRET is not valid in HS-mode: illegal instruction
1:  mret
    li a1, II
    la a2, 1b
    jal trapped

    li gp, 9                      # "When XLEN>32, an attempt to access a high-half CSR always
1:  csrr a0, 0xc80                # raises an illegal-instruction exception": cycleh,
    li a1, II                     # htimedeltah
    la a2, 1b
    jal trapped
1:  csrr a0, 0x615
    li a1, II
    la a2, 1b
    jal trapped

    li gp, 10                     # HLV, HLVX, HSV, HFENCE in VS-mode: virtual instruction
    la a3, scratch
    # QEMU 7.2 leaves mtval holding the bits of the previous illegal / virtual instruction
1:  hlv.d a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
1:  hlv.bu a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
1:  hlvx.wu a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
1:  hsv.w a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
1:  hfence.vvma zero, zero
    li a1, VI
    la a2, 1b
    jal trapped
1:  hfence.gvma zero, zero
    li a1, VI
    la a2, 1b
    jal trapped

    li gp, 11                     # supervisor CSRs, SFENCE.VMA and SRET are VS-mode's own: no
    csrr a0, sstatus              # trap (vsepc = the next label for the sret)
    csrr a0, sscratch
    csrw sscratch, a0
    csrr a0, satp
    csrw satp, a0
    sfence.vma
    li t0, SPP
    csrs sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

# ---- VTSR, VTW, VTVM ------------------------------------------------------------------------
    li gp, 12                     # hstatus.VTSR = 1: SRET in VS-mode is a virtual instruction
    li t0, H_VTSR
    csrs hstatus, t0
    jal to_vs
1:  sret
    li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 13                     # ... but not in HS-mode (VTSR "affect[s] execution only in
    jal to_hs                     # VS-mode"): SRET from HS into HS works
    li t0, H_SPV
    csrc hstatus, t0
    li t0, SPP
    csrs sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  bnez s9, fail
    li a7, MAGIC
    ecall
    li t0, H_VTSR
    csrc hstatus, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 14                     # hstatus.VTW = 1 (mstatus.TW = 0): WFI in VS-mode, with no
    li t0, H_VTW                  # interrupt pending, is a virtual instruction
    csrs hstatus, t0
    jal to_vs
1:  wfi
    li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 15                     # mstatus.TW = 1 as well: TW wins, illegal instruction (the
    li t0, TW                     # virtual-instruction case needs TW = 0)
    csrs mstatus, t0
    jal to_vs
1:  wfi
    li a1, II
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 16                     # TW = 1, VTW = 0: illegal instruction too ("The TW field
    li t0, H_VTW                  # affects execution in all modes except M-mode")
    csrc hstatus, t0
    jal to_vs
1:  wfi
    li a1, II
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall
    li t0, TW
    csrc mstatus, t0

    li gp, 17                     # hstatus.VTVM = 1: SFENCE.VMA (any operands) in VS-mode is a
    li t0, H_VTVM                 # virtual instruction
    csrs hstatus, t0
    jal to_vs
1:  sfence.vma
    li a1, VI
    la a2, 1b
    jal trapped
1:  sfence.vma a0, a1
    li a1, VI
    la a2, 1b
    jal trapped

    li gp, 18                     # ... and so is any access to satp
    # QEMU 7.2 does not apply VTVM to satp: no trap
1:  csrr a0, satp
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li s9, 0
1:  csrw satp, zero
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li s9, 0
    li a7, MAGIC
    ecall

    li gp, 19                     # VTVM does not stop HS-mode, nor HFENCE.VVMA there
    jal to_hs
    csrr a0, satp
    sfence.vma
    hfence.vvma zero, zero
    bnez s9, fail
    li a7, MAGIC
    ecall
    li t0, H_VTVM
    csrc hstatus, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 20                     # mstatus.TSR and TVM "affect execution only in HS-mode, not
    li t0, TSR | TVM              # in VS-mode": SRET, SFENCE.VMA and satp work in VS-mode
    csrs mstatus, t0
    jal to_vs
    csrr a0, satp
    csrw satp, a0
    sfence.vma
    li t0, SPP
    csrs sstatus, t0
    la t0, 1f
    csrw sepc, t0
    la s0, 1f                     # (should the sret trap, go on at 1f all the same)
    sret
    j fail
1:  li s0, 0
    # QEMU 7.2 applies TSR and TVM in VS-mode too: four illegal-instruction traps
    bnez s9, fail                 # qemu-7.2-bug: li s9, 0

    li gp, 21                     # with TVM = 1, hgatp in VS-mode is still a virtual
1:  csrr a0, hgatp                # instruction (the rule assumes TVM = 0)
    li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall
    li t0, TSR | TVM
    csrc mstatus, t0

# ---- VU-mode -------------------------------------------------------------------------------
    jal to_vu

    # QEMU 7.2 raises illegal-instruction exceptions for supervisor CSRs in VU-mode
    li gp, 22                     # supervisor CSRs in VU-mode: virtual instruction ("in
1:  csrr a0, sstatus              # VU-mode, attempts to access an implemented non-high-half
    li a1, VI                     # supervisor CSR when the same access would be allowed in  # qemu-7.2-bug: li a1, II
    la a2, 1b                     # HS-mode")
    jal trapped
1:  csrr a0, sie
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, stvec
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, sscratch
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  csrw sepc, zero
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped

    li gp, 23
1:  csrr a0, scause
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, stval
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, sip
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, satp
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, scounteren
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, senvcfg
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped

    li gp, 24                     # hypervisor and VS CSRs in VU-mode: virtual instruction too
1:  csrr a0, hstatus
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, hgatp
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrr a0, vsstatus
    li a1, VI
    la a2, 1b
    jal trapped
1:  csrw vsscratch, zero
    li a1, VI
    la a2, 1b
    jal trapped

    li gp, 25                     # M-level CSRs in VU-mode: illegal instruction
1:  csrr a0, mstatus
    li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, mtval2
    li a1, II
    la a2, 1b
    jal trapped

    # QEMU 7.2: SRET and SFENCE.VMA in VU-mode are illegal instructions
    li gp, 26                     # SRET, SFENCE.VMA and WFI (mstatus.TW = 0) in VU-mode:
1:  sret                          # virtual instruction; MRET: illegal instruction
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  sfence.vma
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  wfi
    li a1, VI
    la a2, 1b
    jal trapped
1:  mret
    li a1, II
    la a2, 1b
    jal trapped

    # QEMU 7.2: a stale mtval for HLV / HLVX / HSV (as in VS-mode), and HFENCE in VU-mode
    # is an illegal instruction
    li gp, 27                     # HLV, HLVX, HSV, HFENCE in VU-mode: virtual instruction
    la a3, scratch
1:  hlv.w a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
1:  hlvx.hu a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
1:  hsv.d a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
1:  hfence.vvma zero, zero
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
1:  hfence.gvma zero, zero
    li a1, VI                     # qemu-7.2-bug: li a1, II
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    # QEMU 7.2: a stale mtval again
    li gp, 28                     # ... even with hstatus.HU = 1 (HU is about U-mode, V=0)
    li t0, H_HU
    csrs hstatus, t0
    jal to_vu
    la a3, scratch
1:  hlv.d a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
1:  hsv.b a0, (a3)
    li a1, VI
    la a2, 1b
    jal trapped                   # qemu-7.2-bug: li a0, LVL_M; jal expect
    li a7, MAGIC
    ecall
    li t0, H_HU
    csrc hstatus, t0

    li gp, 29                     # VU-mode with mstatus.TW = 1: WFI is an illegal instruction
    li t0, TW
    csrs mstatus, t0
    jal to_vu
1:  wfi
    # QEMU 7.2 raises a virtual-instruction exception whatever TW says
    li a1, II                     # qemu-7.2-bug: li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall
    li t0, TW
    csrc mstatus, t0

    li gp, 30                     # in U-mode (V=0) the same CSRs and instructions are illegal
    jal to_u                      # instructions, never virtual ones
1:  csrr a0, hstatus
    li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, vsstatus
    li a1, II
    la a2, 1b
    jal trapped
1:  csrr a0, sstatus
    li a1, II
    la a2, 1b
    jal trapped
1:  sret
    li a1, II
    la a2, 1b
    jal trapped
1:  hfence.vvma zero, zero
    li a1, II
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

# ---- counters ------------------------------------------------------------------------------
    li gp, 31                     # mcounteren = 7 (CY, TM, IR), hcounteren = 0: reading cycle,
    li t0, 7                      # time, instret in VS-mode is a virtual instruction
    csrw mcounteren, t0
    jal to_vs
1:  rdcycle a0
    li a1, VI
    la a2, 1b
    jal trapped
1:  rdtime a0
    li a1, VI
    la a2, 1b
    jal trapped
1:  rdinstret a0
    li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 32                     # the same in VU-mode, with scounteren = 7 (a counter "is not
    li t0, 7                      # readable unless the applicable bits are set in both
    csrw scounteren, t0           # hcounteren and scounteren")
    jal to_vu
1:  rdcycle a0
    li a1, VI
    la a2, 1b
    jal trapped
1:  rdtime a0
    li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 33                     # hcounteren = 7: VS-mode reads them
    li t0, 7
    csrw hcounteren, t0
    csrw scounteren, zero
    jal to_vs
    rdcycle a0
    rdtime a0
    rdinstret a0
    bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 34                     # VU-mode needs scounteren as well: 0 there is a virtual
    jal to_vu                     # instruction (mcounteren's bit is set)
1:  rdinstret a0
    li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 35                     # with scounteren = 7 too, VU-mode reads them
    li t0, 7
    csrw scounteren, t0
    jal to_vu
    rdcycle a0
    rdtime a0
    rdinstret a0
    bnez s9, fail
    li a7, MAGIC
    ecall
    bnez s9, fail                 # (and no trap on the way)

    li gp, 36                     # mcounteren = 0: an illegal instruction in VS- and VU-mode,
    csrw mcounteren, zero         # whatever hcounteren and scounteren say
    jal to_vs
1:  rdcycle a0
    li a1, II
    la a2, 1b
    jal trapped
1:  rdtime a0
    li a1, II
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall
    jal to_vu
1:  rdinstret a0
    li a1, II
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 37                     # U-mode (V=0) with mcounteren = 7, scounteren = 0: illegal
    li t0, 7                      # instruction (V=0: never a virtual one)
    csrw mcounteren, t0
    csrw scounteren, zero
    jal to_u
1:  rdcycle a0
    li a1, II
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall
    csrw hcounteren, zero
    csrw scounteren, zero
    csrw mcounteren, zero

# ---- Sstc: vstimecmp -------------------------------------------------------------------------
    li gp, 38                     # menvcfg.STCE = 1, henvcfg.STCE = 0: stimecmp (vstimecmp) in
    li t0, STCE                   # VS-mode is a virtual instruction
    csrs menvcfg, t0
    csrc henvcfg, t0
    li t0, 7
    csrw mcounteren, t0
    csrw hcounteren, t0
    jal to_vs
1:  csrr a0, stimecmp
    li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 39                     # henvcfg.STCE = 1 but hcounteren.TM = 0 (mcounteren.TM = 1):
    li t0, STCE                   # still a virtual instruction
    csrs henvcfg, t0
    li t0, 2
    csrc hcounteren, t0
    jal to_vs
1:  csrr a0, stimecmp
    li a1, VI
    la a2, 1b
    jal trapped
    li a7, MAGIC
    ecall

    li gp, 40                     # with hcounteren.TM = 1 VS-mode reads it (it is vstimecmp)
    li t0, 2
    csrs hcounteren, t0
    li t0, -1
    csrw vstimecmp, t0
    jal to_vs
    csrr a0, stimecmp
    bnez s9, fail
    li t0, -1
    bne a0, t0, fail
    li a7, MAGIC
    ecall
    li t0, STCE
    csrc henvcfg, t0
    csrc menvcfg, t0
    csrw hcounteren, zero
    csrw mcounteren, zero
    bnez s9, fail                 # (and no trap on the way)

# ---- delegation ------------------------------------------------------------------------------
    li gp, 41                     # medeleg[22]: a virtual-instruction trap goes to HS-mode
    li t0, 1 << 22                # (hedeleg[22] is read-only zero: never to VS): scause 22,
    csrw medeleg, t0              # stval = 0 or the bits, hstatus.SPV = 1, SPVP = 1, GVA = 0
    li t0, -1
    csrw hedeleg, t0
    jal to_vs
1:  csrr a0, hstatus
    li a0, LVL_HS
    li a1, VI
    la a2, 1b
    jal expect
    jal tval_is_insn
    li t0, H_SPV | H_SPVP | H_GVA
    and a0, s7, t0
    li a1, H_SPV | H_SPVP
    bne a0, a1, fail

    li gp, 42                     # from VU-mode: SPVP = 0
    li a7, MAGIC
    ecall
    jal to_vu
1:  csrr a0, hstatus
    li a0, LVL_HS
    li a1, VI
    la a2, 1b
    jal expect
    li t0, H_SPV | H_SPVP | H_GVA
    and a0, s7, t0
    li a1, H_SPV
    bne a0, a1, fail
    li a7, MAGIC
    ecall
    csrw medeleg, zero
    csrw hedeleg, zero

    j pass

# trapped: exactly one trap since the last check, into M-mode, with cause a1 at a2 and
# mtval 0 or the instruction's bits
trapped:
    mv a6, ra
    li a0, LVL_M
    jal expect
    jal tval_is_insn
    mv ra, a6
    ret

    .data
    .align 3
scratch:
    .dword 0
irq_log:
    .zero 64
    .text

# ==== framework (the same in every h_*.s guest) ===========================================
# Trap handlers m_trap (mtvec), hs_trap (stvec) and vs_trap (vstvec) record a trap as
#   s8 level it was taken to (LVL_M 3, LVL_HS 1, LVL_VS 2)   s9 += 1 (traps since `expect`)
#   s2 cause   s3 tval   s4 epc   s5 mstatus / HS sstatus / vsstatus at entry
#   s6 mtval2 / htval   s1 mtinst / htinst   s7 hstatus   (s6, s1, s7 = -1 for VS)
# and resume at s0 if s0 != 0 (clearing s0), else after the trapping instruction (every
# instruction is 4 bytes: the guests are assembled without compression). An interrupt is
# also logged at tp (cause, level; tp += 16), its enable bit is cleared (mie; sie and hie;
# vsie) and the interrupted instruction resumed. s10, s11 are the handlers' scratch registers.
# A trap with a7 = MAGIC is not recorded: execution goes on at the next instruction in
# M-mode, a7 = 0 ("back to M"). hs_trap / vs_trap pass it on with an ecall of their own
# and, back in M-mode, jump to sepc + 4 / vsepc + 4.

to_hs:                            # mret to the caller in HS-mode (V=0, S)
    li t0, MPV | MPP_MASK
    csrc mstatus, t0
    li t0, MPP_S
    csrs mstatus, t0
    csrw mepc, ra
    mret
to_u:                             # mret to the caller in U-mode (V=0)
    li t0, MPV | MPP_MASK
    csrc mstatus, t0
    csrw mepc, ra
    mret
to_vs:                            # mret to the caller in VS-mode (MPV=1, MPP=S)
    li t0, MPV | MPP_MASK
    csrc mstatus, t0
    li t0, MPV | MPP_S
    csrs mstatus, t0
    csrw mepc, ra
    mret
to_vu:                            # mret to the caller in VU-mode (MPV=1, MPP=U)
    li t0, MPV | MPP_MASK
    csrc mstatus, t0
    li t0, MPV
    csrs mstatus, t0
    csrw mepc, ra
    mret

# expect: exactly one trap since the last expect, to level a0 with cause a1 at epc a2
expect:
    li t0, 1
    bne s9, t0, fail
    bne s8, a0, fail
    bne s2, a1, fail
    bne s4, a2, fail
    li s9, 0
    ret

# tval_is_insn: s3 (xtval of an illegal- or virtual-instruction trap) is 0 or the bits of
# the instruction at a2: either is allowed ("mtval may be written with the faulting
# instruction bits, or zero"; a virtual-instruction trap writes it "the same as for an
# illegal-instruction trap")
tval_is_insn:
    beqz s3, 1f
    lwu t0, 0(a2)
    bne s3, t0, fail
1:  ret

    .align 6
m_trap:
    li s10, MAGIC
    bne a7, s10, 1f
    li a7, 0
    li s10, MPP_MASK              # MPP = M: mret stays in M-mode (and clears MPV, ignored
    csrs mstatus, s10             # with MPP = M: cleared here all the same, for QEMU 7.2,
    li s10, MPV                   # whose mret would set V=1)
    csrc mstatus, s10
    csrr s10, mepc
    addi s10, s10, 4
    csrw mepc, s10
    mret
1:  csrr s2, mcause
    csrr s3, mtval
    csrr s4, mepc
    csrr s5, mstatus
    csrr s6, mtval2
    csrr s1, mtinst
    csrr s7, hstatus
    li s8, LVL_M
    addi s9, s9, 1
    bltz s2, 3f
    beqz s0, 2f
    csrw mepc, s0
    li s0, 0
    mret
2:  addi s10, s4, 4
    csrw mepc, s10
    mret
3:  sd s2, 0(tp)
    sd s8, 8(tp)
    addi tp, tp, 16
    slli s10, s2, 1
    srli s10, s10, 1
    li s11, 1
    sll s11, s11, s10
    csrc mie, s11
    mret

    .align 6
hs_trap:
    li s10, MAGIC
    bne a7, s10, 1f
    ecall                         # on to M (an ecall from HS-mode is never delegated here)
    csrr s10, sepc                # m_trap returned here, in M-mode
    addi s10, s10, 4
    jr s10
1:  csrr s2, scause
    csrr s3, stval
    csrr s4, sepc
    csrr s5, sstatus
    csrr s6, htval
    csrr s1, htinst
    csrr s7, hstatus
    li s8, LVL_HS
    addi s9, s9, 1
    bltz s2, 3f
    beqz s0, 2f
    csrw sepc, s0
    li s0, 0
    sret
2:  addi s10, s4, 4
    csrw sepc, s10
    sret
3:  sd s2, 0(tp)
    sd s8, 8(tp)
    addi tp, tp, 16
    slli s10, s2, 1
    srli s10, s10, 1
    li s11, 1
    sll s11, s11, s10
    csrc sie, s11
    csrc hie, s11
    sret

    .align 6
vs_trap:
    li s10, MAGIC
    bne a7, s10, 1f
    ecall                         # on to M (through hs_trap if ecalls from VS go to HS)
    csrr s10, vsepc               # back here in M-mode
    addi s10, s10, 4
    jr s10
1:  csrr s2, scause               # (vscause: V=1)
    csrr s3, stval
    csrr s4, sepc
    csrr s5, sstatus
    li s6, -1
    li s1, -1
    li s7, -1
    li s8, LVL_VS
    addi s9, s9, 1
    bltz s2, 3f
    beqz s0, 2f
    csrw sepc, s0
    li s0, 0
    sret
2:  addi s10, s4, 4
    csrw sepc, s10
    sret
3:  sd s2, 0(tp)
    sd s8, 8(tp)
    addi tp, tp, 16
    slli s10, s2, 1
    srli s10, s10, 1
    li s11, 1
    sll s11, s11, s10
    csrc sie, s11                 # (vsie)
    sret
