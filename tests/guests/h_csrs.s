# H extension: the hypervisor and virtual-supervisor CSRs, their WARL read-back rules, the
# machine-level CSRs the extension adds or changes, and the redirection of supervisor CSR
# accesses to the VS CSRs when V=1.
# Reference: RISC-V privileged spec, chapter "Hypervisor Extension" (riscv-isa-manual):
#   "Hypervisor and Virtual Supervisor CSRs" (hstatus, hedeleg/hideleg, hvip/hip/hie,
#   hgeip/hgeie, henvcfg, hcounteren, htimedelta, htval, htinst, hgatp, vsstatus, vsip/vsie,
#   vstvec, vsscratch, vsepc, vscause, vstval, vsatp), "Machine-Level CSRs" (misa.H, mstatus
#   MPV/GVA, mideleg, mip/mie, mtval2, mtinst), "Trap Return" (MRET/SRET and V).
# Implementation choices of vkernel this file relies on (all allowed by the spec): GEILEN = 0,
# VMIDLEN = 14, the time CSR readable, hcounteren.TM writable, Sstc (menvcfg.STCE) present.
#
# Nothing is delegated: every trap goes to m_trap (see h_framework.inc).
#
# Conventions (h_init, trap records in s1-s9, expect, to_hs / to_u / to_vs / to_vu, MAGIC
# for "back to M-mode", irq_log, set_pte) and the shared constants (LVL_*, IRQ, mstatus and
# hstatus bits, RAM, PTE flags): see h_framework.inc, which this file includes.

    .include "prelude.s"
    .include "h_framework.inc"

    .equ VMID_ALL,  0x3fff << 44         # hgatp.VMID: bits 57:44 (VMIDMAX = 14 for Sv39x4)
    .equ DELTA,     0x0000100000000000   # htimedelta for the time checks

main:
    jal h_init
    csrw vstvec, zero             # (not vs_trap before check 31 writes it)
    li t0, 1 << 63                # STCE = 0: no Sstc timer comparisons, so hip.VSTIP is
    csrc menvcfg, t0              # hvip.VSTIP alone
    csrc henvcfg, t0

# ---- misa, mstatus, mideleg ----------------------------------------------------------------
    li gp, 1                      # "The hypervisor extension is enabled by setting bit 7 in
    csrr a0, misa                 # misa" (H); it needs S and U too
    andi a1, a0, 1 << 7
    beqz a1, fail
    li a1, 1 << 18                # S
    and a1, a0, a1
    beqz a1, fail
    li a1, 1 << 20                # U
    and a1, a0, a1
    beqz a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 2                      # mstatus gains MPV (bit 39) and GVA (bit 38), both writable
    li t0, MPV | GVA_M            # (fields, not read-only)
    csrs mstatus, t0
    csrr a0, mstatus
    and a0, a0, t0
    bne a0, t0, fail
    csrr a0, sstatus              # they are not part of the sstatus view
    and a0, a0, t0
    bnez a0, fail
    csrc mstatus, t0
    csrr a0, mstatus
    and a0, a0, t0
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 3                      # mideleg bits 10, 6, 2 (the VS-level interrupts) are
    csrw mideleg, zero            # read-only one: VS-level interrupts always go past M
    csrr a0, mideleg
    andi a0, a0, 0x444
    li a1, 0x444
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

# ---- hstatus ----------------------------------------------------------------------------------
    li gp, 4                      # hstatus.VSXL (bits 33:32) is WARL, encoded as misa.MXL;
    csrr a0, hstatus              # with VSXLEN = HSXLEN = 64 it reads 2
    srli a0, a0, 32
    andi a0, a0, 3
    li a1, 2
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 5                      # the read/write fields GVA, SPV, SPVP, HU, VTVM, VTW, VTSR
    li t0, H_GVA | H_SPV | H_SPVP | H_HU | H_VTVM | H_VTW | H_VTSR
    csrs hstatus, t0
    csrr a0, hstatus
    and a0, a0, t0
    bne a0, t0, fail
    csrc hstatus, t0
    csrr a0, hstatus
    and a0, a0, t0
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 6                      # writing zero to hstatus leaves VSXL = 2 (no other XLEN):
    csrw hstatus, zero            # a WARL field keeps a legal value
    csrr a0, hstatus
    srli a0, a0, 32
    andi a0, a0, 3
    li a1, 2
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

# ---- hedeleg / hideleg ------------------------------------------------------------------------
    li gp, 7                      # hedeleg: bits 1-8, 12, 13, 15 must be writable ...
    li t0, -1
    csrw hedeleg, t0
    csrr a0, hedeleg
    li a1, 0xb1fe
    and a2, a0, a1
    bne a2, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 8                      # ... bits 9, 10, 11 (ecalls from HS, VS, M), 16 (double
    li a1, 0xf10e00               # trap), 20, 21, 23 (guest-page faults) and 22 (virtual
    and a2, a0, a1                # instruction) are read-only zero: those traps never go
    bnez a2, fail                 # to VS-mode
    csrw hedeleg, zero
    csrr a0, hedeleg
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 9                      # hideleg: among bits 15:0, 10, 6, 2 are writable and
    li t0, -1                     # 12, 9, 5, 1 read-only zero (S-level interrupts are not
    csrw hideleg, t0              # delegated to VS)
    csrr a0, hideleg
    andi a1, a0, 0x444
    li a2, 0x444
    bne a1, a2, fail
    li a2, 0x1222
    and a1, a0, a2
    bnez a1, fail
    csrw hideleg, zero
    csrr a0, hideleg
    andi a0, a0, 0x444
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

# ---- hvip, hip, hie, mip, mie -----------------------------------------------------------------
    li gp, 10                     # hvip: VSEIP, VSTIP, VSSIP (10, 6, 2) are writable; the
    li t0, -1                     # bits that are not writable are read-only zero
    csrw hvip, t0
    csrr a0, hvip
    li a1, 0x1fff
    and a0, a0, a1
    li a1, 0x444
    bne a0, a1, fail
    csrw hvip, zero
    csrr a0, hvip
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 11                     # hip.VSSIP is a writable alias of hvip.VSSIP: set through
    csrsi hip, 4                  # hip, it shows in hvip ...
    csrr a0, hvip
    andi a0, a0, 4
    beqz a0, fail
    csrr a0, hip
    andi a0, a0, 4
    beqz a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 12                     # ... and cleared through hvip, it is gone from hip
    csrci hvip, 4
    csrr a0, hip
    andi a0, a0, 4
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 13                     # hip.VSTIP and hip.VSEIP are read-only (they follow hvip,
    li t0, 0x440                  # and Sstc / guest external interrupts): writing them
    csrs hip, t0                  # through hip changes nothing
    csrr a0, hip
    and a0, a0, t0
    bnez a0, fail
    csrr a0, hvip
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 14                     # hip.VSTIP / VSEIP are the OR of sources that include
    csrw hvip, t0                 # hvip.VSTIP / VSEIP (with GEILEN = 0, STCE = 0, no others)
    csrr a0, hip
    andi a0, a0, 0x444
    li a1, 0x440
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 15                     # mip bits VSEIP, VSTIP, VSSIP alias the same bits of hip
    csrsi hvip, 4
    csrr a0, mip
    andi a0, a0, 0x444
    li a1, 0x444
    bne a0, a1, fail
    csrci mip, 4                  # (mip.VSSIP is writable like hip.VSSIP)
    csrr a0, hvip
    andi a0, a0, 4
    bnez a0, fail
    csrw hvip, zero
    bnez s9, fail                 # (and no trap on the way)

    li gp, 16                     # hie: VSEIE, VSTIE, VSSIE are writable ("a bit of hie shall
    li t0, -1                     # be writable if the interrupt can become pending in hip");
    csrw hie, t0                  # S-level bits 9, 5, 1 are read-only zero in hie (they are
    csrr a0, hie                  # writable in sie: the two are mutually exclusive)
    andi a1, a0, 0x444
    li a2, 0x444
    bne a1, a2, fail
    andi a1, a0, 0x222
    bnez a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 17                     # mie aliases hie's bits; sie does not show them
    csrr a0, mie
    andi a0, a0, 0x444
    li a1, 0x444
    bne a0, a1, fail
    csrr a0, sie
    andi a0, a0, 0x444
    bnez a0, fail
    csrw hie, zero
    csrr a0, mie
    andi a0, a0, 0x444
    bnez a0, fail
    csrsi mie, 4                  # written through mie, read through hie
    csrr a0, hie
    andi a0, a0, 4
    beqz a0, fail
    csrw hie, zero
    bnez s9, fail                 # (and no trap on the way)

    li gp, 18                     # hgeip is read-only (CSR number 0xE12): writing it is an
1:  csrw hgeip, zero              # illegal instruction
    li a0, LVL_M
    li a1, 2
    la a2, 1b
    jal expect
    jal tval_is_insn

    li gp, 19                     # GEILEN = 0: hgeie and hgeip are read-only zero (bit 0 is
    li t0, -1                     # read-only zero in both whatever GEILEN is); hip.SGEIP is
    csrw hgeie, t0                # the OR of hgeip & hgeie: zero
    csrr a0, hgeie
    bnez a0, fail
    csrr a0, hgeip
    bnez a0, fail
    csrr a0, hip
    li a1, 1 << 12
    and a0, a0, a1
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

# ---- hcounteren, htval, htinst, mtval2, mtinst, henvcfg, htimedelta ---------------------------
    li gp, 20                     # hcounteren is a 32-bit register (WARL bits): zero reads
    csrw hcounteren, zero         # back, and bits 63:32 never hold anything: a CSR
    csrr a0, hcounteren           # instruction "reads the old value of the CSR, zero-extends
    bnez a0, fail                 # the value to XLEN bits" (Zicsr)
    li t0, -1
    csrw hcounteren, t0
    csrr a0, hcounteren
    srli a0, a0, 32
    # QEMU 7.2 keeps hcounteren as a 64-bit value: bits 63:32 read back as written
    bnez a0, fail                 # qemu-7.2-bug:
    bnez s9, fail                 # (and no trap on the way)

    li gp, 21                     # htval, htinst, mtval2, mtinst exist and can hold zero
    li t0, -1                     # (htval/mtval2: "must be able to hold zero"; htinst/mtinst
    csrw htval, t0                # hold at least the values traps write, zero among them)
    csrw htval, zero
    csrr a0, htval
    bnez a0, fail
    csrw htinst, zero
    csrr a0, htinst
    bnez a0, fail
    csrw mtval2, t0
    csrw mtval2, zero
    csrr a0, mtval2
    bnez a0, fail
    csrw mtinst, zero
    csrr a0, mtinst
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 22                     # henvcfg exists (a 64-bit read/write register)
    csrw henvcfg, zero
    csrr a0, henvcfg
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 23                     # htimedelta is a 64-bit read/write register
    li t0, 0x123456789abcdef0
    csrw htimedelta, t0
    csrr a0, htimedelta
    bne a0, t0, fail
    csrw htimedelta, zero
    bnez s9, fail                 # (and no trap on the way)

# ---- hgatp --------------------------------------------------------------------------------------
    li gp, 24                     # MODE = Bare with the other fields zero
    csrw hgatp, zero
    csrr a0, hgatp
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 25                     # MODE = Sv39x4 (8) is kept ...
    li t0, HGATP_SV39X4 | VMID_ALL | 0x80007
    csrw hgatp, t0
    csrr a0, hgatp
    srli a1, a0, 60
    li a2, 8
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 26                     # ... the root table is 16 KiB aligned: "the lowest two bits
    li a1, (1 << 44) - 1          # of the physical page number (PPN) in hgatp always read as
    and a1, a0, a1                # zeros" in the paged modes (PPN written 0x80007)
    li a2, 0x80004
    # QEMU 7.2 stores hgatp as written (no WARL legalisation): PPN reads 0x80007
    bne a1, a2, fail              # qemu-7.2-bug:
    bnez s9, fail                 # (and no trap on the way)

    li gp, 27                     # VMID (bits 57:44): "if VMIDLEN > 0, VMID[VMIDLEN-1:0] is
    srli a1, a0, 44               # writable"; VMIDLEN = 14 (= VMIDMAX) on vkernel, so all of
    li a2, 0x3fff                 # the ones written read back
    and a1, a1, a2
    bne a1, a2, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 28                     # "A write to hgatp with an unsupported MODE value is not
    li t0, (1 << 60) | 0x80004    # ignored as it is for satp. Instead, the fields of hgatp are
    csrw hgatp, t0                # WARL in the normal way": MODE 1 is reserved, so what is read
    csrr a0, hgatp                # back is a legal MODE (Bare, Sv39x4, Sv48x4 or Sv57x4)
    srli a0, a0, 60
    beqz a0, 1f
    li a1, 8
    # QEMU 7.2 stores hgatp as written: MODE reads 1
    bltu a0, a1, fail             # qemu-7.2-bug:
    li a1, 10
    bgtu a0, a1, fail
1:  csrw hgatp, zero
    bnez s9, fail                 # (and no trap on the way)

# ---- VS CSRs, as themselves from M-mode --------------------------------------------------------
    li gp, 29                     # vsstatus: SIE, SPIE, SPP, SUM, MXR read back
    li t0, SIE | SPIE | SPP | SUM | MXR
    csrw vsstatus, t0
    csrr a0, vsstatus
    and a1, a0, t0
    bne a1, t0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 30                     # vsstatus.UXL (bits 33:32) reads 2: VU-mode is 64-bit
    srli a0, a0, 32               # (UXL is WARL, at most VSXLEN = 64, and RV64 only here)
    andi a0, a0, 3
    li a1, 2
    bne a0, a1, fail
    csrw vsstatus, zero
    csrr a0, vsstatus
    and a0, a0, t0
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 31                     # vsscratch, vsepc, vscause, vstval, vstvec hold values
    li t0, 0x0123456789abcdef     # (vsepc / vstval / vscause hold what sepc / stval / scause
    csrw vsscratch, t0            # can)
    csrr a0, vsscratch
    bne a0, t0, fail
    li t0, 0x80001238
    csrw vsepc, t0
    csrr a0, vsepc
    bne a0, t0, fail
    li t0, 13
    csrw vscause, t0
    csrr a0, vscause
    bne a0, t0, fail
    li t0, 0x4000abcd
    csrw vstval, t0
    csrr a0, vstval
    bne a0, t0, fail
    la t0, vs_trap                # (64-byte aligned, MODE 0 = Direct)
    csrw vstvec, t0
    csrr a0, vstvec
    bne a0, t0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 32                     # vsatp: MODE Sv39 with a PPN reads back; Bare too
    la t0, zero_page
    srli t0, t0, 12
    li t1, SATP_SV39
    or t0, t0, t1
    csrw vsatp, t0
    csrr a0, vsatp
    bne a0, t0, fail
    csrw vsatp, zero
    csrr a0, vsatp
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 33                     # vsie with hideleg = 0: "When bit 2 (6, 10) of hideleg is
    csrw hideleg, zero            # zero, vsie.SSIE (STIE, SEIE) is read-only zero": writing
    li t0, -1                     # it changes neither vsie nor hie
    csrw vsie, t0
    csrr a0, vsie
    andi a0, a0, 0x222
    bnez a0, fail
    csrr a0, hie
    andi a0, a0, 0x444
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 34                     # with hideleg = 0x444, vsie.SEIE/STIE/SSIE (9, 5, 1) are
    li t0, 0x444                  # aliases of hie.VSEIE/VSTIE/VSSIE (10, 6, 2)
    csrw hideleg, t0
    li t0, 0x222
    csrw vsie, t0
    csrr a0, hie
    andi a0, a0, 0x444
    li a1, 0x444
    bne a0, a1, fail
    csrr a0, vsie
    li a1, 0x1fff
    and a0, a0, a1
    bne a0, t0, fail
    csrw hie, zero
    csrr a0, vsie
    andi a0, a0, 0x222
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 35                     # vsip likewise shows hip.VSEIP/VSTIP/VSSIP as SEIP/STIP/SSIP
    li t0, 0x444
    csrw hvip, t0
    csrr a0, vsip
    li a1, 0x1fff
    and a0, a0, a1
    li a1, 0x222
    # QEMU 7.2's vsip shows only SSIP: it reads 0x002 (hip reads 0x444)
    bne a0, a1, fail              # qemu-7.2-bug:
    bnez s9, fail                 # (and no trap on the way)

    li gp, 36                     # vsip.SSIP is writable (alias of hip.VSSIP, itself an alias
    csrci vsip, 2                 # of hvip.VSSIP); vsip.STIP / SEIP are read-only like hip's
    csrr a0, hvip
    li a1, 0x440
    bne a0, a1, fail
    li t0, 0x220
    csrc vsip, t0
    csrr a0, hvip
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 37                     # only the bits delegated by hideleg show: hideleg = 4
    csrsi hvip, 4
    csrwi hideleg, 4
    csrr a0, vsip
    andi a0, a0, 0x222
    li a1, 2
    bne a0, a1, fail
    csrw hvip, zero
    csrw hideleg, zero
    bnez s9, fail                 # (and no trap on the way)

# ---- V=1: supervisor CSR accesses reach the VS CSRs -----------------------------------------
    # The HS-level and the VS-level copies get different values; VS-mode must see the VS ones.
    li t0, 0x1111
    csrw sscratch, t0
    li t0, 0x2222
    csrw vsscratch, t0
    la t0, hs_trap
    csrw stvec, t0
    la t0, vs_trap
    csrw vstvec, t0
    li t0, 0x80000100
    csrw sepc, t0
    li t0, 0x80000200
    csrw vsepc, t0
    li t0, 5
    csrw scause, t0
    li t0, 7
    csrw vscause, t0
    li t0, 0x3333
    csrw stval, t0
    li t0, 0x4444
    csrw vstval, t0
    li t0, SUM | MXR | SPP | SIE  # HS sstatus: SUM, MXR, SPP, SIE all set
    csrs mstatus, t0
    li t0, SPIE                   # vsstatus: SPIE only
    csrw vsstatus, t0
    la t0, zero_page              # HS satp: Sv39 (never used: no HS code runs meanwhile)
    srli t0, t0, 12
    li t1, SATP_SV39
    or t0, t0, t1
    csrw satp, t0
    csrw vsatp, zero              # VS-stage Bare, G-stage Bare: guest addresses = physical
    csrw hgatp, zero
    li t0, 0x444
    csrw hideleg, t0
    csrw hvip, t0                 # all three VS interrupts pending, none enabled
    csrw hie, zero
    li t0, 7                      # CY, TM, IR for VS-mode
    csrw mcounteren, t0
    csrw hcounteren, t0
    li t0, DELTA
    csrw htimedelta, t0
    csrr a4, time                 # (a4: time before, in M)

    jal to_vs                     # ---- VS-mode ---------------------------------------------

    li gp, 38                     # sscratch reads vsscratch
    csrr a0, sscratch
    li a1, 0x2222
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 39                     # sstatus reads vsstatus (SPIE only of these bits)
    csrr a0, sstatus
    li a1, SIE | SPIE | SPP | SUM | MXR
    and a0, a0, a1
    li a1, SPIE
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 40                     # sepc, scause, stval, stvec read vsepc, vscause, vstval, vstvec
    csrr a0, sepc
    li a1, 0x80000200
    bne a0, a1, fail
    csrr a0, scause
    li a1, 7
    bne a0, a1, fail
    csrr a0, stval
    li a1, 0x4444
    bne a0, a1, fail
    csrr a0, stvec
    la a1, vs_trap
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 41                     # satp reads vsatp (Bare), not the HS-level satp
    csrr a0, satp
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 42                     # sip / sie read vsip / vsie: the pending VS interrupts as
    csrr a0, sip                  # SEIP/STIP/SSIP, none enabled
    li a1, 0x1fff
    and a0, a0, a1
    li a1, 0x222
    # QEMU 7.2 reads 0: it masks what VS-mode reads from sip with mideleg's S-level bits (0
    # here; the spec makes vsip depend on hideleg only), and its vsip lacks STIP / SEIP anyway
    bne a0, a1, fail              # qemu-7.2-bug:
    csrr a0, sie
    andi a0, a0, 0x222
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 43                     # time reads time + htimedelta (checked back in M)
    csrr a5, time
    li t0, DELTA
    sub a5, a5, t0                # (the time it was, to compare in M with a4 and later)
    bnez s9, fail                 # (and no trap on the way)

    li gp, 44                     # writes reach the VS CSRs (checked back in M-mode)
    li t0, 0x5555
    csrw sscratch, t0
    li t0, 0x80000300
    csrw sepc, t0
    li t0, 3
    csrw scause, t0
    li t0, 0x6666
    csrw stval, t0
    la t0, zero_page              # (no trap is taken in VS-mode until vstvec is restored)
    csrw stvec, t0
    li t0, SUM
    csrs sstatus, t0
    li t0, 0x200                  # sie.SEIE -> hie.VSEIE (VSEIP is pending, but with
    csrs sie, t0                  # vsstatus.SIE = 0 the interrupt is not taken in VS-mode)
    csrci sip, 2                  # sip.SSIP -> hvip.VSSIP
    bnez s9, fail                 # (and no trap on the way)

    li gp, 45                     # "when V=1, a write to satp with an unsupported MODE value
    li t0, 13 << 60               # is ignored and no write to vsatp is effected"
    csrw satp, t0
    csrr a0, satp
    bnez a0, fail

    li a7, MAGIC                  # ---- back to M ----------------------------------------------
    ecall
    la t0, vs_trap
    csrw vstvec, t0
    bnez s9, fail                 # (and no trap on the way)

    li gp, 46                     # the write to sie.SEIE in VS-mode set hie.VSEIE, nothing else
    csrr a0, hie
    li a1, 0x400
    bne a0, a1, fail
    csrw hie, zero
    bnez s9, fail                 # (and no trap on the way)

    li gp, 47                     # the VS CSRs changed; their HS-level twins did not
    csrr a0, vsscratch
    li a1, 0x5555
    bne a0, a1, fail
    csrr a0, sscratch
    li a1, 0x1111
    bne a0, a1, fail
    csrr a0, vsepc
    li a1, 0x80000300
    bne a0, a1, fail
    csrr a0, sepc
    li a1, 0x80000100
    bne a0, a1, fail
    csrr a0, vscause
    li a1, 3
    bne a0, a1, fail
    csrr a0, scause
    li a1, 5
    bne a0, a1, fail
    csrr a0, vstval
    li a1, 0x6666
    bne a0, a1, fail
    csrr a0, stval
    li a1, 0x3333
    bne a0, a1, fail
    csrr a0, stvec
    la a1, hs_trap
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 48                     # vsstatus got SUM; the HS sstatus kept SUM, MXR, SPP, SIE
    csrr a0, vsstatus
    li a1, SUM | SPIE
    li a2, SIE | SPIE | SPP | SUM | MXR
    and a0, a0, a2
    bne a0, a1, fail
    csrr a0, sstatus
    and a0, a0, a2
    li a1, SUM | MXR | SPP | SIE
    bne a0, a1, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 49                     # vsatp is still Bare; satp kept its value
    csrr a0, vsatp
    bnez a0, fail
    csrr a0, satp
    srli a0, a0, 60
    li a1, 8
    bne a0, a1, fail
    csrw satp, zero
    bnez s9, fail                 # (and no trap on the way)

    li gp, 50                     # the write to sip.SSIP cleared hvip.VSSIP only
    csrr a0, hvip
    li a1, 0x440
    bne a0, a1, fail
    csrw hvip, zero
    bnez s9, fail                 # (and no trap on the way)

    li gp, 51                     # VS-mode read time + htimedelta: time then (a5) lies
    csrr a0, time                 # between a4 (read before) and now
    bltu a5, a4, fail
    bltu a0, a5, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 52                     # a "negative" delta: the sum wraps around (overflow is
    li t0, -DELTA                 # ignored)
    csrw htimedelta, t0
    csrr a4, time
    jal to_vs
    csrr a5, time
    li a7, MAGIC
    ecall
    csrr a0, time
    li t0, -DELTA
    sub a5, a5, t0
    bltu a5, a4, fail
    bltu a0, a5, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 53                     # VU-mode reads time + htimedelta as well (scounteren.TM = 1
    li t0, DELTA                  # too, for U-level access)
    csrw htimedelta, t0
    li t0, 7
    csrw scounteren, t0
    csrr a4, time
    jal to_vu
    csrr a5, time
    li a7, MAGIC
    ecall
    csrr a0, time
    li t0, DELTA
    sub a5, a5, t0
    bltu a5, a4, fail
    bltu a0, a5, fail
    csrw htimedelta, zero
    csrw scounteren, zero
    csrw hideleg, zero
    bnez s9, fail                 # (and no trap on the way)

# ---- entering and leaving V=1: MRET (MPV) and SRET (SPV) ------------------------------------
    li gp, 54                     # mret with MPV=1, MPP=S enters VS: an ecall there has cause
    jal to_vs                     # 10 (from VS-mode), and the trap sets MPV=1, MPP=S
1:  ecall
    li a0, LVL_M
    li a1, 10
    la a2, 1b
    jal expect
    li t0, MPV | MPP_MASK
    and a0, s5, t0
    li a1, MPV | MPP_S
    bne a0, a1, fail
    li a7, MAGIC
    ecall

    li gp, 55                     # mret with MPV=1, MPP=U enters VU: cause 8, MPV=1, MPP=U
    jal to_vu
1:  ecall
    li a0, LVL_M
    li a1, 8
    la a2, 1b
    jal expect
    li t0, MPV | MPP_MASK
    and a0, s5, t0
    li a1, MPV
    bne a0, a1, fail
    li a7, MAGIC
    ecall

    li gp, 56                     # mret sets MPV=0: after it, mstatus.MPV reads 0
    csrr a0, mstatus
    li t0, MPV
    and a0, a0, t0
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 57                     # "MPV is ignored when MPP=3": mret with MPV=1, MPP=M stays in
    li t0, 0x1111                 # M-mode with V=0 (sscratch is still the HS-level one, not
    csrw sscratch, t0             # vsscratch) and clears MPV
    li t0, 0x2222
    csrw vsscratch, t0
    # QEMU 7.2 does not ignore MPV when MPP=M: its mret sets V=1 in M-mode, swapping in the VS
    # CSRs (sscratch then reads 0x2222, and later traps leave the VS values in the HS CSRs)
    li t0, MPV | MPP_MASK         # qemu-7.2-bug: li t0, MPP_MASK
    csrs mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:  csrr a0, mstatus
    li t0, MPV
    and a0, a0, t0
    bnez a0, fail
    csrr a0, sscratch
    li a1, 0x1111
    bne a0, a1, fail
1:  ecall                         # an ecall from M: cause 11
    li a0, LVL_M
    li a1, 11
    la a2, 1b
    jal expect

    li gp, 58                     # sret in HS-mode with hstatus.SPV=1, SPP=1 enters VS-mode:
    li t0, 0x7777                 # sscratch now reads vsscratch, an ecall has cause 10
    csrw vsscratch, t0
    jal to_hs
    li t0, H_SPV
    csrs hstatus, t0
    li t0, SPP
    csrs sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  csrr a0, sscratch
    li a1, 0x7777
    bne a0, a1, fail
2:  ecall
    li a0, LVL_M
    li a1, 10
    la a2, 2b
    jal expect
    li t0, MPV
    and a0, s5, t0
    beqz a0, fail

    li gp, 59                     # SRET set hstatus.SPV=0 and sstatus.SPP=0 (s7 = hstatus at
    andi a0, s7, H_SPV            # the ecall)
    bnez a0, fail
    li a7, MAGIC
    ecall
    csrr a0, sstatus
    andi a0, a0, SPP
    bnez a0, fail
    bnez s9, fail                 # (and no trap on the way)

    li gp, 60                     # SPV=1 with SPP=0: sret enters VU-mode (cause 8, MPV=1)
    jal to_hs
    li t0, H_SPV
    csrs hstatus, t0
    li t0, SPP
    csrc sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  ecall
    li a0, LVL_M
    li a1, 8
    la a2, 1b
    jal expect
    li t0, MPV | MPP_MASK
    and a0, s5, t0
    li a1, MPV
    bne a0, a1, fail
    li a7, MAGIC
    ecall

    li gp, 61                     # SPV=0: sret from HS stays at V=0 (SPP=1: HS, cause 9)
    jal to_hs
    li t0, H_SPV
    csrc hstatus, t0
    li t0, SPP
    csrs sstatus, t0
    la t0, 1f
    csrw sepc, t0
    sret
    j fail
1:  ecall
    li a0, LVL_M
    li a1, 9
    la a2, 1b
    jal expect
    li t0, MPV
    and a0, s5, t0
    bnez a0, fail
    li a7, MAGIC
    ecall

    j pass

    .data
    .align 12
zero_page:
    .zero 4096
    .text
