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
# trap goes to M, and `virtual_insn` / `illegal_insn` check it.
#
# Conventions (h_init, trap records in s1-s9, expect, to_hs / to_u / to_vs / to_vu, MAGIC
# for "back to M-mode", irq_log, set_pte) and the shared constants (LVL_*, IRQ, mstatus and
# hstatus bits, RAM, PTE flags): see h_framework.inc, which this file includes.

    .include "prelude.s"
    .include "h_framework.inc"

    .equ VI,         22                  # virtual-instruction exception
    .equ II,         2                   # illegal-instruction exception
    .equ STCE,       1 << 63             # menvcfg / henvcfg.STCE

main:
    jal h_init
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
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hedeleg
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hideleg
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hvip
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hip
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hie
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hgeip
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hgeie
    la a2, 1b
    jal virtual_insn

    li gp, 2                      # ... the others too
1:  csrr a0, hcounteren
    la a2, 1b
    jal virtual_insn
1:  csrr a0, htval
    la a2, 1b
    jal virtual_insn
1:  csrr a0, htinst
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hgatp
    la a2, 1b
    jal virtual_insn
1:  csrr a0, henvcfg
    la a2, 1b
    jal virtual_insn
1:  csrr a0, htimedelta
    la a2, 1b
    jal virtual_insn

    li gp, 3                      # writing them: virtual instruction
1:  csrw hstatus, zero
    la a2, 1b
    jal virtual_insn
1:  csrsi hvip, 4
    la a2, 1b
    jal virtual_insn
1:  csrw hgatp, zero
    la a2, 1b
    jal virtual_insn
1:  csrw htimedelta, zero
    la a2, 1b
    jal virtual_insn

    li gp, 4                      # hgeip is read-only: writing it is not allowed in HS-mode
1:  csrw hgeip, zero              # either, so it is an illegal instruction
    la a2, 1b
    jal illegal_insn

    li gp, 5                      # "When V=1, an attempt to read or write a VS CSR directly by
1:  csrr a0, vsstatus             # its own separate CSR address causes a virtual-instruction
    la a2, 1b                     # exception"
    jal virtual_insn
1:  csrr a0, vsie
    la a2, 1b
    jal virtual_insn
1:  csrr a0, vstvec
    la a2, 1b
    jal virtual_insn
1:  csrr a0, vsscratch
    la a2, 1b
    jal virtual_insn
1:  csrr a0, vsepc
    la a2, 1b
    jal virtual_insn

    li gp, 6
1:  csrr a0, vscause
    la a2, 1b
    jal virtual_insn
1:  csrr a0, vstval
    la a2, 1b
    jal virtual_insn
1:  csrr a0, vsip
    la a2, 1b
    jal virtual_insn
1:  csrr a0, vsatp
    la a2, 1b
    jal virtual_insn
1:  csrw vsscratch, zero
    la a2, 1b
    jal virtual_insn

    li gp, 7                      # M-level CSRs are not HS-qualified: illegal instruction
1:  csrr a0, mstatus
    la a2, 1b
    jal illegal_insn
1:  csrr a0, mscratch
    la a2, 1b
    jal illegal_insn
1:  csrr a0, mideleg
    la a2, 1b
    jal illegal_insn
1:  csrr a0, mtval2
    la a2, 1b
    jal illegal_insn
1:  csrr a0, mtinst
    la a2, 1b
    jal illegal_insn

    li gp, 8                      # MRET is not valid in HS-mode: illegal instruction
1:  mret
    la a2, 1b
    jal illegal_insn

    li gp, 9                      # "When XLEN>32, an attempt to access a high-half CSR always
1:  csrr a0, 0xc80                # raises an illegal-instruction exception": cycleh,
    la a2, 1b                     # htimedeltah
    jal illegal_insn
1:  csrr a0, 0x615
    la a2, 1b
    jal illegal_insn

    li gp, 10                     # HLV, HLVX, HSV, HFENCE in VS-mode: virtual instruction
    la a3, scratch
    # QEMU 7.2 leaves mtval holding the bits of the previous illegal / virtual instruction
1:  hlv.d a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
1:  hlv.bu a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
1:  hlvx.wu a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
1:  hsv.w a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
1:  hfence.vvma zero, zero
    la a2, 1b
    jal virtual_insn
1:  hfence.gvma zero, zero
    la a2, 1b
    jal virtual_insn

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
    la a2, 1b
    jal virtual_insn
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
    la a2, 1b
    jal virtual_insn
    li a7, MAGIC
    ecall

    li gp, 15                     # mstatus.TW = 1 as well: TW wins, illegal instruction (the
    li t0, TW                     # virtual-instruction case needs TW = 0)
    csrs mstatus, t0
    jal to_vs
1:  wfi
    la a2, 1b
    jal illegal_insn
    li a7, MAGIC
    ecall

    li gp, 16                     # TW = 1, VTW = 0: illegal instruction too ("The TW field
    li t0, H_VTW                  # affects execution in all modes except M-mode")
    csrc hstatus, t0
    jal to_vs
1:  wfi
    la a2, 1b
    jal illegal_insn
    li a7, MAGIC
    ecall
    li t0, TW
    csrc mstatus, t0

    li gp, 17                     # hstatus.VTVM = 1: SFENCE.VMA (any operands) in VS-mode is a
    li t0, H_VTVM                 # virtual instruction
    csrs hstatus, t0
    jal to_vs
1:  sfence.vma
    la a2, 1b
    jal virtual_insn
1:  sfence.vma a0, a1
    la a2, 1b
    jal virtual_insn

    li gp, 18                     # ... and so is any access to satp
    # QEMU 7.2 does not apply VTVM to satp: no trap
1:  csrr a0, satp
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li s9, 0
1:  csrw satp, zero
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li s9, 0
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
    la a2, 1b
    jal virtual_insn
    li a7, MAGIC
    ecall
    li t0, TSR | TVM
    csrc mstatus, t0

# ---- VU-mode -------------------------------------------------------------------------------
    jal to_vu

    # QEMU 7.2 raises illegal-instruction exceptions for supervisor CSRs in VU-mode
    li gp, 22                     # supervisor CSRs in VU-mode: virtual instruction ("in
1:  csrr a0, sstatus              # VU-mode, attempts to access an implemented non-high-half
    la a2, 1b                     # supervisor CSR when the same access would be allowed in
    jal virtual_insn              # HS-mode")  # qemu-7.2-bug: jal illegal_insn
1:  csrr a0, sie
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  csrr a0, stvec
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  csrr a0, sscratch
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  csrw sepc, zero
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn

    li gp, 23
1:  csrr a0, scause
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  csrr a0, stval
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  csrr a0, sip
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  csrr a0, satp
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  csrr a0, scounteren
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  csrr a0, senvcfg
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn

    li gp, 24                     # hypervisor and VS CSRs in VU-mode: virtual instruction too
1:  csrr a0, hstatus
    la a2, 1b
    jal virtual_insn
1:  csrr a0, hgatp
    la a2, 1b
    jal virtual_insn
1:  csrr a0, vsstatus
    la a2, 1b
    jal virtual_insn
1:  csrw vsscratch, zero
    la a2, 1b
    jal virtual_insn

    li gp, 25                     # M-level CSRs in VU-mode: illegal instruction
1:  csrr a0, mstatus
    la a2, 1b
    jal illegal_insn
1:  csrr a0, mtval2
    la a2, 1b
    jal illegal_insn

    # QEMU 7.2: SRET and SFENCE.VMA in VU-mode are illegal instructions
    li gp, 26                     # SRET, SFENCE.VMA and WFI (mstatus.TW = 0) in VU-mode:
1:  sret                          # virtual instruction; MRET: illegal instruction
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  sfence.vma
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  wfi
    la a2, 1b
    jal virtual_insn
1:  mret
    la a2, 1b
    jal illegal_insn

    # QEMU 7.2: a stale mtval for HLV / HLVX / HSV (as in VS-mode), and HFENCE in VU-mode
    # is an illegal instruction
    li gp, 27                     # HLV, HLVX, HSV, HFENCE in VU-mode: virtual instruction
    la a3, scratch
1:  hlv.w a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
1:  hlvx.hu a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
1:  hsv.d a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
1:  hfence.vvma zero, zero
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
1:  hfence.gvma zero, zero
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: jal illegal_insn
    li a7, MAGIC
    ecall

    # QEMU 7.2: a stale mtval again
    li gp, 28                     # ... even with hstatus.HU = 1 (HU is about U-mode, V=0)
    li t0, H_HU
    csrs hstatus, t0
    jal to_vu
    la a3, scratch
1:  hlv.d a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
1:  hsv.b a0, (a3)
    la a2, 1b
    jal virtual_insn              # qemu-7.2-bug: li a1, VI; li a0, LVL_M; jal expect
    li a7, MAGIC
    ecall
    li t0, H_HU
    csrc hstatus, t0

    li gp, 29                     # VU-mode with mstatus.TW = 1: WFI is an illegal instruction
    li t0, TW
    csrs mstatus, t0
    jal to_vu
1:  wfi
    la a2, 1b
    # QEMU 7.2 raises a virtual-instruction exception whatever TW says
    jal illegal_insn              # qemu-7.2-bug: jal virtual_insn
    li a7, MAGIC
    ecall
    li t0, TW
    csrc mstatus, t0

    li gp, 30                     # in U-mode (V=0) the same CSRs and instructions are illegal
    jal to_u                      # instructions, never virtual ones
1:  csrr a0, hstatus
    la a2, 1b
    jal illegal_insn
1:  csrr a0, vsstatus
    la a2, 1b
    jal illegal_insn
1:  csrr a0, sstatus
    la a2, 1b
    jal illegal_insn
1:  sret
    la a2, 1b
    jal illegal_insn
1:  hfence.vvma zero, zero
    la a2, 1b
    jal illegal_insn
    li a7, MAGIC
    ecall

# ---- counters ------------------------------------------------------------------------------
    li gp, 31                     # mcounteren = 7 (CY, TM, IR), hcounteren = 0: reading cycle,
    li t0, 7                      # time, instret in VS-mode is a virtual instruction
    csrw mcounteren, t0
    jal to_vs
1:  rdcycle a0
    la a2, 1b
    jal virtual_insn
1:  rdtime a0
    la a2, 1b
    jal virtual_insn
1:  rdinstret a0
    la a2, 1b
    jal virtual_insn
    li a7, MAGIC
    ecall

    li gp, 32                     # the same in VU-mode, with scounteren = 7 (a counter "is not
    li t0, 7                      # readable unless the applicable bits are set in both
    csrw scounteren, t0           # hcounteren and scounteren")
    jal to_vu
1:  rdcycle a0
    la a2, 1b
    jal virtual_insn
1:  rdtime a0
    la a2, 1b
    jal virtual_insn
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
    la a2, 1b
    jal virtual_insn
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
    la a2, 1b
    jal illegal_insn
1:  rdtime a0
    la a2, 1b
    jal illegal_insn
    li a7, MAGIC
    ecall
    jal to_vu
1:  rdinstret a0
    la a2, 1b
    jal illegal_insn
    li a7, MAGIC
    ecall

    li gp, 37                     # U-mode (V=0) with mcounteren = 7, scounteren = 0: illegal
    li t0, 7                      # instruction (V=0: never a virtual one)
    csrw mcounteren, t0
    csrw scounteren, zero
    jal to_u
1:  rdcycle a0
    la a2, 1b
    jal illegal_insn
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
    la a2, 1b
    jal virtual_insn
    li a7, MAGIC
    ecall

    li gp, 39                     # henvcfg.STCE = 1 but hcounteren.TM = 0 (mcounteren.TM = 1):
    li t0, STCE                   # still a virtual instruction
    csrs henvcfg, t0
    li t0, 2
    csrc hcounteren, t0
    jal to_vs
1:  csrr a0, stimecmp
    la a2, 1b
    jal virtual_insn
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

# virtual_insn / illegal_insn: exactly one trap since the last check, into M-mode, a
# virtual-instruction (VI) / illegal-instruction (II) exception at a2, with mtval 0 or the
# instruction's bits
virtual_insn:
    li a1, VI
    j trapped
illegal_insn:
    li a1, II
trapped:                          # the same with cause a1
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
    .text
