"""The hart: numba kernels over flat typed arrays (RV64IMAC, Zicsr, Zifencei, Sstc; M/S/U; Sv39).

Everything the compiled code touches lives in this one module, constants included: numba's
on-disk cache is keyed by the source file of the function it compiles, so a constant or a
helper in another module could change without invalidating the cache.

State is a handful of arrays (see ``vkernel.core.state``):

* ``s``   int64[S_SIZE]  scalar state: pc, privilege mode, retired count, exit record, ...
* ``x``   int64[32]      integer registers (x0 is kept at zero)
* ``csr`` int64[4096]    CSR storage indexed by CSR number; ``csr_read``/``csr_write``
                         apply the WARL rules and the views (sstatus, sie, sip, time, ...)
* ``ram`` uint8[n]       physical memory at RAM_BASE
* ``tlb`` int64[3, 3, TLB_SIZE]  fetch/load/store TLBs: key, physical page, PTE flags
* trace buffers, one per event family, drained by Python when they fill.

Numbers are int64 throughout: numba turns a uint64/int64 mix into float64, so unsigned
operations cast both operands explicitly (``_u``) and shifts are masked with ``& 63``.

>>> import numpy as np
>>> sext32(0xFFFF_FFFF), mulhu(-1, -1) == -2
(-1, True)
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ---------------------------------------------------------------------------------------
# Layout of the scalar state array ``s``
# ---------------------------------------------------------------------------------------
S_PC = 0
S_MODE = 1  # privilege: 0 U, 1 S, 3 M
S_V = 2  # the H extension's virtualization mode V: 1 in VS and VU (S_MODE is then S or U)
S_INSTRET = 3  # retired instructions since reset: the "step" every event is tagged with
S_TIME_OFF = 4  # mtime = (instret + S_TIME_OFF) // S_TIME_DIV
S_TIME_DIV = 5  # retired instructions per timer tick
S_MTIMECMP = 6
S_MSIP = 7
S_CYCLE_OFF = 8  # mcycle = instret + S_CYCLE_OFF (a write sets the offset)
S_INSTRET_OFF = 9
S_RES_ADDR = 10  # LR reservation (physical address), -1 when none
S_EXIT = 11  # why run() returned (EXIT_*)
S_EXIT_A = 12  # exit details (meaning depends on the reason; MMIO: B is the virtual address)
S_EXIT_B = 13
S_EXIT_C = 14
S_MMIO_ADDR = 15  # an MMIO access Python must perform: physical address,
S_MMIO_SIZE = 16  # size in bytes,
S_MMIO_WRITE = 17  # 1 for a store,
S_MMIO_DATA = 18  # value stored, or (after Python answers) value loaded
S_MMIO_DONE = 19  # 1 once Python answered: the retried instruction consumes the answer
S_TOHOST = 20  # physical address of HTIF tohost, -1 when absent
S_EXT_M = 21  # PLIC interrupt lines into the hart (set by the Python PLIC)
S_EXT_S = 22
S_TRACE = 23  # bit set of recorded families (TRACE_*)
S_N_STEP = 24  # rows used in each trace buffer
S_N_WRITE = 25
S_N_TRAP = 26
S_N_WALK = 27
S_N_IO = 28
S_BP_SKIP = 29  # breakpoint address to step over once when resuming, -1 when none
S_HOST_EXC = 30  # bit set of exception causes that exit to the host instead of M-mode
S_HOST_INT = 31  # bit set of interrupt causes that exit to the host instead of M-mode
S_TRAP_CAUSE = 32  # scratch: the exception raised by a helper
S_TRAP_TVAL = 33
S_TLB_LOOKUPS = 34  # translated accesses: every fetch, load and store while translating
S_TLB_MISSES = 35  # of which needed a page walk
S_WALKS = 36  # page-table memory references
S_TRAPS = 37  # traps taken (exceptions and interrupts)
S_ENV_FLAGS = 38  # configuration bits (ENV_*)
S_CLINT_STORE = 39  # scratch: set when a store reached the CLINT
S_SAMPLE_EVERY = 40  # steps between two rows of the sample family (when it is recorded)
S_NEXT_SAMPLE = 41  # the step the next sample row is due at
S_N_SAMPLE = 42  # rows used in the sample buffer
S_HOST_S_EXC = 43  # bit set of exception causes that exit to the host instead of (H)S-mode
S_HOST_S_INT = 44  # bit set of interrupt causes that exit to the host instead of (H)S-mode
S_TRAP_GPA = 45  # scratch: the guest physical address of a guest-page fault (for htval)
S_HLV = 46  # scratch: 1 while an HLV/HLVX/HSV accesses memory (its faults set GVA)
S_TRAP_TINST = 47  # scratch: htinst/mtinst of a guest-page fault (a pseudoinstruction when
#                    an implicit VS-stage page-table access faulted, else 0)
S_WC_HITS = 48  # page-walk cache lookups that supplied an entry (ENV_WALK_CACHE)
S_WC_MISSES = 49  # page-walk cache lookups that found nothing: the entry was read
S_SIZE = 50

# exit reasons
EXIT_NONE = 0
EXIT_BUDGET = 1
EXIT_BREAKPOINT = 2
EXIT_MMIO = 3  # an access to a device implemented in Python
EXIT_HTIF = 4  # a store to tohost
EXIT_WFI = 5  # wfi with nothing that could ever wake the hart from inside the core
EXIT_BUFFER = 6  # a trace buffer is (nearly) full: drain and resume
EXIT_HOST_TRAP = 7  # a trap that targets a host-owned level (A cause, B tval, C from-mode
#                    with 4 added when V was 1; S_TRAP_GPA the guest physical address of a
#                    guest-page fault, S_EXIT_C's bit 3 set when the trap targets (H)S)

# recorded families
TRACE_STEP = 1
TRACE_WRITE = 2
TRACE_TRAP = 4
TRACE_WALK = 8
TRACE_IO = 16
TRACE_SAMPLE = 32
TRACE_HV = 64  # the hypervisor layer's rows: recorded in Python (the core never looks)

# write-family kinds
WRITE_XREG = 0
WRITE_MEM = 1
WRITE_CSR = 2
WRITE_PTE = 3  # a hardware A/D update of a page-table entry

# walk-family results
WALK_NEXT = 0  # a pointer to the next level
WALK_LEAF = 1  # a leaf that grants the access
WALK_INVALID = 2  # V=0, W without R, reserved bits, or no leaf at level 0: page fault
WALK_DENIED = 3  # a leaf whose permissions deny the access: page fault
WALK_MISALIGNED = 4  # a superpage leaf with non-zero low PPN bits: page fault
WALK_AD_FAULT = 5  # A or D clear and hardware updating is off (menvcfg.ADUE=0)
WALK_ACCESS = 6  # the PTE address is not in RAM: access fault
WALK_CACHED = 7  # the page-walk cache supplied the entry: no memory reference

# io-family device numbers for devices that live in the core
DEV_CLINT = 1

# buffer shapes
WRITE_COLS = 6  # step, kind, target (register, CSR or virtual address), value, size, paddr
TRAP_COLS = 7  # step, cause (mcause encoding), tval, from-mode, to-mode, epc, handler pc
WALK_COLS = 8  # step, vaddr, level, pte address, pte, result, stage, access
IO_COLS = 6  # step, device, offset, write?, value, size
SAMPLE_COLS = 5  # step, traps, TLB lookups, TLB misses, PTE reads (totals since reset)
MARGIN = 64  # rows kept free in the variable-rate buffers so one instruction always fits

ENV_NO_HW_AD = 1  # menvcfg.ADUE resets to 0 (page faults instead of A/D updates)
# A TEACHING DEVIATION FROM RISC-V, off unless asked for: make sstatus behave in U-mode the
# way x86's PUSHF/POPF behave in ring 3 (Popek & Goldberg's counter-example). A read
# returns the real value instead of trapping, and a write is silently ignored.
ENV_SENSITIVE_UNPRIVILEGED = 2
ENV_WALK_CACHE = 4  # page-walk caches on (Machine(walk_cache=True)); see WC_* below

# access kinds (index into the TLB)
ACC_FETCH = 0
ACC_LOAD = 1
ACC_STORE = 2

TLB_SIZE = 256
NO_PAGE = 1 << 62  # no virtual page number is this large: 'no cached fetch page'
TLB_KEY = 0
TLB_PAGE = 1
TLB_FLAGS = 2
# The ``tlb`` array is int64[TLB_PLANES, TLB_COLS, TLB_SIZE]: planes 0-2 are the fetch, load
# and store TLBs (columns TLB_*), plane WC the page-walk caches (columns WC_*), so that every
# kernel that flushes or snapshots the TLB reaches them too.
TLB_PLANES = 4
TLB_COLS = 4

# Page-walk caches (Intel's paging-structure caches; AMD's page walk cache and nested TLB,
# Bhargava et al., ASPLOS 2008). Consulted only on a TLB miss, and only with
# ENV_WALK_CACHE. They hold non-leaf entries (leaves stay in the TLB), each standing for one
# PTE: a hit means that PTE is not read from memory and the walk goes on from the next
# table it points to. Direct-mapped, split by level as Intel's are, so the entries of one
# walk never evict each other. A hit also checks that the entry was read from the table
# the walk is in (its PTE address), so a new root with an old ASID or VMID never hits.
WC = 3  # the tlb plane that holds them
WC_KEY = 0  # tag + 1 (0: empty)
WC_PTE = 1  # the entry's value
WC_PTE_ADDR = 2  # where it was read (a machine address): what its `cached` walk row shows
WC_TABLE = 3  # VS-stage: the entry's guest physical address (V=1; else = WC_PTE_ADDR);
#               nested TLB: the G-stage root's address | the leaf's level
# VS-stage or single-stage non-leaf entries, keyed by level, the VA bits above the level and
# the address space (ASID, V, VMID as the TLB's; of its permission bits only mstatus.MXR).
# Level 2 entries map 1 GiB each, level 1 entries 2 MiB each: a few suffice for the former.
WC_VS2_BASE = 0
WC_VS2_SIZE = 8
WC_VS1_BASE = 8
WC_VS1_SIZE = 32
# G-stage non-leaf entries, keyed by level, VMID and the guest physical address bits above.
WC_G2_BASE = 40
WC_G2_SIZE = 8
WC_G1_BASE = 48
WC_G1_SIZE = 32
# The nested TLB: G-stage translations (the leaf) of the guest physical pages holding the
# guest's page tables, keyed by VMID and guest page number. A hit skips a whole G-stage walk
# of a VS-stage PTE's address.
WC_NTLB_BASE = 80
WC_NTLB_SIZE = 32
WC_SLOTS = 112  # the slots used, from 0

# physical memory map (QEMU virt)
RAM_BASE = 0x8000_0000
CLINT_BASE = 0x0200_0000
CLINT_SIZE = 0x1_0000

# privilege modes
PRV_U = 0
PRV_S = 1
PRV_M = 3

# ---------------------------------------------------------------------------------------
# CSR numbers and bits
# ---------------------------------------------------------------------------------------
CSR_SSTATUS = 0x100
CSR_SIE = 0x104
CSR_STVEC = 0x105
CSR_SCOUNTEREN = 0x106
CSR_SENVCFG = 0x10A
CSR_SSCRATCH = 0x140
CSR_SEPC = 0x141
CSR_SCAUSE = 0x142
CSR_STVAL = 0x143
CSR_SIP = 0x144
CSR_STIMECMP = 0x14D
CSR_SATP = 0x180
CSR_MSTATUS = 0x300
CSR_MISA = 0x301
CSR_MEDELEG = 0x302
CSR_MIDELEG = 0x303
CSR_MIE = 0x304
CSR_MTVEC = 0x305
CSR_MCOUNTEREN = 0x306
CSR_MENVCFG = 0x30A
CSR_MCOUNTINHIBIT = 0x320
CSR_MSCRATCH = 0x340
CSR_MEPC = 0x341
CSR_MCAUSE = 0x342
CSR_MTVAL = 0x343
CSR_MIP = 0x344
CSR_PMPCFG0 = 0x3A0
CSR_PMPADDR0 = 0x3B0
CSR_TSELECT = 0x7A0
CSR_TDATA1 = 0x7A1
CSR_TDATA2 = 0x7A2
CSR_TDATA3 = 0x7A3
CSR_TINFO = 0x7A4
CSR_MCYCLE = 0xB00
CSR_MINSTRET = 0xB02
CSR_CYCLE = 0xC00
CSR_TIME = 0xC01
CSR_INSTRET = 0xC02
CSR_MVENDORID = 0xF11
CSR_MHARTID = 0xF14
CSR_MCONFIGPTR = 0xF15
CSR_MTINST = 0x34A
CSR_MTVAL2 = 0x34B
# the H extension: hypervisor CSRs (HS-level) ...
CSR_HSTATUS = 0x600
CSR_HEDELEG = 0x602
CSR_HIDELEG = 0x603
CSR_HIE = 0x604
CSR_HTIMEDELTA = 0x605
CSR_HCOUNTEREN = 0x606
CSR_HGEIE = 0x607
CSR_HENVCFG = 0x60A
CSR_HTVAL = 0x643
CSR_HIP = 0x644
CSR_HVIP = 0x645
CSR_HTINST = 0x64A
CSR_HGATP = 0x680
CSR_HGEIP = 0xE12
# ... and the virtual supervisor CSRs: when V=1, an access to an S CSR reaches its VS twin
CSR_VSSTATUS = 0x200
CSR_VSIE = 0x204
CSR_VSTVEC = 0x205
CSR_VSSCRATCH = 0x240
CSR_VSEPC = 0x241
CSR_VSCAUSE = 0x242
CSR_VSTVAL = 0x243
CSR_VSIP = 0x244
CSR_VSTIMECMP = 0x24D
CSR_VSATP = 0x280

MSTATUS_SIE = 1 << 1
MSTATUS_MIE = 1 << 3
MSTATUS_SPIE = 1 << 5
MSTATUS_MPIE = 1 << 7
MSTATUS_SPP = 1 << 8
MSTATUS_MPP_SHIFT = 11
MSTATUS_MPP = 3 << 11
MSTATUS_MPRV = 1 << 17
MSTATUS_SUM = 1 << 18
MSTATUS_MXR = 1 << 19
MSTATUS_TVM = 1 << 20
MSTATUS_TW = 1 << 21
MSTATUS_TSR = 1 << 22
MSTATUS_UXL_SXL = (2 << 32) | (2 << 34)  # XLEN 64 in U and S, read-only
MSTATUS_GVA = 1 << 38  # the trap wrote a guest virtual address to mtval
MSTATUS_MPV = 1 << 39  # V before the trap into M
MSTATUS_WRITABLE = (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP
                    | MSTATUS_MPP | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM
                    | MSTATUS_TW | MSTATUS_TSR | MSTATUS_GVA | MSTATUS_MPV)
SSTATUS_MASK = (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
                | (3 << 32))  # UXL is visible in sstatus
SSTATUS_WRITABLE = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR

# MXL=2 (64-bit) and the letters A C H I M S U; as int64 the MXL bits make it negative
MISA_VALUE = ((2 << 62) | (1 << 0) | (1 << 2) | (1 << 7) | (1 << 8) | (1 << 12) | (1 << 18)
              | (1 << 20)) - (1 << 64)

HSTATUS_GVA = 1 << 6  # the trap into HS wrote a guest virtual address to stval
HSTATUS_SPV = 1 << 7  # V before the trap into HS
HSTATUS_SPVP = 1 << 8  # the guest's privilege before the trap (and HLV/HSV's privilege)
HSTATUS_HU = 1 << 9  # HLV/HSV allowed in U-mode
HSTATUS_VTVM = 1 << 20  # trap the guest's satp and sfence.vma
HSTATUS_VTW = 1 << 21  # trap the guest's wfi
HSTATUS_VTSR = 1 << 22  # trap the guest's sret
HSTATUS_VSXL = 2 << 32  # the guest's XLEN: 64, read-only
HSTATUS_WRITABLE = (HSTATUS_GVA | HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_HU | HSTATUS_VTVM
                    | HSTATUS_VTW | HSTATUS_VTSR)
HGATP_MODE_SV39X4 = 8
VMID_BITS = 14  # the most Sv39x4 allows: VMID is hgatp bits 57:44
PPN_MASK = (1 << 44) - 1

IRQ_SSI = 1
IRQ_MSI = 3
IRQ_STI = 5
IRQ_MTI = 7
IRQ_SEI = 9
IRQ_MEI = 11
IRQ_VSSI = 2  # VS-level interrupts (the H extension): arrive in VS as SSI, STI, SEI
IRQ_VSTI = 6
IRQ_VSEI = 10
IRQ_SGEI = 12
MIP_SSIP = 1 << IRQ_SSI
MIP_MSIP = 1 << IRQ_MSI
MIP_STIP = 1 << IRQ_STI
MIP_MTIP = 1 << IRQ_MTI
MIP_SEIP = 1 << IRQ_SEI
MIP_MEIP = 1 << IRQ_MEI
MIP_VSSIP = 1 << IRQ_VSSI
MIP_VSTIP = 1 << IRQ_VSTI
MIP_VSEIP = 1 << IRQ_VSEI
MIP_VS = MIP_VSSIP | MIP_VSTIP | MIP_VSEIP  # GEILEN = 0: no guest external interrupts (SGEI)
MIE_WRITABLE = MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP | MIP_VS
MIDELEG_WRITABLE = MIP_SSIP | MIP_STIP | MIP_SEIP
MIDELEG_ONE = MIP_VS  # VS-level interrupts always pass M: read-only one
# every exception except ecall from M (11) and reserved codes, guest-page faults included
MEDELEG_WRITABLE = 0xB7FF | (0xF << 20)
HEDELEG_WRITABLE = 0xB1FF  # not: ecalls from HS, VS, M; guest-page faults; virtual instruction

MENVCFG_FIOM = 1
MENVCFG_ADUE = 1 << 61
MENVCFG_STCE = -(1 << 63)  # bit 63: the sign bit of an int64

COUNTER_CY = 1
COUNTER_TM = 2
COUNTER_IR = 4

SATP_MODE_SV39 = 8
N_PMP = 16  # implemented PMP entries (pmpaddr0..15, pmpcfg0 and pmpcfg2)

# exception causes
EXC_FETCH_MISALIGNED = 0
EXC_FETCH_ACCESS = 1
EXC_ILLEGAL = 2
EXC_BREAKPOINT = 3
EXC_LOAD_MISALIGNED = 4
EXC_LOAD_ACCESS = 5
EXC_STORE_MISALIGNED = 6
EXC_STORE_ACCESS = 7
EXC_ECALL_U = 8
EXC_ECALL_S = 9
EXC_ECALL_M = 11
EXC_FETCH_PAGE = 12
EXC_LOAD_PAGE = 13
EXC_STORE_PAGE = 15
EXC_ECALL_VS = 10
EXC_FETCH_GUEST_PAGE = 20
EXC_LOAD_GUEST_PAGE = 21
EXC_VIRTUAL_INSTRUCTION = 22
EXC_STORE_GUEST_PAGE = 23
# causes whose tval is a virtual address: with V=1 (or for HLV/HSV) it is a guest's (GVA)
# causes of a load's or store's trap (misaligned, access, page and guest-page faults)
DATA_CAUSES = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 13) | (1 << 15) | (1 << 21) \
    | (1 << 23)
# htinst/mtinst for a guest-page fault of an implicit VS-stage page-table access: a 64-bit
# read (or, for a hardware A/D update, write) "pseudoinstruction"
TINST_VS_READ = 0x3000
TINST_VS_WRITE = 0x3020
GVA_CAUSES = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) \
    | (1 << 12) | (1 << 13) | (1 << 15) | (1 << 20) | (1 << 21) | (1 << 23)

# PTE bits
PTE_V = 1
PTE_R = 2
PTE_W = 4
PTE_X = 8
PTE_U = 16
PTE_G = 32
PTE_A = 64
PTE_D = 128

_M32 = 0xFFFF_FFFF
_INT64_MIN = -(1 << 63)


# ---------------------------------------------------------------------------------------
# Arithmetic helpers
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def sext32(v):
    """Sign-extend the low 32 bits of ``v``."""
    return ((v & _M32) ^ 0x8000_0000) - 0x8000_0000


@njit(cache=True)
def srl(v, sh):
    """Logical shift right of an int64 (sh already in 0..63)."""
    return np.int64(np.uint64(v) >> np.uint64(sh))


@njit(cache=True)
def ltu(a, b):
    return np.uint64(a) < np.uint64(b)


@njit(cache=True)
def mulhu(a, b):
    """High 64 bits of the unsigned 128-bit product of a and b."""
    m = np.uint64(_M32)
    s32 = np.uint64(32)
    ua = np.uint64(a)
    ub = np.uint64(b)
    a0 = ua & m
    a1 = ua >> s32
    b0 = ub & m
    b1 = ub >> s32
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    p11 = a1 * b1
    mid = (p00 >> s32) + (p01 & m) + (p10 & m)
    return np.int64(p11 + (p01 >> s32) + (p10 >> s32) + (mid >> s32))


@njit(cache=True)
def mulh(a, b):
    hi = mulhu(a, b)
    if a < 0:
        hi -= b
    if b < 0:
        hi -= a
    return hi


@njit(cache=True)
def mulhsu(a, b):
    hi = mulhu(a, b)
    if a < 0:
        hi -= b
    return hi


@njit(cache=True)
def div_s(a, b):
    if b == 0:
        return -1
    if a == _INT64_MIN and b == -1:
        return a
    # magnitudes as unsigned: |INT64_MIN| does not fit an int64
    ua = np.uint64(abs(a) if a != _INT64_MIN else a)
    ub = np.uint64(abs(b) if b != _INT64_MIN else b)
    q = np.int64(ua // ub)
    return -q if (a < 0) != (b < 0) else q


@njit(cache=True)
def rem_s(a, b):
    if b == 0:
        return a
    if a == _INT64_MIN and b == -1:
        return 0
    return a - div_s(a, b) * b


@njit(cache=True)
def div_u(a, b):
    if b == 0:
        return -1
    return np.int64(np.uint64(a) // np.uint64(b))


@njit(cache=True)
def rem_u(a, b):
    if b == 0:
        return a
    return np.int64(np.uint64(a) % np.uint64(b))


# ---------------------------------------------------------------------------------------
# The compressed (C) extension: every 16-bit parcel expands to its 32-bit equivalent
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def _bits(v, hi, lo):
    return (v >> lo) & ((1 << (hi - lo + 1)) - 1)


@njit(cache=True)
def _enc_i(op, rd, f3, rs1, imm):
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


@njit(cache=True)
def _enc_r(op, rd, f3, rs1, rs2, f7):
    return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


@njit(cache=True)
def _enc_s(op, f3, rs1, rs2, imm):
    return (((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) \
        | ((imm & 0x1F) << 7) | op


@njit(cache=True)
def _enc_b(f3, rs1, rs2, imm):
    return (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3F) << 25) | (rs2 << 20) \
        | (rs1 << 15) | (f3 << 12) | (((imm >> 1) & 0xF) << 8) | (((imm >> 11) & 1) << 7) | 0x63


@njit(cache=True)
def _enc_j(rd, imm):
    return (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3FF) << 21) | (((imm >> 11) & 1) << 20) \
        | (((imm >> 12) & 0xFF) << 12) | (rd << 7) | 0x6F


@njit(cache=True)
def _sx(v, bits):
    m = 1 << (bits - 1)
    return (v ^ m) - m


@njit(cache=True)
def expand_compressed(h):
    """The 32-bit instruction a 16-bit RVC parcel stands for (RV64), or 0 if it is illegal."""
    q = h & 3
    f3 = (h >> 13) & 7
    rdp = ((h >> 2) & 7) + 8  # rd'/rs2' in bits 4:2
    rs1p = ((h >> 7) & 7) + 8  # rs1'/rd' in bits 9:7
    rd = (h >> 7) & 31
    rs2 = (h >> 2) & 31
    if q == 0:
        if f3 == 0:  # c.addi4spn
            imm = (_bits(h, 12, 11) << 4) | (_bits(h, 10, 7) << 6) | (_bits(h, 6, 6) << 2) \
                | (_bits(h, 5, 5) << 3)
            if imm == 0:
                return 0
            return _enc_i(0x13, rdp, 0, 2, imm)
        if f3 == 2:  # c.lw
            imm = (_bits(h, 12, 10) << 3) | (_bits(h, 6, 6) << 2) | (_bits(h, 5, 5) << 6)
            return _enc_i(0x03, rdp, 2, rs1p, imm)
        if f3 == 3:  # c.ld
            imm = (_bits(h, 12, 10) << 3) | (_bits(h, 6, 5) << 6)
            return _enc_i(0x03, rdp, 3, rs1p, imm)
        if f3 == 6:  # c.sw
            imm = (_bits(h, 12, 10) << 3) | (_bits(h, 6, 6) << 2) | (_bits(h, 5, 5) << 6)
            return _enc_s(0x23, 2, rs1p, rdp, imm)
        if f3 == 7:  # c.sd
            imm = (_bits(h, 12, 10) << 3) | (_bits(h, 6, 5) << 6)
            return _enc_s(0x23, 3, rs1p, rdp, imm)
        return 0  # c.fld/c.flw/c.fsd/c.fsw (no F/D) and the reserved f3=4
    if q == 1:
        imm6 = _sx((_bits(h, 12, 12) << 5) | _bits(h, 6, 2), 6)
        if f3 == 0:  # c.addi / c.nop (hints with rd=0 or imm=0 are legal no-ops)
            return _enc_i(0x13, rd, 0, rd, imm6)
        if f3 == 1:  # c.addiw
            if rd == 0:
                return 0
            return _enc_i(0x1B, rd, 0, rd, imm6)
        if f3 == 2:  # c.li
            return _enc_i(0x13, rd, 0, 0, imm6)
        if f3 == 3:
            if rd == 2:  # c.addi16sp
                imm = _sx((_bits(h, 12, 12) << 9) | (_bits(h, 6, 6) << 4) | (_bits(h, 5, 5) << 6)
                          | (_bits(h, 4, 3) << 7) | (_bits(h, 2, 2) << 5), 10)
                if imm == 0:
                    return 0
                return _enc_i(0x13, 2, 0, 2, imm)
            if imm6 == 0:  # c.lui with nzimm=0 is reserved
                return 0
            return ((imm6 & 0xFFFFF) << 12) | (rd << 7) | 0x37
        if f3 == 4:
            f2 = _bits(h, 11, 10)
            if f2 == 0 or f2 == 1:  # c.srli / c.srai
                sh = (_bits(h, 12, 12) << 5) | _bits(h, 6, 2)
                return _enc_i(0x13, rs1p, 5, rs1p, sh | (0x400 if f2 == 1 else 0))
            if f2 == 2:  # c.andi
                return _enc_i(0x13, rs1p, 7, rs1p, imm6)
            f = (_bits(h, 12, 12) << 2) | _bits(h, 6, 5)
            if f == 0:
                return _enc_r(0x33, rs1p, 0, rs1p, rdp, 0x20)  # c.sub
            if f == 1:
                return _enc_r(0x33, rs1p, 4, rs1p, rdp, 0)  # c.xor
            if f == 2:
                return _enc_r(0x33, rs1p, 6, rs1p, rdp, 0)  # c.or
            if f == 3:
                return _enc_r(0x33, rs1p, 7, rs1p, rdp, 0)  # c.and
            if f == 4:
                return _enc_r(0x3B, rs1p, 0, rs1p, rdp, 0x20)  # c.subw
            if f == 5:
                return _enc_r(0x3B, rs1p, 0, rs1p, rdp, 0)  # c.addw
            return 0
        if f3 == 5:  # c.j
            imm = _sx((_bits(h, 12, 12) << 11) | (_bits(h, 11, 11) << 4) | (_bits(h, 10, 9) << 8)
                      | (_bits(h, 8, 8) << 10) | (_bits(h, 7, 7) << 6) | (_bits(h, 6, 6) << 7)
                      | (_bits(h, 5, 3) << 1) | (_bits(h, 2, 2) << 5), 12)
            return _enc_j(0, imm)
        imm = _sx((_bits(h, 12, 12) << 8) | (_bits(h, 11, 10) << 3) | (_bits(h, 6, 5) << 6)
                  | (_bits(h, 4, 3) << 1) | (_bits(h, 2, 2) << 5), 9)
        return _enc_b(0 if f3 == 6 else 1, rs1p, 0, imm)  # c.beqz / c.bnez
    if q == 2:
        if f3 == 0:  # c.slli
            sh = (_bits(h, 12, 12) << 5) | _bits(h, 6, 2)
            return _enc_i(0x13, rd, 1, rd, sh)
        if f3 == 2:  # c.lwsp
            if rd == 0:
                return 0
            imm = (_bits(h, 12, 12) << 5) | (_bits(h, 6, 4) << 2) | (_bits(h, 3, 2) << 6)
            return _enc_i(0x03, rd, 2, 2, imm)
        if f3 == 3:  # c.ldsp
            if rd == 0:
                return 0
            imm = (_bits(h, 12, 12) << 5) | (_bits(h, 6, 5) << 3) | (_bits(h, 4, 2) << 6)
            return _enc_i(0x03, rd, 3, 2, imm)
        if f3 == 4:
            if _bits(h, 12, 12) == 0:
                if rs2 == 0:  # c.jr
                    if rd == 0:
                        return 0
                    return _enc_i(0x67, 0, 0, rd, 0)
                return _enc_r(0x33, rd, 0, 0, rs2, 0)  # c.mv
            if rs2 == 0:
                if rd == 0:
                    return 0x00100073  # c.ebreak
                return _enc_i(0x67, 1, 0, rd, 0)  # c.jalr
            return _enc_r(0x33, rd, 0, rd, rs2, 0)  # c.add
        if f3 == 6:  # c.swsp
            imm = (_bits(h, 12, 9) << 2) | (_bits(h, 8, 7) << 6)
            return _enc_s(0x23, 2, 2, rs2, imm)
        if f3 == 7:  # c.sdsp
            imm = (_bits(h, 12, 10) << 3) | (_bits(h, 9, 7) << 6)
            return _enc_s(0x23, 3, 2, rs2, imm)
        return 0  # c.fldsp/c.fsdsp (no D)
    return 0


@njit(cache=True)
def build_rvc_table():
    """All 65536 parcels expanded once: the run loop turns a C instruction into one lookup."""
    t = np.zeros(65536, dtype=np.uint32)
    for h in range(65536):
        if h & 3 != 3:
            t[h] = expand_compressed(h)
    return t


# ---------------------------------------------------------------------------------------
# Event recording
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def rec_write(s, wr, step, kind, target, value, size, paddr):
    n = s[S_N_WRITE]
    if n < wr.shape[0]:
        wr[n, 0] = step
        wr[n, 1] = kind
        wr[n, 2] = target
        wr[n, 3] = value
        wr[n, 4] = size
        wr[n, 5] = paddr
        s[S_N_WRITE] = n + 1


@njit(cache=True)
def rec_walk(s, wk, step, va, level, pte_addr, pte, result, acc, stage):
    if s[S_TRACE] & TRACE_WALK:
        n = s[S_N_WALK]
        if n < wk.shape[0]:
            wk[n, 0] = step
            wk[n, 1] = va
            wk[n, 2] = level
            wk[n, 3] = pte_addr
            wk[n, 4] = pte
            wk[n, 5] = result
            wk[n, 6] = stage  # 0: the only stage (or the VS-stage), 1: the G-stage
            wk[n, 7] = acc
            s[S_N_WALK] = n + 1


@njit(cache=True)
def rec_io(s, io, step, dev, offset, write, value, size):
    if s[S_TRACE] & TRACE_IO:
        n = s[S_N_IO]
        if n < io.shape[0]:
            io[n, 0] = step
            io[n, 1] = dev
            io[n, 2] = offset
            io[n, 3] = write
            io[n, 4] = value
            io[n, 5] = size
            s[S_N_IO] = n + 1


# ---------------------------------------------------------------------------------------
# Time and interrupts
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def mtime_at(s, instret):
    return (instret + s[S_TIME_OFF]) // s[S_TIME_DIV]


@njit(cache=True)
def pending_bits(s, csr, instret):
    """mip as software sees it: stored bits plus the lines driven by CLINT, PLIC, Sstc and
    the hypervisor's hvip."""
    mip = csr[CSR_MIP] & (MIP_SSIP | MIP_STIP | MIP_SEIP)
    now = mtime_at(s, instret)
    if not ltu(now, s[S_MTIMECMP]):
        mip |= MIP_MTIP
    if s[S_MSIP] & 1:
        mip |= MIP_MSIP
    if s[S_EXT_M]:
        mip |= MIP_MEIP
    if s[S_EXT_S]:
        mip |= MIP_SEIP
    if csr[CSR_MENVCFG] < 0:  # STCE: STIP is the comparison of time with stimecmp
        mip &= ~MIP_STIP
        if not ltu(now, csr[CSR_STIMECMP]):
            mip |= MIP_STIP
    mip |= csr[CSR_HVIP] & MIP_VS
    if csr[CSR_MENVCFG] < 0 and csr[CSR_HENVCFG] < 0 \
            and not ltu(now + csr[CSR_HTIMEDELTA], csr[CSR_VSTIMECMP]):
        mip |= MIP_VSTIP  # the guest's own timer (vstimecmp against its shifted time)
    return mip


@njit(cache=True)
def _deadline(s, cmp, now, best):
    far = np.int64(1) << 62
    div = s[S_TIME_DIV]
    if cmp >= 0 and cmp < far // div and now < cmp:
        return min(best, cmp * div - s[S_TIME_OFF])
    return best


@njit(cache=True)
def timer_deadline(s, csr, instret):
    """The retired count at which a timer line will next rise (a far future if none)."""
    best = np.int64(1) << 62
    now = mtime_at(s, instret)
    best = _deadline(s, s[S_MTIMECMP], now, best)
    if csr[CSR_MENVCFG] < 0:
        best = _deadline(s, csr[CSR_STIMECMP], now, best)
        if csr[CSR_HENVCFG] < 0:
            best = _deadline(s, csr[CSR_VSTIMECMP] - csr[CSR_HTIMEDELTA], now, best)
    return best


# by the spec's priority: M-level before HS-level before VS-level, and within a level
_IRQ_ORDER = (IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI, IRQ_SGEI, IRQ_VSEI,
              IRQ_VSSI, IRQ_VSTI)


@njit(cache=True)
def interrupt_to_take(s, csr, instret):
    """The interrupt the hart takes now (by the spec's priority), or -1. It is numbered as
    in mip; take_trap renames a VS-level one (VSTI 6 -> STI 5, ...) for the guest."""
    pend = pending_bits(s, csr, instret) & csr[CSR_MIE]
    if pend == 0:
        return -1
    mode = s[S_MODE]
    v = s[S_V]
    mstatus = csr[CSR_MSTATUS]
    mideleg = csr[CSR_MIDELEG] | MIDELEG_ONE
    hideleg = csr[CSR_HIDELEG]
    m_on = mode < PRV_M or (mstatus & MSTATUS_MIE) != 0
    # HS-level interrupts are always on in VS and VU: the guest cannot mask the host
    hs_on = v == 1 or mode < PRV_S or (mode == PRV_S and (mstatus & MSTATUS_SIE) != 0)
    vs_on = v == 1 and (mode == PRV_U or (csr[CSR_VSSTATUS] & MSTATUS_SIE) != 0)
    for level in range(3):
        if level == 0:
            ready = pend & ~mideleg if m_on else 0
        elif level == 1:
            ready = pend & mideleg & ~hideleg if hs_on else 0
        else:
            ready = pend & mideleg & hideleg if vs_on else 0
        if ready:
            for irq in _IRQ_ORDER:
                if (ready >> irq) & 1:
                    return irq
    return -1


# ---------------------------------------------------------------------------------------
# Traps
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def take_trap(s, csr, tr, cause, tval, interrupt, pc, instret):
    """Enter the trap handler: delegation (medeleg/mideleg to HS, then hedeleg/hideleg to VS
    when the trap came from V=1), CSR updates, mode change. Returns False when the trap
    targets a host-owned level: then the exit record holds it and nothing changed."""
    mode = s[S_MODE]
    v = s[S_V]
    if interrupt:
        m_deleg = ((csr[CSR_MIDELEG] | MIDELEG_ONE) >> cause) & 1
        h_deleg = (csr[CSR_HIDELEG] >> cause) & 1
    else:
        m_deleg = (csr[CSR_MEDELEG] >> cause) & 1
        h_deleg = (csr[CSR_HEDELEG] >> cause) & 1
    to_s = mode <= PRV_S and m_deleg != 0
    to_vs = to_s and v == 1 and h_deleg != 0
    from_mode = mode | (v << 2)
    if not to_vs:
        if to_s:
            host = s[S_HOST_S_INT] if interrupt else s[S_HOST_S_EXC]
        else:
            host = s[S_HOST_INT] if interrupt else s[S_HOST_EXC]
        if (host >> cause) & 1:
            s[S_EXIT] = EXIT_HOST_TRAP
            s[S_EXIT_A] = (cause | _INT64_MIN) if interrupt else cause
            s[S_EXIT_B] = tval
            s[S_EXIT_C] = from_mode | (8 if to_s else 0)
            if interrupt or not (cause == EXC_FETCH_GUEST_PAGE or cause == EXC_LOAD_GUEST_PAGE
                                 or cause == EXC_STORE_GUEST_PAGE):
                s[S_TRAP_GPA] = 0
            s[S_HLV] = 0
            return False
    # the guest physical address of a guest-page fault (htval / mtval2 hold it >> 2), and
    # whether tval is a guest virtual address (GVA)
    gpa = np.int64(0)
    tinst = np.int64(0)
    gva = 0
    if not interrupt:
        if cause == EXC_FETCH_GUEST_PAGE or cause == EXC_LOAD_GUEST_PAGE \
                or cause == EXC_STORE_GUEST_PAGE:
            gpa = s[S_TRAP_GPA]
            tinst = s[S_TRAP_TINST]
        guest_access = v == 1 or s[S_HLV] != 0
        if not guest_access and mode == PRV_M and (DATA_CAUSES >> cause) & 1:
            # M-mode loads and stores with MPRV=1 and MPV=1 are made as the guest's
            ms = csr[CSR_MSTATUS]
            guest_access = (ms & MSTATUS_MPRV) != 0 and (ms & MSTATUS_MPV) != 0 \
                and ((ms >> MSTATUS_MPP_SHIFT) & 3) != PRV_M
        if guest_access and (GVA_CAUSES >> cause) & 1:
            gva = 1
    s[S_HLV] = 0
    mcause = (cause | _INT64_MIN) if interrupt else cause
    mstatus = csr[CSR_MSTATUS]
    new_v = 0
    if to_vs:
        vcause = cause
        if interrupt and (cause == IRQ_VSSI or cause == IRQ_VSTI or cause == IRQ_VSEI):
            vcause = cause - 1  # the guest sees its own S-level interrupt
        csr[CSR_VSCAUSE] = (vcause | _INT64_MIN) if interrupt else vcause
        csr[CSR_VSEPC] = pc
        csr[CSR_VSTVAL] = tval
        vsstatus = csr[CSR_VSSTATUS] & ~(MSTATUS_SPIE | MSTATUS_SPP)
        if vsstatus & MSTATUS_SIE:
            vsstatus |= MSTATUS_SPIE
        if mode == PRV_S:
            vsstatus |= MSTATUS_SPP
        csr[CSR_VSSTATUS] = vsstatus & ~MSTATUS_SIE
        vec = csr[CSR_VSTVEC]
        new_mode = PRV_S
        new_v = 1
        cause = vcause
    elif to_s:
        csr[CSR_SCAUSE] = mcause
        csr[CSR_SEPC] = pc
        csr[CSR_STVAL] = tval
        mstatus &= ~(MSTATUS_SPIE | MSTATUS_SPP)
        if mstatus & MSTATUS_SIE:
            mstatus |= MSTATUS_SPIE
        if mode == PRV_S:
            mstatus |= MSTATUS_SPP
        mstatus &= ~MSTATUS_SIE
        hstatus = csr[CSR_HSTATUS] & ~(HSTATUS_SPV | HSTATUS_GVA)
        if v == 1:
            hstatus |= HSTATUS_SPV
            hstatus &= ~HSTATUS_SPVP
            if mode == PRV_S:
                hstatus |= HSTATUS_SPVP
        if gva:
            hstatus |= HSTATUS_GVA
        csr[CSR_HSTATUS] = hstatus
        csr[CSR_HTVAL] = srl(gpa, 2)
        csr[CSR_HTINST] = tinst  # else 0, which the spec allows: "no information"
        vec = csr[CSR_STVEC]
        new_mode = PRV_S
    else:
        csr[CSR_MCAUSE] = mcause
        csr[CSR_MEPC] = pc
        csr[CSR_MTVAL] = tval
        mstatus &= ~(MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_MPV | MSTATUS_GVA)
        if mstatus & MSTATUS_MIE:
            mstatus |= MSTATUS_MPIE
        mstatus |= mode << MSTATUS_MPP_SHIFT
        if v == 1:
            mstatus |= MSTATUS_MPV
        if gva:
            mstatus |= MSTATUS_GVA
        mstatus &= ~MSTATUS_MIE
        csr[CSR_MTVAL2] = srl(gpa, 2)
        csr[CSR_MTINST] = tinst
        vec = csr[CSR_MTVEC]
        new_mode = PRV_M
    csr[CSR_MSTATUS] = mstatus
    base = vec & ~3
    if interrupt and (vec & 3) == 1:
        base += 4 * cause
    s[S_PC] = base
    s[S_MODE] = new_mode
    s[S_V] = new_v
    s[S_RES_ADDR] = -1
    s[S_TRAPS] += 1
    if s[S_TRACE] & TRACE_TRAP:
        n = s[S_N_TRAP]
        if n < tr.shape[0]:
            tr[n, 0] = instret
            tr[n, 1] = mcause
            tr[n, 2] = tval
            tr[n, 3] = from_mode
            tr[n, 4] = new_mode | (new_v << 2)
            tr[n, 5] = pc
            tr[n, 6] = s[S_PC]
            s[S_N_TRAP] = n + 1
    return True


# ---------------------------------------------------------------------------------------
# CSRs
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def csr_exists(n):
    if 0xC00 <= n <= 0xC1F or 0xB00 <= n <= 0xB1F or 0x323 <= n <= 0x33F:
        return n != 0xB01  # there is no mtime CSR
    if 0x3B0 <= n <= 0x3EF:
        return True
    if 0x3A0 <= n <= 0x3AF:
        return (n & 1) == 0  # RV64: only the even pmpcfg registers exist
    return n in (CSR_SSTATUS, CSR_SIE, CSR_STVEC, CSR_SCOUNTEREN, CSR_SENVCFG, CSR_SSCRATCH,
                 CSR_SEPC, CSR_SCAUSE, CSR_STVAL, CSR_SIP, CSR_STIMECMP, CSR_SATP,
                 CSR_MSTATUS, CSR_MISA, CSR_MEDELEG, CSR_MIDELEG, CSR_MIE, CSR_MTVEC,
                 CSR_MCOUNTEREN, CSR_MENVCFG, CSR_MCOUNTINHIBIT, CSR_MSCRATCH, CSR_MEPC,
                 CSR_MCAUSE, CSR_MTVAL, CSR_MIP, CSR_TSELECT, CSR_TDATA1, CSR_TDATA2,
                 CSR_TDATA3, CSR_TINFO, 0xF11, 0xF12, 0xF13, 0xF14, 0xF15,
                 CSR_MTINST, CSR_MTVAL2,
                 CSR_HSTATUS, CSR_HEDELEG, CSR_HIDELEG, CSR_HIE, CSR_HTIMEDELTA,
                 CSR_HCOUNTEREN, CSR_HGEIE, CSR_HENVCFG, CSR_HTVAL, CSR_HIP, CSR_HVIP,
                 CSR_HTINST, CSR_HGATP, CSR_HGEIP,
                 CSR_VSSTATUS, CSR_VSIE, CSR_VSTVEC, CSR_VSSCRATCH, CSR_VSEPC, CSR_VSCAUSE,
                 CSR_VSTVAL, CSR_VSIP, CSR_VSTIMECMP, CSR_VSATP)


@njit(cache=True)
def csr_check(s, csr, n, write):
    """May the current mode access CSR ``n``? 0 yes; otherwise the exception: illegal
    instruction, or (V=1, for what HS-mode could do) virtual instruction."""
    if not csr_exists(n):
        return EXC_ILLEGAL
    if write and (n >> 10) == 3:  # read-only
        return EXC_ILLEGAL
    mode = s[S_MODE]
    if mode == PRV_M:
        return 0
    level = (n >> 8) & 3  # 0 user, 1 supervisor, 2 hypervisor (and VS), 3 machine
    counter = 0xC00 <= n <= 0xC1F
    bit = np.int64(1) << (n & 31)
    # the machine-level gates come first: HS-mode would fail them too
    if level == 3:
        return EXC_ILLEGAL
    if counter and (csr[CSR_MCOUNTEREN] & bit) == 0:
        return EXC_ILLEGAL
    if (n == CSR_STIMECMP or n == CSR_VSTIMECMP) \
            and (csr[CSR_MENVCFG] >= 0 or (csr[CSR_MCOUNTEREN] & COUNTER_TM) == 0):
        return EXC_ILLEGAL
    if mode == PRV_U and n == CSR_SSTATUS and (s[S_ENV_FLAGS] & ENV_SENSITIVE_UNPRIVILEGED):
        return 0  # the teaching deviation: sensitive but not privileged (no trap, VU too)
    if s[S_V] == 0:
        if mode == PRV_U and level > 0:
            return EXC_ILLEGAL
        if mode == PRV_U and counter and (csr[CSR_SCOUNTEREN] & bit) == 0:
            return EXC_ILLEGAL
        if (n == CSR_SATP or n == CSR_HGATP) and (csr[CSR_MSTATUS] & MSTATUS_TVM):
            return EXC_ILLEGAL
        return 0
    # V=1: what HS-mode may do but the guest may not is a virtual-instruction exception,
    # so the hypervisor can emulate it
    if level == 2 or (mode == PRV_U and level == 1):
        return EXC_VIRTUAL_INSTRUCTION
    if counter and ((csr[CSR_HCOUNTEREN] & bit) == 0
                    or (mode == PRV_U and (csr[CSR_SCOUNTEREN] & bit) == 0)):
        return EXC_VIRTUAL_INSTRUCTION
    if n == CSR_STIMECMP and (csr[CSR_HENVCFG] >= 0
                              or (csr[CSR_HCOUNTEREN] & COUNTER_TM) == 0):
        return EXC_VIRTUAL_INSTRUCTION
    if n == CSR_SATP and (csr[CSR_HSTATUS] & HSTATUS_VTVM):
        return EXC_VIRTUAL_INSTRUCTION
    return 0


@njit(cache=True)
def csr_for_guest(n):
    """When V=1 the supervisor CSRs that have a VS twin name the twin (sstatus ->
    vsstatus, satp -> vsatp, ...): a guest kernel runs unchanged on its own copies."""
    if n == CSR_SSTATUS or n == CSR_SIE or n == CSR_STVEC or n == CSR_SIP or n == CSR_SATP \
            or n == CSR_STIMECMP or (CSR_SSCRATCH <= n <= CSR_STVAL):
        return n + 0x100
    return n


@njit(cache=True)
def csr_read(s, csr, n, instret):
    if n == CSR_SSTATUS:
        return csr[CSR_MSTATUS] & SSTATUS_MASK
    if n == CSR_VSSTATUS:
        return (csr[CSR_VSSTATUS] & SSTATUS_WRITABLE) | (2 << 32)  # UXL = 64
    if n == CSR_SIE:
        return csr[CSR_MIE] & csr[CSR_MIDELEG] & MIDELEG_WRITABLE
    if n == CSR_SIP:
        return pending_bits(s, csr, instret) & csr[CSR_MIDELEG] & MIDELEG_WRITABLE
    if n == CSR_MIP:
        return pending_bits(s, csr, instret)
    if n == CSR_MIDELEG:
        return csr[n] | MIDELEG_ONE
    if n == CSR_HIP:
        return pending_bits(s, csr, instret) & MIP_VS
    if n == CSR_HIE:
        return csr[CSR_MIE] & MIP_VS
    if n == CSR_VSIP:  # the guest's view: VS-level bits that hideleg gives it, as S-level
        return (pending_bits(s, csr, instret) & csr[CSR_HIDELEG] & MIP_VS) >> 1
    if n == CSR_VSIE:
        return (csr[CSR_MIE] & csr[CSR_HIDELEG] & MIP_VS) >> 1
    if n == CSR_HENVCFG:  # ADUE and STCE exist only where menvcfg enables them
        return csr[n] & (csr[CSR_MENVCFG] | ~(MENVCFG_ADUE | MENVCFG_STCE))
    if n == CSR_HSTATUS:
        return csr[n] | HSTATUS_VSXL
    if n == CSR_CYCLE or n == CSR_MCYCLE:
        return instret + s[S_CYCLE_OFF]
    if n == CSR_INSTRET or n == CSR_MINSTRET:
        return instret + s[S_INSTRET_OFF]
    if n == CSR_TIME:
        if s[S_V] == 1:  # a guest's time is shifted by htimedelta
            return mtime_at(s, instret) + csr[CSR_HTIMEDELTA]
        return mtime_at(s, instret)
    if n == CSR_MISA:
        return MISA_VALUE
    if n == CSR_TINFO:
        return 1  # trigger 0 supports only type 0: "no trigger here"
    return csr[n]


@njit(cache=True)
def _pmpcfg_byte(old, new):
    if old & 0x80:  # locked
        return old
    new &= 0x9F  # R W X A L (bits 5-6 reserved)
    if (new & 3) == 2:  # W without R is reserved: drop W
        new &= ~2
    return new


@njit(cache=True)
def csr_write(s, csr, n, v, instret):
    """Write ``v`` to CSR ``n`` applying WARL rules. Returns the value now held."""
    if n == CSR_MSTATUS or n == CSR_SSTATUS:
        mask = MSTATUS_WRITABLE if n == CSR_MSTATUS else SSTATUS_WRITABLE
        old = csr[CSR_MSTATUS]
        new = (old & ~mask) | (v & mask)
        if ((new >> MSTATUS_MPP_SHIFT) & 3) == 2:  # reserved MPP: keep the old one
            new = (new & ~MSTATUS_MPP) | (old & MSTATUS_MPP)
        csr[CSR_MSTATUS] = new | MSTATUS_UXL_SXL
    elif n == CSR_VSSTATUS:
        csr[n] = v & SSTATUS_WRITABLE
    elif n == CSR_MISA:
        pass
    elif n == CSR_MEDELEG:
        csr[n] = v & MEDELEG_WRITABLE
    elif n == CSR_MIDELEG:
        csr[n] = v & MIDELEG_WRITABLE
    elif n == CSR_HEDELEG:
        csr[n] = v & HEDELEG_WRITABLE
    elif n == CSR_HIDELEG:
        csr[n] = v & MIP_VS
    elif n == CSR_MIE:
        csr[n] = v & MIE_WRITABLE
    elif n == CSR_SIE:
        d = csr[CSR_MIDELEG] & MIDELEG_WRITABLE
        csr[CSR_MIE] = (csr[CSR_MIE] & ~d) | (v & d)
    elif n == CSR_HIE:
        csr[CSR_MIE] = (csr[CSR_MIE] & ~MIP_VS) | (v & MIP_VS)
    elif n == CSR_VSIE:
        d = csr[CSR_HIDELEG] & MIP_VS
        csr[CSR_MIE] = (csr[CSR_MIE] & ~d) | ((v << 1) & d)
    elif n == CSR_MIP:
        mask = MIP_SSIP | MIP_SEIP
        if csr[CSR_MENVCFG] >= 0:
            mask |= MIP_STIP
        csr[n] = (csr[n] & ~mask) | (v & mask)
        # mip.VSSIP, like hip.VSSIP, is another name for hvip.VSSIP
        csr[CSR_HVIP] = (csr[CSR_HVIP] & ~MIP_VSSIP) | (v & MIP_VSSIP)
    elif n == CSR_SIP:
        mask = MIP_SSIP & csr[CSR_MIDELEG]
        csr[CSR_MIP] = (csr[CSR_MIP] & ~mask) | (v & mask)
    elif n == CSR_HIP:
        csr[CSR_HVIP] = (csr[CSR_HVIP] & ~MIP_VSSIP) | (v & MIP_VSSIP)
    elif n == CSR_VSIP:
        mask = csr[CSR_HIDELEG] & MIP_VSSIP
        csr[CSR_HVIP] = (csr[CSR_HVIP] & ~mask) | ((v << 1) & mask)
    elif n == CSR_HVIP:
        csr[n] = v & MIP_VS
    elif n == CSR_HSTATUS:
        csr[n] = v & HSTATUS_WRITABLE
    elif n == CSR_MTVEC or n == CSR_STVEC or n == CSR_VSTVEC:
        if (v & 3) >= 2:  # reserved mode: keep the old mode
            v = (v & ~3) | (csr[n] & 3)
        csr[n] = v
    elif n == CSR_MEPC or n == CSR_SEPC or n == CSR_VSEPC:
        csr[n] = v & ~1
    elif n == CSR_MCOUNTEREN or n == CSR_SCOUNTEREN or n == CSR_HCOUNTEREN:
        csr[n] = v & _M32
    elif n == CSR_MENVCFG or n == CSR_HENVCFG:
        csr[n] = v & (MENVCFG_FIOM | MENVCFG_ADUE | MENVCFG_STCE)
    elif n == CSR_SENVCFG:
        csr[n] = v & MENVCFG_FIOM
    elif n == CSR_SATP or n == CSR_VSATP:
        mode = srl(v, 60)
        if mode == 0:
            csr[n] = 0  # Bare: ASID and PPN read as zero
        elif mode == SATP_MODE_SV39:
            csr[n] = v  # MODE, a 16-bit ASID and a 44-bit PPN: every bit is writable
        # any other mode: the whole write has no effect
    elif n == CSR_HGATP:
        if srl(v, 60) == HGATP_MODE_SV39X4:
            # VMID (VMID_BITS of them) and the PPN of a 16 KiB root: its low 2 bits read 0
            csr[n] = (np.int64(HGATP_MODE_SV39X4) << 60) \
                | (v & (((np.int64(1) << VMID_BITS) - 1) << 44)) | (v & PPN_MASK & ~3)
        else:  # Bare, or a mode we do not implement (WARL: it reads as Bare)
            csr[n] = 0
    elif n == CSR_MCYCLE:
        s[S_CYCLE_OFF] = v - (instret + 1)  # the next read sees exactly v
    elif n == CSR_MINSTRET:
        s[S_INSTRET_OFF] = v - (instret + 1)
    elif 0x3A0 <= n <= 0x3AF:
        first = (n - CSR_PMPCFG0) * 4  # entry number of the register's byte 0
        old = csr[n]
        new = 0
        for b in range(8):
            ob = (old >> (8 * b)) & 0xFF
            if first + b < N_PMP:
                new |= _pmpcfg_byte(ob, (v >> (8 * b)) & 0xFF) << (8 * b)
        csr[n] = new
    elif 0x3B0 <= n <= 0x3EF:
        i = n - CSR_PMPADDR0
        if i < N_PMP:
            cfg = (csr[CSR_PMPCFG0 + (i // 8) * 2] >> (8 * (i % 8))) & 0xFF
            locked = (cfg & 0x80) != 0
            if i + 1 < N_PMP:  # a locked TOR entry also locks the address below it
                ncfg = (csr[CSR_PMPCFG0 + ((i + 1) // 8) * 2] >> (8 * ((i + 1) % 8))) & 0xFF
                if (ncfg & 0x80) and ((ncfg >> 3) & 3) == 1:
                    locked = True
            if not locked:
                csr[n] = v & ((1 << 54) - 1)
    elif n == CSR_STIMECMP or n == CSR_MSCRATCH or n == CSR_SSCRATCH or n == CSR_MTVAL \
            or n == CSR_STVAL or n == CSR_MCAUSE or n == CSR_SCAUSE or n == CSR_MTVAL2 \
            or n == CSR_MTINST or n == CSR_HTVAL or n == CSR_HTINST or n == CSR_HTIMEDELTA \
            or n == CSR_VSSCRATCH or n == CSR_VSCAUSE or n == CSR_VSTVAL \
            or n == CSR_VSTIMECMP:
        csr[n] = v
    # everything else (ids, tselect/tdata with no triggers, hpm counters/events,
    # mcountinhibit, read-only counters, hgeie with no guest external interrupts) ignores
    # writes and keeps reading zero
    return csr_read(s, csr, n, instret + 1)


# ---------------------------------------------------------------------------------------
# Address translation: Sv39, and with V=1 two stages (VS-stage Sv39 via vsatp, then the
# G-stage Sv39x4 via hgatp that maps guest physical addresses to machine ones)
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def page_fault_cause(acc):
    if acc == ACC_FETCH:
        return EXC_FETCH_PAGE
    if acc == ACC_STORE:
        return EXC_STORE_PAGE
    return EXC_LOAD_PAGE


@njit(cache=True)
def guest_page_fault_cause(acc):
    if acc == ACC_FETCH:
        return EXC_FETCH_GUEST_PAGE
    if acc == ACC_STORE:
        return EXC_STORE_GUEST_PAGE
    return EXC_LOAD_GUEST_PAGE


@njit(cache=True)
def access_fault_cause(acc):
    if acc == ACC_FETCH:
        return EXC_FETCH_ACCESS
    if acc == ACC_STORE:
        return EXC_STORE_ACCESS
    return EXC_LOAD_ACCESS


@njit(cache=True)
def effective_mode(s, csr, acc):
    """The privilege a memory access is checked against (MPRV makes M loads/stores act as MPP)."""
    mode = s[S_MODE]
    if acc != ACC_FETCH and mode == PRV_M and (csr[CSR_MSTATUS] & MSTATUS_MPRV):
        mode = (csr[CSR_MSTATUS] >> MSTATUS_MPP_SHIFT) & 3
    return mode


@njit(cache=True)
def effective_v(s, csr, acc):
    """The V an access is made with: MPRV makes M loads/stores act as MPV too."""
    if acc != ACC_FETCH and s[S_MODE] == PRV_M:
        mstatus = csr[CSR_MSTATUS]
        if (mstatus & MSTATUS_MPRV) and ((mstatus >> MSTATUS_MPP_SHIFT) & 3) != PRV_M:
            return 1 if mstatus & MSTATUS_MPV else 0
        return 0
    return s[S_V]


@njit(cache=True)
def canonical(va):
    """Sv39 addresses have bits 63..39 equal to bit 38."""
    t = va >> 38
    return t == 0 or t == -1


# A TLB key is the virtual page number and everything the cached permission check depended
# on, so a change of any of them simply misses instead of needing a flush:
#   bit 0 mode (U 0, S 1) · 1 MXR · 2 SUM · 3 mstatus.MXR for V=1 · 4 V · 5 VS-stage on
#   bits 6-21 ASID (of satp, or of vsatp when V=1) · 22-35 VMID · 36-62 VPN
CTX_V = 1 << 4
CTX_ASID_SHIFT = 6
CTX_VMID_SHIFT = 22
CTX_VPN_SHIFT = 36


@njit(cache=True)
def tlb_ctx(csr, mode, v):
    if v == 0:
        mstatus = csr[CSR_MSTATUS]
        return (((csr[CSR_SATP] >> 44) & 0xFFFF) << CTX_ASID_SHIFT) \
            | (((mstatus >> 18) & 1) << 2) | (((mstatus >> 19) & 1) << 1) | (mode & 1)
    vsstatus = csr[CSR_VSSTATUS]
    vsatp = csr[CSR_VSATP]
    vs_on = srl(vsatp, 60) == SATP_MODE_SV39
    ctx = CTX_V | (((csr[CSR_HGATP] >> 44) & ((1 << VMID_BITS) - 1)) << CTX_VMID_SHIFT) \
        | (((csr[CSR_MSTATUS] >> 19) & 1) << 3) | (mode & 1)
    if vs_on:
        ctx |= (1 << 5) | (((vsatp >> 44) & 0xFFFF) << CTX_ASID_SHIFT) \
            | (((vsstatus >> 18) & 1) << 2) | (((vsstatus >> 19) & 1) << 1)
    return ctx


@njit(cache=True)
def tlb_hash(ctx):
    """Where an address space's entries sit in the direct-mapped TLB: the virtual page
    number XOR a fold of the V bit, ASID and VMID, so that two guests (or processes)
    using the same addresses do not evict each other, as in a set-associative TLB.
    Zero for ASID 0 with V=0: a plain machine indexes by page number alone."""
    h = ctx >> 4
    return (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & (TLB_SIZE - 1)


@njit(cache=True)
def tlb_key(vpn, ctx):
    return (((vpn & ((1 << 27) - 1)) << CTX_VPN_SHIFT) | ctx) + 1


@njit(cache=True)
def tlb_fill(tlb, acc, va, pa, flags, key):
    """Cache the 4 KiB page of a completed translation (flags: the leaf's PTE bits and, in
    bits 8-9, its level, which sfence.vma by address needs)."""
    if canonical(va):  # above 2^38 (a guest physical address with vsatp Bare) keys alias
        idx = ((va >> 12) ^ tlb_hash((key - 1) & ((1 << CTX_VPN_SHIFT) - 1))) & (TLB_SIZE - 1)
        tlb[acc, TLB_KEY, idx] = key
        tlb[acc, TLB_PAGE, idx] = pa & ~0xFFF
        tlb[acc, TLB_FLAGS, idx] = flags


@njit(cache=True)
def wc_vs_key(level, va, ctx):
    """The tag of a VS-stage (or single-stage) walk-cache entry: the VA bits above
    ``level``, the level and the address space (``ctx`` from tlb_ctx), plus one (0 is
    empty). Of ctx's permission bits only mstatus.MXR (bit 3, V=1) stays: a hit skips the
    G-stage check of the entry's address, which MXR changes without a fence."""
    prefix = (va >> (12 + 9 * level)) & ((np.int64(1) << (27 - 9 * level)) - 1)
    return ((prefix << 40) | (np.int64(level) << 36) | (ctx & ((np.int64(1) << 36) - 8))) + 1


@njit(cache=True)
def wc_vs_slot(level, va, ctx):
    prefix = va >> (12 + 9 * level)
    if level == 2:
        return WC_VS2_BASE + ((prefix ^ tlb_hash(ctx)) & (WC_VS2_SIZE - 1))
    return WC_VS1_BASE + ((prefix ^ tlb_hash(ctx)) & (WC_VS1_SIZE - 1))


@njit(cache=True)
def wc_g_key(level, gpa, vmid):
    """The tag of a G-stage entry: the guest physical address bits above ``level`` (41-bit
    addresses), the level (3: the nested TLB, keyed by guest page) and the VMID, plus one."""
    sh = 12 if level == 3 else 12 + 9 * level
    return (((gpa >> sh) << 20) | (np.int64(level) << 18) | (vmid << 4)) + 1


@njit(cache=True)
def wc_g_slot(level, gpa, vmid):
    h = vmid ^ (vmid >> 5) ^ (vmid >> 10)
    if level == 3:
        return WC_NTLB_BASE + (((gpa >> 12) ^ h) & (WC_NTLB_SIZE - 1))
    if level == 2:
        return WC_G2_BASE + (((gpa >> 30) ^ h) & (WC_G2_SIZE - 1))
    return WC_G1_BASE + (((gpa >> 21) ^ h) & (WC_G1_SIZE - 1))


@njit(cache=True)
def wc_fill(tlb, slot, key, pte, pte_addr, table):
    tlb[WC, WC_KEY, slot] = key
    tlb[WC, WC_PTE, slot] = pte
    tlb[WC, WC_PTE_ADDR, slot] = pte_addr
    tlb[WC, WC_TABLE, slot] = table


@njit(cache=True)
def leaf_allows(pte, acc, hlvx, mode, sum_, mxr):
    """The permission check of a leaf PTE for one access."""
    if acc == ACC_FETCH or hlvx:  # HLVX reads need execute permission, not read
        ok = (pte & PTE_X) != 0
    elif acc == ACC_LOAD:
        ok = (pte & PTE_R) != 0 or (mxr and (pte & PTE_X) != 0)
    else:
        ok = (pte & PTE_W) != 0
    if mode == PRV_U:
        return ok and (pte & PTE_U) != 0
    if pte & PTE_U:  # S touching a user page: never fetch, load/store only with SUM
        return ok and acc != ACC_FETCH and sum_
    return ok


@njit(cache=True)
def g_walk(s, csr, ram, tlb, wk, wr, gpa, acc, hlvx, fault_acc, pt_read, step):
    """G-stage (Sv39x4) translation of guest physical address ``gpa`` for an access of kind
    ``acc``. Every G-stage access counts as a U-mode one. A fault is a guest-page fault of
    kind ``fault_acc`` (the original access, also when a VS-stage page-table read faulted),
    with S_TRAP_GPA = gpa. ``pt_read``: ``gpa`` is a VS-stage PTE's (the nested TLB may
    answer). Returns (machine address, leaf PTE, leaf PTE address); the address is -1 on a
    fault (S_TRAP_CAUSE set; S_TRAP_TVAL is the caller's to set)."""
    hgatp = csr[CSR_HGATP]
    if srl(hgatp, 60) != HGATP_MODE_SV39X4:
        return gpa, np.int64(-1), np.int64(-1)  # Bare: guest physical = machine physical
    s[S_TRAP_GPA] = gpa
    if (gpa >> 41) != 0:  # Sv39x4 guest physical addresses have 41 bits
        s[S_TRAP_CAUSE] = guest_page_fault_cause(fault_acc)
        return np.int64(-1), np.int64(0), np.int64(0)
    ram_size = ram.shape[0]
    a = (hgatp & PPN_MASK & ~3) << 12  # the 16 KiB root
    level = 2
    mxr = (csr[CSR_MSTATUS] & MSTATUS_MXR) != 0
    wc_on = (s[S_ENV_FLAGS] & ENV_WALK_CACHE) != 0
    vmid = (hgatp >> 44) & ((1 << VMID_BITS) - 1)
    if wc_on and pt_read:  # the nested TLB: this page's leaf, if still good for a read
        slot = wc_g_slot(3, gpa, vmid)
        pte = tlb[WC, WC_PTE, slot]
        table = tlb[WC, WC_TABLE, slot]
        if tlb[WC, WC_KEY, slot] == wc_g_key(3, gpa, vmid) and (table & ~3) == a \
                and leaf_allows(pte, ACC_LOAD, False, PRV_U, False, mxr) and (pte & PTE_A):
            s[S_WC_HITS] += 1
            level = table & 3
            rec_walk(s, wk, step, gpa, level, tlb[WC, WC_PTE_ADDR, slot], pte, WALK_CACHED,
                     fault_acc, 1)
            page_mask = (np.int64(1) << (12 + 9 * level)) - 1
            return ((((pte >> 10) & PPN_MASK) << 12) & ~page_mask) | (gpa & page_mask), pte, \
                tlb[WC, WC_PTE_ADDR, slot]
        s[S_WC_MISSES] += 1
    while True:
        if level == 2:
            vpn_i = (gpa >> 30) & 0x7FF  # the root is indexed by 11 bits
        else:
            vpn_i = (gpa >> (12 + 9 * level)) & 0x1FF
        pte_addr = a + vpn_i * 8
        if wc_on and level > 0:
            slot = wc_g_slot(level, gpa, vmid)
            if tlb[WC, WC_KEY, slot] == wc_g_key(level, gpa, vmid) \
                    and tlb[WC, WC_PTE_ADDR, slot] == pte_addr:
                s[S_WC_HITS] += 1
                pte = tlb[WC, WC_PTE, slot]
                rec_walk(s, wk, step, gpa, level, pte_addr, pte, WALK_CACHED, fault_acc, 1)
                level -= 1
                a = ((pte >> 10) & PPN_MASK) << 12
                continue
            s[S_WC_MISSES] += 1
        off = pte_addr - RAM_BASE
        s[S_WALKS] += 1
        if off < 0 or off + 8 > ram_size:
            rec_walk(s, wk, step, gpa, level, pte_addr, 0, WALK_ACCESS, fault_acc, 1)
            s[S_TRAP_CAUSE] = access_fault_cause(fault_acc)
            return np.int64(-1), np.int64(0), np.int64(0)
        pte = ram_read(ram, off, 8)
        if (pte & PTE_V) == 0 or ((pte & PTE_R) == 0 and (pte & PTE_W) != 0) \
                or (pte >> 54) != 0:
            rec_walk(s, wk, step, gpa, level, pte_addr, pte, WALK_INVALID, fault_acc, 1)
            break
        if (pte & (PTE_R | PTE_X)) == 0:
            rec_walk(s, wk, step, gpa, level, pte_addr, pte, WALK_NEXT, fault_acc, 1)
            if level == 0:
                break
            if wc_on:
                wc_fill(tlb, wc_g_slot(level, gpa, vmid), wc_g_key(level, gpa, vmid), pte,
                        pte_addr, pte_addr)
            level -= 1
            a = ((pte >> 10) & PPN_MASK) << 12
            continue
        if not leaf_allows(pte, acc, hlvx, PRV_U, False, mxr):
            rec_walk(s, wk, step, gpa, level, pte_addr, pte, WALK_DENIED, fault_acc, 1)
            break
        ppn = (pte >> 10) & PPN_MASK
        if level > 0 and (ppn & ((1 << (9 * level)) - 1)) != 0:
            rec_walk(s, wk, step, gpa, level, pte_addr, pte, WALK_MISALIGNED, fault_acc, 1)
            break
        need = PTE_A | (PTE_D if acc == ACC_STORE else 0)
        if (pte & need) != need:
            if (csr[CSR_MENVCFG] & MENVCFG_ADUE) == 0:
                rec_walk(s, wk, step, gpa, level, pte_addr, pte, WALK_AD_FAULT, fault_acc, 1)
                break
            pte |= need
            ram_write(ram, off, 8, pte)
            if s[S_TRACE] & TRACE_WRITE:
                rec_write(s, wr, step, WRITE_PTE, pte_addr, pte, 8, pte_addr)
        rec_walk(s, wk, step, gpa, level, pte_addr, pte, WALK_LEAF, fault_acc, 1)
        if wc_on and pt_read:
            root = (hgatp & PPN_MASK & ~3) << 12
            wc_fill(tlb, wc_g_slot(3, gpa, vmid), wc_g_key(3, gpa, vmid), pte, pte_addr,
                    root | level)
        page_mask = (np.int64(1) << (12 + 9 * level)) - 1
        return ((ppn << 12) & ~page_mask) | (gpa & page_mask), pte, pte_addr
    s[S_TRAP_CAUSE] = guest_page_fault_cause(fault_acc)
    return np.int64(-1), np.int64(0), np.int64(0)


@njit(cache=True)
def walk(s, csr, ram, tlb, wk, wr, va, acc, mode, v, hlvx, fill, step):
    """Page walk for virtual address ``va``: Sv39 through satp when v=0; when v=1 the
    VS-stage through vsatp, every page-table address and the final guest physical address
    going through the G-stage. Returns the physical address, or -1 with S_TRAP_CAUSE and
    S_TRAP_TVAL (and S_TRAP_GPA for a guest-page fault) set. Records one walk row per PTE
    read, in order: a cold Sv39-over-Sv39x4 walk reads 3 x (3 + 1) + 3 = 15 PTEs. With
    ENV_WALK_CACHE, a non-leaf entry the page-walk cache holds is not read (a WALK_CACHED
    row instead) and, under V=1, neither is the G-stage walk of its address."""
    s[S_TLB_MISSES] += 1
    s[S_TRAP_TVAL] = va
    s[S_TRAP_TINST] = 0
    if v == 1:
        vsatp = csr[CSR_VSATP]
        if srl(vsatp, 60) != SATP_MODE_SV39:  # VS-stage Bare: va is a guest physical address
            pa, gpte, gpte_addr = g_walk(s, csr, ram, tlb, wk, wr, va, acc, hlvx, acc, False,
                                         step)
            if pa < 0:
                return -1
            if fill:
                tlb_fill(tlb, acc, va, pa, gpte & 0xFF, tlb_key(va >> 12, tlb_ctx(csr, mode, v)))
            return pa
        root = vsatp
        status = csr[CSR_VSSTATUS]
        mxr = (status & MSTATUS_MXR) != 0 or (csr[CSR_MSTATUS] & MSTATUS_MXR) != 0
        adue = (csr[CSR_HENVCFG] & csr[CSR_MENVCFG] & MENVCFG_ADUE) != 0
    else:
        root = csr[CSR_SATP]
        status = csr[CSR_MSTATUS]
        mxr = (status & MSTATUS_MXR) != 0
        adue = (csr[CSR_MENVCFG] & MENVCFG_ADUE) != 0
    if (va >> 38) != 0 and (va >> 38) != -1:  # bits 63..39 must all equal bit 38
        s[S_TRAP_CAUSE] = page_fault_cause(acc)
        return -1
    ram_size = ram.shape[0]
    a = (root & PPN_MASK) << 12
    level = 2
    sum_ = (status & MSTATUS_SUM) != 0
    wc_on = (s[S_ENV_FLAGS] & ENV_WALK_CACHE) != 0
    ctx = tlb_ctx(csr, mode, v) if wc_on else np.int64(0)
    while True:
        vpn_i = (va >> (12 + 9 * level)) & 0x1FF
        pte_addr = a + vpn_i * 8  # with v=1 a guest physical address: translate it
        table_addr = pte_addr
        if wc_on and level > 0:
            slot = wc_vs_slot(level, va, ctx)
            if tlb[WC, WC_KEY, slot] == wc_vs_key(level, va, ctx) \
                    and tlb[WC, WC_TABLE, slot] == table_addr:
                s[S_WC_HITS] += 1
                pte = tlb[WC, WC_PTE, slot]
                rec_walk(s, wk, step, va, level, tlb[WC, WC_PTE_ADDR, slot], pte, WALK_CACHED,
                         acc, 0)
                level -= 1
                a = ((pte >> 10) & PPN_MASK) << 12
                continue
            s[S_WC_MISSES] += 1
        g_pte = np.int64(-1)
        g_pte_addr = np.int64(-1)
        if v == 1:
            pte_addr, g_pte, g_pte_addr = g_walk(s, csr, ram, tlb, wk, wr, pte_addr, ACC_LOAD,
                                                 False, acc, True, step)
            if pte_addr < 0:
                s[S_TRAP_TINST] = TINST_VS_READ  # the spec requires it: "zero is not allowed"
                return -1
        off = pte_addr - RAM_BASE
        s[S_WALKS] += 1
        if off < 0 or off + 8 > ram_size:
            rec_walk(s, wk, step, va, level, pte_addr, 0, WALK_ACCESS, acc, 0)
            s[S_TRAP_CAUSE] = access_fault_cause(acc)
            return -1
        pte = ram_read(ram, off, 8)
        if (pte & PTE_V) == 0 or ((pte & PTE_R) == 0 and (pte & PTE_W) != 0) \
                or (pte >> 54) != 0:
            rec_walk(s, wk, step, va, level, pte_addr, pte, WALK_INVALID, acc, 0)
            break
        if (pte & (PTE_R | PTE_X)) == 0:  # pointer to the next level
            rec_walk(s, wk, step, va, level, pte_addr, pte, WALK_NEXT, acc, 0)
            if level == 0:
                break
            if wc_on:
                wc_fill(tlb, wc_vs_slot(level, va, ctx), wc_vs_key(level, va, ctx), pte,
                        pte_addr, table_addr)
            level -= 1
            a = ((pte >> 10) & PPN_MASK) << 12
            continue
        if not leaf_allows(pte, acc, hlvx, mode, sum_, mxr):
            rec_walk(s, wk, step, va, level, pte_addr, pte, WALK_DENIED, acc, 0)
            break
        ppn = (pte >> 10) & PPN_MASK
        if level > 0 and (ppn & ((1 << (9 * level)) - 1)) != 0:
            rec_walk(s, wk, step, va, level, pte_addr, pte, WALK_MISALIGNED, acc, 0)
            break
        need = PTE_A | (PTE_D if acc == ACC_STORE else 0)
        if (pte & need) != need:
            if not adue:
                rec_walk(s, wk, step, va, level, pte_addr, pte, WALK_AD_FAULT, acc, 0)
                break
            if v == 1 and g_pte >= 0:
                if wc_on:  # the nested TLB's copy may lack a D bit set since: read it again
                    g_pte = ram_read(ram, g_pte_addr - RAM_BASE, 8)
                # the A/D update is a store to guest memory: the G-stage must allow it
                if (g_pte & PTE_W) == 0:
                    s[S_TRAP_CAUSE] = guest_page_fault_cause(acc)
                    s[S_TRAP_GPA] = a + vpn_i * 8
                    s[S_TRAP_TINST] = TINST_VS_WRITE
                    return -1
                if (g_pte & PTE_D) == 0:
                    if (csr[CSR_MENVCFG] & MENVCFG_ADUE) == 0:
                        s[S_TRAP_CAUSE] = guest_page_fault_cause(acc)
                        s[S_TRAP_GPA] = a + vpn_i * 8
                        s[S_TRAP_TINST] = TINST_VS_WRITE
                        return -1
                    g_pte |= PTE_A | PTE_D
                    ram_write(ram, g_pte_addr - RAM_BASE, 8, g_pte)
                    if s[S_TRACE] & TRACE_WRITE:
                        rec_write(s, wr, step, WRITE_PTE, g_pte_addr, g_pte, 8, g_pte_addr)
            pte |= need  # hardware A/D update, written back to the table
            ram_write(ram, off, 8, pte)
            if s[S_TRACE] & TRACE_WRITE:
                rec_write(s, wr, step, WRITE_PTE, pte_addr, pte, 8, pte_addr)
        rec_walk(s, wk, step, va, level, pte_addr, pte, WALK_LEAF, acc, 0)
        page_mask = (np.int64(1) << (12 + 9 * level)) - 1
        pa = ((ppn << 12) & ~page_mask) | (va & page_mask)
        flags = (pte & 0xFF) | (level << 8)
        if v == 1:  # the guest physical address goes through the G-stage too
            pa, gpte, gpte_addr = g_walk(s, csr, ram, tlb, wk, wr, pa, acc, hlvx, acc, False,
                                         step)
            if pa < 0:
                return -1
        if fill:  # this access kind's TLB (a store entry only once D is set)
            tlb_fill(tlb, acc, va, pa, flags, tlb_key(va >> 12, tlb_ctx(csr, mode, v)))
        return pa
    s[S_TRAP_CAUSE] = page_fault_cause(acc)
    return -1


@njit(cache=True)
def translating(csr, mode, v):
    if mode == PRV_M:
        return False
    if v == 0:
        return srl(csr[CSR_SATP], 60) == SATP_MODE_SV39
    return srl(csr[CSR_VSATP], 60) == SATP_MODE_SV39 \
        or srl(csr[CSR_HGATP], 60) == HGATP_MODE_SV39X4


@njit(cache=True)
def translate(s, csr, ram, tlb, wk, wr, va, acc, step):
    """Virtual to physical for one access: TLB first, walk on a miss. -1 on a fault."""
    mode = effective_mode(s, csr, acc)
    v = effective_v(s, csr, acc)
    if not translating(csr, mode, v):
        if va < 0:  # bit 63 set: no physical address is that large (and -1 means a fault)
            s[S_TRAP_CAUSE] = access_fault_cause(acc)
            s[S_TRAP_TVAL] = va
            return -1
        return va
    s[S_TLB_LOOKUPS] += 1
    vpn = va >> 12
    ctx = tlb_ctx(csr, mode, v)
    idx = (vpn ^ tlb_hash(ctx)) & (TLB_SIZE - 1)
    key = tlb_key(vpn, ctx)
    if tlb[acc, TLB_KEY, idx] == key and canonical(va):
        return tlb[acc, TLB_PAGE, idx] | (va & 0xFFF)
    return walk(s, csr, ram, tlb, wk, wr, va, acc, mode, v, False, True, step)


@njit(cache=True)
def translate_hlv(s, csr, ram, tlb, wk, wr, va, acc, hlvx, step):
    """HLV/HLVX/HSV: translate as the guest would (V=1, privilege hstatus.SPVP). HLV and
    HSV are ordinary guest accesses and use (and fill) the TLB like the guest's own; HLVX
    checks execute permission instead of read, so it always walks and caches nothing."""
    mode = PRV_S if csr[CSR_HSTATUS] & HSTATUS_SPVP else PRV_U
    if not translating(csr, mode, 1):
        if va < 0:
            s[S_TRAP_CAUSE] = access_fault_cause(acc)
            s[S_TRAP_TVAL] = va
            return -1
        return va
    if not hlvx:
        s[S_TLB_LOOKUPS] += 1
        vpn = va >> 12
        ctx = tlb_ctx(csr, mode, 1)
        idx = (vpn ^ tlb_hash(ctx)) & (TLB_SIZE - 1)
        if tlb[acc, TLB_KEY, idx] == tlb_key(vpn, ctx) and canonical(va):
            return tlb[acc, TLB_PAGE, idx] | (va & 0xFFF)
    return walk(s, csr, ram, tlb, wk, wr, va, acc, mode, 1, hlvx, not hlvx, step)


@njit(cache=True)
def tlb_flush(tlb, va, asid, all_va, all_asid, v, vmid, all_vmid, g_stage):
    """sfence.vma (v=0: HS's own translations), hfence.vvma and sfence.vma with V=1 (v=1:
    the guest translations of VMID ``vmid``), hfence.gvma (v=1 and ``g_stage``, va
    ignored: a combined entry does not remember its guest physical address, so every entry
    of the VMID goes). Global entries survive an ASID-only flush. The page-walk caches
    follow the same rules (their global entries go too); hfence.gvma also empties the
    VMID's G-stage entries and nested TLB."""
    wc_flush(tlb, va, asid, all_va, all_asid, v, vmid, all_vmid, g_stage)
    for k in range(3):
        for i in range(TLB_SIZE):
            key = tlb[k, TLB_KEY, i]
            if key == 0:
                continue
            raw = key - 1
            if ((raw >> 4) & 1) != v:
                continue
            if v == 1 and not all_vmid \
                    and ((raw >> CTX_VMID_SHIFT) & ((1 << VMID_BITS) - 1)) != vmid:
                continue
            e_vpn = (raw >> CTX_VPN_SHIFT) & ((1 << 27) - 1)
            e_asid = (raw >> CTX_ASID_SHIFT) & 0xFFFF
            # an entry cut from a superpage stands for its leaf PTE: compare the VPN bits
            # above the superpage's offset (level in bits 8-9 of the flags)
            sh = 9 * ((tlb[k, TLB_FLAGS, i] >> 8) & 3)
            hit_va = all_va or (e_vpn >> sh) == (((va >> 12) & ((1 << 27) - 1)) >> sh)
            hit_asid = all_asid or (e_asid == asid and (tlb[k, TLB_FLAGS, i] & PTE_G) == 0)
            if hit_va and hit_asid:
                tlb[k, TLB_KEY, i] = 0


@njit(cache=True)
def wc_flush(tlb, va, asid, all_va, all_asid, v, vmid, all_vmid, g_stage):
    """The page-walk caches' part of tlb_flush. A VS-stage entry at level L goes when the
    fence's address lies in the region it maps (VA bits above L), whatever its G bit."""
    for i in range(WC_G2_BASE):
        key = tlb[WC, WC_KEY, i]
        if key == 0:
            continue
        raw = key - 1
        if ((raw >> 4) & 1) != v:
            continue
        if v == 1 and not all_vmid \
                and ((raw >> CTX_VMID_SHIFT) & ((1 << VMID_BITS) - 1)) != vmid:
            continue
        level = (raw >> 36) & 3
        prefix = raw >> 40
        hit_va = all_va or prefix == ((va >> (12 + 9 * level))
                                      & ((np.int64(1) << (27 - 9 * level)) - 1))
        hit_asid = all_asid or ((raw >> CTX_ASID_SHIFT) & 0xFFFF) == asid
        if hit_va and hit_asid:
            tlb[WC, WC_KEY, i] = 0
    if g_stage:
        for i in range(WC_G2_BASE, WC_SLOTS):
            key = tlb[WC, WC_KEY, i]
            if key != 0 and (all_vmid or (((key - 1) >> 4) & ((1 << VMID_BITS) - 1)) == vmid):
                tlb[WC, WC_KEY, i] = 0


# ---------------------------------------------------------------------------------------
# Physical memory: RAM and the CLINT live here; everything else exits to Python
# ---------------------------------------------------------------------------------------
@njit(cache=True)
def ram_read(ram, off, size):
    """Little-endian load of 1, 2, 4 or 8 bytes (unsigned). Written byte by byte: LLVM
    combines the bytes into one load, and no temporary array view is created."""
    v = np.int64(ram[off])
    if size >= 2:
        v |= np.int64(ram[off + 1]) << 8
        if size >= 4:
            v |= (np.int64(ram[off + 2]) << 16) | (np.int64(ram[off + 3]) << 24)
            if size == 8:
                v |= (np.int64(ram[off + 4]) << 32) | (np.int64(ram[off + 5]) << 40) \
                    | (np.int64(ram[off + 6]) << 48) | (np.int64(ram[off + 7]) << 56)
    return v


@njit(cache=True)
def ram_write(ram, off, size, v):
    ram[off] = np.uint8(v & 0xFF)
    if size >= 2:
        ram[off + 1] = np.uint8((v >> 8) & 0xFF)
        if size >= 4:
            ram[off + 2] = np.uint8((v >> 16) & 0xFF)
            ram[off + 3] = np.uint8((v >> 24) & 0xFF)
            if size == 8:
                ram[off + 4] = np.uint8((v >> 32) & 0xFF)
                ram[off + 5] = np.uint8((v >> 40) & 0xFF)
                ram[off + 6] = np.uint8((v >> 48) & 0xFF)
                ram[off + 7] = np.uint8((v >> 56) & 0xFF)


@njit(cache=True)
def clint_access(s, io, pa, size, write, v, step):
    """CLINT (msip, mtimecmp, mtime). Returns the loaded value (stores return 0)."""
    off = pa - CLINT_BASE
    result = np.int64(0)
    if off < 0x4000:
        if off < 4:
            if write:
                s[S_MSIP] = v & 1
            else:
                result = s[S_MSIP]
    elif off < 0xBFF8:
        if off < 0x4008:
            shift = (off - 0x4000) * 8
            if write:
                if size == 8:
                    s[S_MTIMECMP] = v
                else:
                    m = ((np.int64(1) << (8 * size)) - 1) << shift
                    s[S_MTIMECMP] = (s[S_MTIMECMP] & ~m) | ((v << shift) & m)
            else:
                result = srl(s[S_MTIMECMP], shift)
    elif off < 0xC000:
        shift = (off - 0xBFF8) * 8
        now = mtime_at(s, step)
        if write:
            if size == 8:
                new = v
            else:
                m = ((np.int64(1) << (8 * size)) - 1) << shift
                new = (now & ~m) | ((v << shift) & m)
            s[S_TIME_OFF] = new * s[S_TIME_DIV] - step
        else:
            result = srl(now, shift)
    if size < 8:
        result &= (np.int64(1) << (8 * size)) - 1
    s[S_CLINT_STORE] = 1
    rec_io(s, io, step, DEV_CLINT, off, 1 if write else 0, v if write else result, size)
    return result


@njit(cache=True)
def phys_load(s, ram, io, pa, size, step):
    """Load from a physical address. Returns (value, status): 0 ok, 1 access fault,
    2 exit to Python for an MMIO device (S_EXIT filled)."""
    off = pa - RAM_BASE
    if off >= 0 and off + size <= ram.shape[0]:
        return ram_read(ram, off, size), 0
    if pa & (size - 1):
        return np.int64(0), 1
    if CLINT_BASE <= pa < CLINT_BASE + CLINT_SIZE:
        return clint_access(s, io, pa, size, False, 0, step), 0
    if s[S_MMIO_DONE] == 1 and s[S_MMIO_ADDR] == pa and s[S_MMIO_WRITE] == 0:
        s[S_MMIO_DONE] = 0
        return s[S_MMIO_DATA], 0
    s[S_EXIT] = EXIT_MMIO
    s[S_MMIO_ADDR] = pa
    s[S_MMIO_SIZE] = size
    s[S_MMIO_WRITE] = 0
    s[S_MMIO_DATA] = 0
    return np.int64(0), 2


@njit(cache=True)
def phys_store(s, ram, io, pa, size, v, step):
    """Store to a physical address. Status as for phys_load."""
    off = pa - RAM_BASE
    if off >= 0 and off + size <= ram.shape[0]:
        ram_write(ram, off, size, v)
        return 0
    if pa & (size - 1):
        return 1
    if CLINT_BASE <= pa < CLINT_BASE + CLINT_SIZE:
        clint_access(s, io, pa, size, True, v, step)
        return 0
    if s[S_MMIO_DONE] == 1 and s[S_MMIO_ADDR] == pa and s[S_MMIO_WRITE] == 1:
        s[S_MMIO_DONE] = 0
        return 0
    s[S_EXIT] = EXIT_MMIO
    s[S_MMIO_ADDR] = pa
    s[S_MMIO_SIZE] = size
    s[S_MMIO_WRITE] = 1
    s[S_MMIO_DATA] = v
    return 2


@njit(cache=True)
def load_slow(s, csr, ram, tlb, wk, wr, io, va, size, step):
    """A load the fast path could not do: translated, misaligned, MMIO or faulting.
    Returns (value, status): 0 ok, 1 exception (S_TRAP_*), 2 exit."""
    if (va & (size - 1)) == 0:
        pa = translate(s, csr, ram, tlb, wk, wr, va, ACC_LOAD, step)
        if pa < 0:
            return np.int64(0), 1
        v, st = phys_load(s, ram, io, pa, size, step)
        if st == 1:
            s[S_TRAP_CAUSE] = EXC_LOAD_ACCESS
            s[S_TRAP_TVAL] = va
        elif st == 2:
            s[S_EXIT_B] = va
        return v, st
    # misaligned: done byte by byte in hardware, every byte translated (it may span pages)
    v = np.int64(0)
    for i in range(size):
        pa = translate(s, csr, ram, tlb, wk, wr, va + i, ACC_LOAD, step)
        if pa < 0:  # stval = the address of the part that faulted (translate set va + i)
            return np.int64(0), 1
        off = pa - RAM_BASE
        if off < 0 or off >= ram.shape[0]:
            s[S_TRAP_CAUSE] = EXC_LOAD_ACCESS
            s[S_TRAP_TVAL] = va + i
            return np.int64(0), 1
        v |= np.int64(ram[off]) << (8 * i)
    return v, 0


@njit(cache=True)
def store_slow(s, csr, ram, tlb, wk, wr, io, va, size, v, step):
    """A store the fast path could not do. Returns the status as load_slow; for a RAM
    store also sets S_EXIT_C to the physical address of its first byte."""
    if (va & (size - 1)) == 0:
        pa = translate(s, csr, ram, tlb, wk, wr, va, ACC_STORE, step)
        if pa < 0:
            return 1
        st = phys_store(s, ram, io, pa, size, v, step)
        if st == 1:
            s[S_TRAP_CAUSE] = EXC_STORE_ACCESS
            s[S_TRAP_TVAL] = va
        elif st == 2:
            s[S_EXIT_B] = va
        s[S_EXIT_C] = pa
        return st
    # misaligned: translate and check every byte before writing any of them
    first = np.int64(-1)
    for i in range(size):
        pa = translate(s, csr, ram, tlb, wk, wr, va + i, ACC_STORE, step)
        if pa < 0:  # stval = the address of the part that faulted (translate set va + i)
            return 1
        off = pa - RAM_BASE
        if off < 0 or off >= ram.shape[0]:
            s[S_TRAP_CAUSE] = EXC_STORE_ACCESS
            s[S_TRAP_TVAL] = va + i
            return 1
        if i == 0:
            first = pa
    for i in range(size):
        pa = translate(s, csr, ram, tlb, wk, wr, va + i, ACC_STORE, step)
        ram[pa - RAM_BASE] = np.uint8((v >> (8 * i)) & 0xFF)
    s[S_EXIT_C] = first
    return 0


@njit(cache=True)
def amo_op(f5, old, src, size):
    if size == 4:
        old = sext32(old)
        src = sext32(src)
    if f5 == 0x01:  # amoswap
        return src
    if f5 == 0x00:
        return old + src
    if f5 == 0x04:
        return old ^ src
    if f5 == 0x0C:
        return old & src
    if f5 == 0x08:
        return old | src
    if f5 == 0x10:
        return min(old, src)
    if f5 == 0x14:
        return max(old, src)
    if size == 4:
        uo = old & _M32
        us = src & _M32
    else:
        uo = old
        us = src
    if f5 == 0x18:
        return src if ltu(us, uo) else old
    return old if ltu(us, uo) else src  # 0x1C amomaxu


# ---------------------------------------------------------------------------------------
# The run loop
# ---------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def run(s, x, csr, ram, r16, r32, r64, tlb, rvc, bps, st_pc, st_insn, st_mode, wr, tr, wk, io,
        sm, budget):
    """Execute up to ``budget`` steps. Returns the exit reason (also in s[S_EXIT]).

    It releases the GIL (it touches only its arrays), so a thread streaming a trace to
    disk compresses and writes while the hart runs.

    ``r16``, ``r32`` and ``r64`` are views of ``ram``: the fast paths read aligned values
    with one indexed load. Their indexes are cast to uint64 once proven in range, which
    spares numba's negative-index wraparound code on every access."""
    pc = s[S_PC]
    instret = s[S_INSTRET]
    end = instret + budget
    trace = s[S_TRACE]
    t_step = (trace & TRACE_STEP) != 0
    t_write = (trace & TRACE_WRITE) != 0
    t_var = (trace & (TRACE_WRITE | TRACE_TRAP | TRACE_WALK | TRACE_IO)) != 0
    t_sample = (trace & TRACE_SAMPLE) != 0 and s[S_SAMPLE_EVERY] > 0
    ram_size = ram.shape[0]
    nbp = bps.shape[0]
    s[S_EXIT] = EXIT_NONE
    # an MMIO answer must reach its instruction before any interrupt is taken
    check_at = instret + 1 if s[S_MMIO_DONE] == 1 else instret
    # fetch fast path: the virtual page last fetched from and its offset in RAM
    f_page = NO_PAGE
    f_off = np.int64(0)
    f_xlate = np.int64(0)  # 1 when that page came through the TLB: each fetch is a lookup
    # load/store fast path state, recomputed whenever mode, satp or mstatus may change
    ctx_valid = False
    cur_mode = s[S_MODE]  # the mode instructions execute in (refreshed with the context)
    l_xlate = False
    s_xlate = False
    l_ctx = np.int64(0)
    s_ctx = np.int64(0)
    l_hash = np.int64(0)  # where this context's entries sit in the TLB (loads and stores)
    tohost = s[S_TOHOST]
    reason = EXIT_NONE
    tlb_hits = np.int64(0)  # fast-path TLB hits, added to S_TLB_LOOKUPS on the way out
    while True:
        if instret >= check_at:
            s[S_PC] = pc
            s[S_INSTRET] = instret
            # first of all, before anything can happen at this step: a sample row holds
            # the totals of every event at the steps before it
            if t_sample and instret >= s[S_NEXT_SAMPLE]:
                n = s[S_N_SAMPLE]
                if n >= sm.shape[0]:
                    reason = EXIT_BUFFER
                    break
                sm[n, 0] = instret
                sm[n, 1] = s[S_TRAPS]
                sm[n, 2] = s[S_TLB_LOOKUPS] + tlb_hits
                sm[n, 3] = s[S_TLB_MISSES]
                sm[n, 4] = s[S_WALKS]
                s[S_N_SAMPLE] = n + 1
                every = s[S_SAMPLE_EVERY]
                s[S_NEXT_SAMPLE] = instret - instret % every + every
            if instret >= end:
                reason = EXIT_BUDGET
                break
            if t_step and s[S_N_STEP] >= st_pc.shape[0]:
                reason = EXIT_BUFFER
                break
            # traps retire nothing, so a trap storm only passes here: drain before rows drop
            if t_var and (s[S_N_WRITE] > wr.shape[0] - MARGIN
                          or s[S_N_TRAP] > tr.shape[0] - MARGIN
                          or s[S_N_WALK] > wk.shape[0] - MARGIN
                          or s[S_N_IO] > io.shape[0] - MARGIN):
                reason = EXIT_BUFFER
                break
            irq = interrupt_to_take(s, csr, instret)
            if irq >= 0:
                if not take_trap(s, csr, tr, irq, 0, True, pc, instret):
                    reason = EXIT_HOST_TRAP
                    break
                end -= 1  # like an exception, an interrupt costs a step of budget
                pc = s[S_PC]
                f_page = NO_PAGE
                ctx_valid = False
                continue  # check again: that step may have been the budget's last
            check_at = min(end, timer_deadline(s, csr, instret))
            if t_step:
                check_at = min(check_at, instret + st_pc.shape[0] - s[S_N_STEP])
            if t_sample:
                check_at = min(check_at, s[S_NEXT_SAMPLE])
        if nbp > 0:
            hit = False
            for i in range(nbp):
                if bps[i] == pc:
                    hit = True
            if hit and s[S_BP_SKIP] != pc:
                s[S_PC] = pc
                s[S_INSTRET] = instret
                reason = EXIT_BREAKPOINT
                break
            s[S_BP_SKIP] = -1
        if not ctx_valid:
            lm = effective_mode(s, csr, ACC_LOAD)
            lv = effective_v(s, csr, ACC_LOAD)
            l_xlate = translating(csr, lm, lv)
            s_xlate = l_xlate
            l_ctx = tlb_ctx(csr, lm, lv)
            s_ctx = l_ctx
            l_hash = tlb_hash(l_ctx)
            ctx_valid = True
            # what the step rows record (4 | mode for VS and VU): xRET change S_MODE early
            cur_mode = s[S_MODE] | (s[S_V] << 2)

        # ---- fetch -------------------------------------------------------------------
        exc = -1
        tval = np.int64(0)
        if (pc >> 12) == f_page:
            off = f_off + (pc & 0xFFF)
            tlb_hits += f_xlate
        else:
            lookups = s[S_TLB_LOOKUPS]
            pa = translate(s, csr, ram, tlb, wk, wr, pc, ACC_FETCH, instret)
            f_xlate = s[S_TLB_LOOKUPS] - lookups
            if pa < 0:
                exc = s[S_TRAP_CAUSE]
                tval = s[S_TRAP_TVAL]
                off = 0
            else:
                off = pa - RAM_BASE
                if off < 0 or off >= ram_size:
                    exc = EXC_FETCH_ACCESS
                    tval = pc
                else:
                    f_page = pc >> 12
                    f_off = off - (pc & 0xFFF)
        insn = np.int64(0)
        raw = np.int64(0)
        ilen = 4
        if exc < 0:
            lo = np.int64(r16[np.uint64(off >> 1)])
            if (lo & 3) != 3:
                raw = lo
                insn = np.int64(rvc[np.uint64(lo)])
                ilen = 2
                if insn == 0:
                    exc = EXC_ILLEGAL
                    tval = lo
            elif (pc & 0xFFF) != 0xFFE:
                if off & 3:
                    insn = lo | (np.int64(r16[np.uint64((off >> 1) + 1)]) << 16)
                else:
                    insn = np.int64(r32[np.uint64(off >> 2)])
                raw = insn
            else:  # the instruction's upper half is on the next page
                pa2 = translate(s, csr, ram, tlb, wk, wr, pc + 2, ACC_FETCH, instret)
                if pa2 < 0:
                    exc = s[S_TRAP_CAUSE]
                    tval = pc + 2
                else:
                    off2 = pa2 - RAM_BASE
                    if off2 < 0 or off2 + 2 > ram_size:
                        exc = EXC_FETCH_ACCESS
                        tval = pc + 2
                    else:
                        insn = lo | (np.int64(ram[off2]) << 16) | (np.int64(ram[off2 + 1]) << 24)
                        raw = insn
                f_page = NO_PAGE

        # ---- execute -------------------------------------------------------------------
        npc = pc + ilen
        rd = (insn >> 7) & 31
        wb = False  # write `val` to rd at the single write-back point
        val = np.int64(0)
        if exc >= 0:
            pass
        else:
            op = insn & 0x7F
            f3 = (insn >> 12) & 7
            rs1 = (insn >> 15) & 31
            rs2 = (insn >> 20) & 31
            a = x[rs1]
            if op == 0x13:  # OP-IMM
                imm = sext32(insn) >> 20
                wb = True
                if f3 == 0:
                    val = a + imm
                elif f3 == 2:
                    val = 1 if a < imm else 0
                elif f3 == 3:
                    val = 1 if ltu(a, imm) else 0
                elif f3 == 4:
                    val = a ^ imm
                elif f3 == 6:
                    val = a | imm
                elif f3 == 7:
                    val = a & imm
                elif f3 == 1:
                    if (insn >> 26) != 0:
                        exc = EXC_ILLEGAL
                    val = a << (imm & 63)
                else:
                    f6 = (insn >> 26) & 0x3F
                    if f6 == 0:
                        val = srl(a, imm & 63)
                    elif f6 == 0x10:
                        val = a >> (imm & 63)
                    else:
                        exc = EXC_ILLEGAL
            elif op == 0x33:  # OP
                b = x[rs2]
                f7 = (insn >> 25) & 0x7F
                wb = True
                if f7 == 0:
                    if f3 == 0:
                        val = a + b
                    elif f3 == 1:
                        val = a << (b & 63)
                    elif f3 == 2:
                        val = 1 if a < b else 0
                    elif f3 == 3:
                        val = 1 if ltu(a, b) else 0
                    elif f3 == 4:
                        val = a ^ b
                    elif f3 == 5:
                        val = srl(a, b & 63)
                    elif f3 == 6:
                        val = a | b
                    else:
                        val = a & b
                elif f7 == 0x20:
                    if f3 == 0:
                        val = a - b
                    elif f3 == 5:
                        val = a >> (b & 63)
                    else:
                        exc = EXC_ILLEGAL
                elif f7 == 1:
                    if f3 == 0:
                        val = a * b
                    elif f3 == 1:
                        val = mulh(a, b)
                    elif f3 == 2:
                        val = mulhsu(a, b)
                    elif f3 == 3:
                        val = mulhu(a, b)
                    elif f3 == 4:
                        val = div_s(a, b)
                    elif f3 == 5:
                        val = div_u(a, b)
                    elif f3 == 6:
                        val = rem_s(a, b)
                    else:
                        val = rem_u(a, b)
                else:
                    exc = EXC_ILLEGAL
            elif op == 0x03 or op == 0x23:  # LOAD / STORE
                if op == 0x03:
                    imm = sext32(insn) >> 20
                else:
                    imm = ((sext32(insn) >> 25) << 5) | ((insn >> 7) & 31)
                va = a + imm
                size = 1 << (f3 & 3)
                if op == 0x03:
                    if f3 == 7:
                        exc = EXC_ILLEGAL
                    else:
                        if l_xlate:
                            vpn = va >> 12
                            idx = (vpn ^ l_hash) & (TLB_SIZE - 1)
                            key = tlb_key(vpn, l_ctx)
                            if tlb[ACC_LOAD, TLB_KEY, idx] == key and canonical(va):
                                pa = tlb[ACC_LOAD, TLB_PAGE, idx] | (va & 0xFFF)
                                tlb_hits += 1
                            else:
                                pa = -1
                        else:
                            pa = va
                        poff = pa - RAM_BASE  # negative for a TLB miss (pa = -1) too
                        if poff >= 0 and poff + size <= ram_size \
                                and (va & (size - 1)) == 0:
                            if size == 4:
                                v = np.int64(r32[np.uint64(poff >> 2)])
                            elif size == 8:
                                v = r64[np.uint64(poff >> 3)]
                            elif size == 1:
                                v = np.int64(ram[np.uint64(poff)])
                            else:
                                v = np.int64(r16[np.uint64(poff >> 1)])
                        else:
                            v, status = load_slow(s, csr, ram, tlb, wk, wr, io, va, size,
                                                  instret)
                            if status == 1:
                                exc = s[S_TRAP_CAUSE]
                                tval = s[S_TRAP_TVAL]
                            elif status == 2:
                                s[S_PC] = pc
                                s[S_INSTRET] = instret
                                reason = EXIT_MMIO
                                break
                        if exc < 0:
                            if f3 == 0:
                                v = ((v & 0xFF) ^ 0x80) - 0x80
                            elif f3 == 1:
                                v = ((v & 0xFFFF) ^ 0x8000) - 0x8000
                            elif f3 == 2:
                                v = sext32(v)
                            val = v
                            wb = True
                else:
                    if f3 > 3:
                        exc = EXC_ILLEGAL
                    else:
                        b = x[rs2]
                        if s_xlate:
                            vpn = va >> 12
                            idx = (vpn ^ l_hash) & (TLB_SIZE - 1)
                            key = tlb_key(vpn, s_ctx)
                            if tlb[ACC_STORE, TLB_KEY, idx] == key and canonical(va):
                                pa = tlb[ACC_STORE, TLB_PAGE, idx] | (va & 0xFFF)
                                tlb_hits += 1
                            else:
                                pa = -1
                        else:
                            pa = va
                        poff = pa - RAM_BASE
                        if poff >= 0 and poff + size <= ram_size \
                                and (va & (size - 1)) == 0:
                            if size == 4:
                                r32[np.uint64(poff >> 2)] = np.uint32(b & _M32)
                            elif size == 8:
                                r64[np.uint64(poff >> 3)] = b
                            elif size == 1:
                                ram[np.uint64(poff)] = np.uint8(b & 0xFF)
                            else:
                                r16[np.uint64(poff >> 1)] = np.uint16(b & 0xFFFF)
                        else:
                            s[S_CLINT_STORE] = 0
                            status = store_slow(s, csr, ram, tlb, wk, wr, io, va, size, b,
                                                instret)
                            if status == 1:
                                exc = s[S_TRAP_CAUSE]
                                tval = s[S_TRAP_TVAL]
                            elif status == 2:
                                s[S_PC] = pc
                                s[S_INSTRET] = instret
                                reason = EXIT_MMIO
                                break
                            else:
                                pa = s[S_EXIT_C]
                                if s[S_CLINT_STORE]:
                                    check_at = instret + 1  # mtimecmp or msip may have changed
                        if exc < 0:
                            if size < 8:
                                b &= (np.int64(1) << (8 * size)) - 1
                            if t_write:
                                rec_write(s, wr, instret, WRITE_MEM, va, b, size, pa)
                            if tohost >= 0 and pa - tohost < 8 and tohost - pa < size:
                                # HTIF: the host looks at tohost after this store retires
                                s[S_EXIT_A] = pa
                                reason = EXIT_HTIF
            elif op == 0x63:  # BRANCH
                b = x[rs2]
                if f3 == 0:
                    taken = a == b
                elif f3 == 1:
                    taken = a != b
                elif f3 == 4:
                    taken = a < b
                elif f3 == 5:
                    taken = a >= b
                elif f3 == 6:
                    taken = ltu(a, b)
                elif f3 == 7:
                    taken = not ltu(a, b)
                else:
                    taken = False
                    exc = EXC_ILLEGAL
                if taken:
                    imm = ((sext32(insn) >> 31) << 12) | (((insn >> 7) & 1) << 11) \
                        | (((insn >> 25) & 0x3F) << 5) | (((insn >> 8) & 0xF) << 1)
                    npc = pc + imm
            elif op == 0x3B:  # OP-32
                b = x[rs2]
                f7 = (insn >> 25) & 0x7F
                wb = True
                if f7 == 0:
                    if f3 == 0:
                        val = sext32(a + b)
                    elif f3 == 1:
                        val = sext32(a << (b & 31))
                    elif f3 == 5:
                        val = sext32(srl(a & _M32, b & 31))
                    else:
                        exc = EXC_ILLEGAL
                elif f7 == 0x20:
                    if f3 == 0:
                        val = sext32(a - b)
                    elif f3 == 5:
                        val = sext32(a) >> (b & 31)
                    else:
                        exc = EXC_ILLEGAL
                elif f7 == 1:
                    a32 = sext32(a)
                    b32 = sext32(b)
                    if f3 == 0:
                        val = sext32(a32 * b32)
                    elif f3 == 4:
                        val = sext32(div_s(a32, b32)) if not (a32 == -(1 << 31) and b32 == -1) \
                            else a32
                    elif f3 == 5:
                        val = sext32(div_u(a & _M32, b & _M32)) if (b & _M32) != 0 else -1
                    elif f3 == 6:
                        val = sext32(rem_s(a32, b32)) if not (a32 == -(1 << 31) and b32 == -1) \
                            else 0
                    elif f3 == 7:
                        val = sext32(rem_u(a & _M32, b & _M32)) if (b & _M32) != 0 else a32
                    else:
                        exc = EXC_ILLEGAL
                else:
                    exc = EXC_ILLEGAL
            elif op == 0x1B:  # OP-IMM-32
                imm = sext32(insn) >> 20
                wb = True
                if f3 == 0:
                    val = sext32(a + imm)
                elif f3 == 1:
                    if (insn >> 25) != 0:
                        exc = EXC_ILLEGAL
                    val = sext32(a << (imm & 31))
                elif f3 == 5:
                    f7 = (insn >> 25) & 0x7F
                    if f7 == 0:
                        val = sext32(srl(a & _M32, imm & 31))
                    elif f7 == 0x20:
                        val = sext32(a) >> (imm & 31)
                    else:
                        exc = EXC_ILLEGAL
                else:
                    exc = EXC_ILLEGAL
            elif op == 0x37:  # LUI
                val = sext32(insn & ~0xFFF)
                wb = True
            elif op == 0x17:  # AUIPC
                val = pc + sext32(insn & ~0xFFF)
                wb = True
            elif op == 0x6F:  # JAL
                imm = ((sext32(insn) >> 31) << 20) | (((insn >> 12) & 0xFF) << 12) \
                    | (((insn >> 20) & 1) << 11) | (((insn >> 21) & 0x3FF) << 1)
                val = pc + ilen
                wb = True
                npc = pc + imm
            elif op == 0x67:  # JALR
                if f3 != 0:
                    exc = EXC_ILLEGAL
                else:
                    npc = (a + (sext32(insn) >> 20)) & ~1
                    val = pc + ilen
                    wb = True
            elif op == 0x73 or op == 0x0F or op == 0x2F:
                # SYSTEM, MISC-MEM, AMO: rare enough to live in their own function
                s[S_PC] = pc
                s[S_INSTRET] = instret
                r = system(s, x, csr, ram, tlb, wk, wr, io, insn, ilen, instret)
                if r == 2:
                    reason = s[S_EXIT]
                    break
                if r == 1:
                    exc = s[S_TRAP_CAUSE]
                    tval = s[S_TRAP_TVAL]
                else:
                    npc = s[S_PC]
                    wb = s[S_EXIT_B] != 0
                    val = s[S_EXIT_A]
                    if s[S_EXIT_C]:  # mode, translation or interrupt state may have changed
                        f_page = NO_PAGE
                        ctx_valid = False
                        check_at = instret + 1
                        if s[S_EXIT] == EXIT_WFI:
                            reason = EXIT_WFI
                        elif s[S_EXIT] == EXIT_HTIF:
                            reason = EXIT_HTIF
            else:
                exc = EXC_ILLEGAL
            if (exc == EXC_ILLEGAL or exc == EXC_VIRTUAL_INSTRUCTION) and tval == 0:
                tval = raw  # as for an illegal instruction: the instruction's bits

        # ---- retire or trap ------------------------------------------------------------
        if exc >= 0:
            s[S_PC] = pc
            s[S_INSTRET] = instret
            if not take_trap(s, csr, tr, exc, tval, False, pc, instret):
                reason = EXIT_HOST_TRAP
                break
            pc = s[S_PC]
            f_page = NO_PAGE
            ctx_valid = False
            check_at = instret  # the handler may be interruptible at once; buffers may fill
            end -= 1  # a trap costs a step of budget, so a trap storm cannot hang the host
            continue
        if wb and rd != 0:
            x[rd] = val
            if t_write:
                rec_write(s, wr, instret, WRITE_XREG, rd, val, 8, -1)
        if t_step:
            n = s[S_N_STEP]
            st_pc[n] = pc
            st_insn[n] = np.uint32(raw & _M32)
            st_mode[n] = np.uint8(cur_mode)
            s[S_N_STEP] = n + 1
        pc = npc
        instret += 1
        if reason != EXIT_NONE:
            break
        if t_var and (s[S_N_WRITE] > wr.shape[0] - MARGIN or s[S_N_TRAP] > tr.shape[0] - MARGIN
                      or s[S_N_WALK] > wk.shape[0] - MARGIN or s[S_N_IO] > io.shape[0] - MARGIN):
            reason = EXIT_BUFFER
            break
    s[S_PC] = pc
    s[S_INSTRET] = instret
    s[S_EXIT] = reason
    s[S_TLB_LOOKUPS] += tlb_hits
    return reason


@njit(cache=True)
def system(s, x, csr, ram, tlb, wk, wr, io, insn, ilen, instret):
    """SYSTEM, MISC-MEM and AMO instructions. Returns 0 retired (S_PC = next pc, S_EXIT_A/B =
    value/whether to write rd, S_EXIT_C = 1 when the loop must refresh its cached context),
    1 exception (S_TRAP_*), 2 exit to Python."""
    pc = s[S_PC]
    op = insn & 0x7F
    f3 = (insn >> 12) & 7
    rd = (insn >> 7) & 31
    rs1 = (insn >> 15) & 31
    rs2 = (insn >> 20) & 31
    mode = s[S_MODE]
    s[S_PC] = pc + ilen
    s[S_EXIT_A] = 0
    s[S_EXIT_B] = 0
    s[S_EXIT_C] = 0
    s[S_TRAP_TVAL] = 0
    if op == 0x0F:  # FENCE / FENCE.I: memory is coherent and there is no decoded-code cache
        if f3 == 0 or f3 == 1:
            if f3 == 1:
                s[S_EXIT_C] = 1
            return 0
        s[S_TRAP_CAUSE] = EXC_ILLEGAL
        return 1
    if op == 0x2F:  # A extension
        f5 = (insn >> 27) & 0x1F
        if f3 != 2 and f3 != 3:
            s[S_TRAP_CAUSE] = EXC_ILLEGAL
            return 1
        size = 4 if f3 == 2 else 8
        va = x[rs1]
        if f5 == 0x02:  # LR
            if rs2 != 0:
                s[S_TRAP_CAUSE] = EXC_ILLEGAL
                return 1
            if va & (size - 1):
                s[S_TRAP_CAUSE] = EXC_LOAD_MISALIGNED
                s[S_TRAP_TVAL] = va
                return 1
            pa = translate(s, csr, ram, tlb, wk, wr, va, ACC_LOAD, instret)
            if pa < 0:
                return 1
            off = pa - RAM_BASE
            if off < 0 or off + size > ram.shape[0]:
                s[S_TRAP_CAUSE] = EXC_LOAD_ACCESS
                s[S_TRAP_TVAL] = va
                return 1
            v = ram_read(ram, off, size)
            s[S_EXIT_A] = sext32(v) if size == 4 else v
            s[S_EXIT_B] = 1
            s[S_RES_ADDR] = pa
            return 0
        if not (f5 == 0x03 or f5 <= 1 or f5 == 0x04 or f5 == 0x0C or f5 == 0x08
                or (f5 >= 0x10 and (f5 & 3) == 0)):
            s[S_TRAP_CAUSE] = EXC_ILLEGAL
            return 1
        if va & (size - 1):
            s[S_TRAP_CAUSE] = EXC_STORE_MISALIGNED
            s[S_TRAP_TVAL] = va
            return 1
        pa = translate(s, csr, ram, tlb, wk, wr, va, ACC_STORE, instret)
        if pa < 0:
            return 1
        off = pa - RAM_BASE
        if off < 0 or off + size > ram.shape[0]:
            s[S_TRAP_CAUSE] = EXC_STORE_ACCESS
            s[S_TRAP_TVAL] = va
            return 1
        if f5 == 0x03:  # SC
            ok = s[S_RES_ADDR] == pa
            s[S_RES_ADDR] = -1
            s[S_EXIT_B] = 1
            if not ok:
                s[S_EXIT_A] = 1
                return 0
            new = x[rs2]
            s[S_EXIT_A] = 0
        else:
            old = ram_read(ram, off, size)
            new = amo_op(f5, old, x[rs2], size)
            s[S_EXIT_A] = sext32(old) if size == 4 else old
            s[S_EXIT_B] = 1
        ram_write(ram, off, size, new)
        if s[S_TRACE] & TRACE_WRITE:
            stored = new & _M32 if size == 4 else new
            rec_write(s, wr, instret, WRITE_MEM, va, stored, size, pa)
        tohost = s[S_TOHOST]
        if tohost >= 0 and pa - tohost < 8 and tohost - pa < size:
            s[S_EXIT] = EXIT_HTIF
            s[S_EXIT_C] = 1
        return 0
    # SYSTEM
    v = s[S_V]
    if f3 == 0:
        if rd != 0:
            s[S_TRAP_CAUSE] = EXC_ILLEGAL
            return 1
        f7 = (insn >> 25) & 0x7F
        if insn == 0x00000073:  # ecall: 8 from U or VU, 9 from HS, 10 from VS, 11 from M
            if mode == PRV_M:
                s[S_TRAP_CAUSE] = EXC_ECALL_M
            elif mode == PRV_S and v == 1:
                s[S_TRAP_CAUSE] = EXC_ECALL_VS
            else:
                s[S_TRAP_CAUSE] = EXC_ECALL_U + mode
            return 1
        if insn == 0x00100073:  # ebreak
            s[S_TRAP_CAUSE] = EXC_BREAKPOINT
            s[S_TRAP_TVAL] = pc
            return 1
        mstatus = csr[CSR_MSTATUS]
        # what HS-mode could execute but a guest may not: a virtual-instruction exception
        no_guest = EXC_VIRTUAL_INSTRUCTION if v == 1 else EXC_ILLEGAL
        if insn == 0x30200073:  # mret
            if mode != PRV_M:
                s[S_TRAP_CAUSE] = EXC_ILLEGAL
                return 1
            mpp = (mstatus >> MSTATUS_MPP_SHIFT) & 3
            mstatus &= ~(MSTATUS_MIE | MSTATUS_MPP)
            if mstatus & MSTATUS_MPIE:
                mstatus |= MSTATUS_MIE
            mstatus |= MSTATUS_MPIE
            if mpp != PRV_M:
                mstatus &= ~MSTATUS_MPRV
                s[S_V] = 1 if mstatus & MSTATUS_MPV else 0  # back into a guest?
            mstatus &= ~MSTATUS_MPV
            csr[CSR_MSTATUS] = mstatus
            s[S_MODE] = mpp
            s[S_PC] = csr[CSR_MEPC]
            s[S_EXIT_C] = 1
            return 0
        if insn == 0x10200073:  # sret
            if mode == PRV_U:
                s[S_TRAP_CAUSE] = no_guest
                return 1
            if v == 1:  # a guest's sret: its own vsstatus and vsepc, V stays 1
                if csr[CSR_HSTATUS] & HSTATUS_VTSR:
                    s[S_TRAP_CAUSE] = EXC_VIRTUAL_INSTRUCTION
                    return 1
                vsstatus = csr[CSR_VSSTATUS]
                spp = PRV_S if vsstatus & MSTATUS_SPP else PRV_U
                vsstatus &= ~(MSTATUS_SIE | MSTATUS_SPP)
                if vsstatus & MSTATUS_SPIE:
                    vsstatus |= MSTATUS_SIE
                csr[CSR_VSSTATUS] = vsstatus | MSTATUS_SPIE
                s[S_MODE] = spp
                s[S_PC] = csr[CSR_VSEPC]
                s[S_EXIT_C] = 1
                return 0
            if mode == PRV_S and (mstatus & MSTATUS_TSR):
                s[S_TRAP_CAUSE] = EXC_ILLEGAL
                return 1
            spp = PRV_S if mstatus & MSTATUS_SPP else PRV_U
            mstatus &= ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)
            if mstatus & MSTATUS_SPIE:
                mstatus |= MSTATUS_SIE
            mstatus |= MSTATUS_SPIE
            csr[CSR_MSTATUS] = mstatus
            hstatus = csr[CSR_HSTATUS]
            s[S_V] = 1 if hstatus & HSTATUS_SPV else 0  # hstatus.SPV: into a guest?
            csr[CSR_HSTATUS] = hstatus & ~HSTATUS_SPV
            s[S_MODE] = spp
            s[S_PC] = csr[CSR_SEPC]
            s[S_EXIT_C] = 1
            return 0
        if insn == 0x10500073:  # wfi
            if mode != PRV_M and (mstatus & MSTATUS_TW):
                s[S_TRAP_CAUSE] = EXC_ILLEGAL
                return 1
            if mode == PRV_U or (v == 1 and (csr[CSR_HSTATUS] & HSTATUS_VTW)):
                s[S_TRAP_CAUSE] = no_guest
                return 1
            s[S_EXIT_C] = 1
            if pending_bits(s, csr, instret) & csr[CSR_MIE]:
                return 0  # something is already pending: wfi is a no-op
            deadline = timer_deadline(s, csr, instret)
            if deadline < (np.int64(1) << 62):
                # sleep until the timer fires: time jumps, retired instructions do not
                s[S_TIME_OFF] += deadline - (instret + 1)
                return 0
            s[S_EXIT] = EXIT_WFI  # only a device in Python (or the user) can wake us
            return 0
        if f7 == 0x09:  # sfence.vma rs1, rs2
            if mode == PRV_U:
                s[S_TRAP_CAUSE] = no_guest
                return 1
            if v == 1:  # the guest's own translations (its VMID's)
                if csr[CSR_HSTATUS] & HSTATUS_VTVM:
                    s[S_TRAP_CAUSE] = EXC_VIRTUAL_INSTRUCTION
                    return 1
            elif mode == PRV_S and (mstatus & MSTATUS_TVM):
                s[S_TRAP_CAUSE] = EXC_ILLEGAL
                return 1
            tlb_flush(tlb, x[rs1], x[rs2] & 0xFFFF, rs1 == 0, rs2 == 0, v,
                      (csr[CSR_HGATP] >> 44) & ((1 << VMID_BITS) - 1), False, False)
            s[S_EXIT_C] = 1
            return 0
        if f7 == 0x11 or f7 == 0x31:  # hfence.vvma rs1, rs2 / hfence.gvma rs1, rs2
            if v == 1:
                s[S_TRAP_CAUSE] = EXC_VIRTUAL_INSTRUCTION
                return 1
            if mode == PRV_U or (f7 == 0x31 and mode == PRV_S and (mstatus & MSTATUS_TVM)):
                s[S_TRAP_CAUSE] = EXC_ILLEGAL
                return 1
            if f7 == 0x11:  # guest virtual address and guest ASID, in the current VMID
                tlb_flush(tlb, x[rs1], x[rs2] & 0xFFFF, rs1 == 0, rs2 == 0, 1,
                          (csr[CSR_HGATP] >> 44) & ((1 << VMID_BITS) - 1), False, False)
            else:  # guest physical address (rs1 >> 2) and VMID: every entry of the VMID
                tlb_flush(tlb, 0, 0, True, True, 1, x[rs2] & ((1 << VMID_BITS) - 1), rs2 == 0,
                          True)
            s[S_EXIT_C] = 1
            return 0
        s[S_TRAP_CAUSE] = EXC_ILLEGAL
        return 1
    if f3 == 4:  # HLV, HLVX, HSV: access guest memory as the guest would (V=1, SPVP)
        f7 = (insn >> 25) & 0x7F
        store = (f7 & 1) == 1
        size = 1 << ((f7 >> 1) & 3)
        if (f7 >> 3) != 0x6 or (store and rd != 0) \
                or (not store and not (rs2 == 0 or (rs2 == 1 and size < 8)
                                       or (rs2 == 3 and (size == 2 or size == 4)))):
            s[S_TRAP_CAUSE] = EXC_ILLEGAL
            return 1
        if v == 1:
            s[S_TRAP_CAUSE] = EXC_VIRTUAL_INSTRUCTION
            return 1
        if mode == PRV_U and (csr[CSR_HSTATUS] & HSTATUS_HU) == 0:
            s[S_TRAP_CAUSE] = EXC_ILLEGAL
            return 1
        va = x[rs1]
        acc = ACC_STORE if store else ACC_LOAD
        if va & (size - 1):
            s[S_TRAP_CAUSE] = EXC_STORE_MISALIGNED if store else EXC_LOAD_MISALIGNED
            s[S_TRAP_TVAL] = va
            s[S_HLV] = 1
            return 1
        s[S_HLV] = 1  # a fault from here on carries a guest virtual address (GVA=1)
        pa = translate_hlv(s, csr, ram, tlb, wk, wr, va, acc, rs2 == 3, instret)
        if pa < 0:
            return 1
        if store:
            val = x[rs2]
            if size < 8:
                val &= (np.int64(1) << (8 * size)) - 1
            st = phys_store(s, ram, io, pa, size, val, instret)
        else:
            val, st = phys_load(s, ram, io, pa, size, instret)
        if st == 1:
            s[S_TRAP_CAUSE] = EXC_STORE_ACCESS if store else EXC_LOAD_ACCESS
            s[S_TRAP_TVAL] = va
            return 1
        if st == 2:  # a device in Python: S_HLV stays set in case it answers with a fault
            s[S_EXIT_B] = va
            s[S_PC] = pc
            return 2
        s[S_HLV] = 0
        if store:
            if s[S_TRACE] & TRACE_WRITE:
                rec_write(s, wr, instret, WRITE_MEM, va, val, size, pa)
            tohost = s[S_TOHOST]
            if tohost >= 0 and pa - tohost < 8 and tohost - pa < size:
                s[S_EXIT] = EXIT_HTIF
                s[S_EXIT_C] = 1
            return 0
        if rs2 == 0 and size < 8:  # sign-extend (HLV.B/H/W); HLV[X].*U zero-extend
            sh = 64 - 8 * size
            val = (val << sh) >> sh
        s[S_EXIT_A] = val
        s[S_EXIT_B] = 1
        return 0
    # Zicsr
    n = (insn >> 20) & 0xFFF
    src = x[rs1] if f3 < 4 else np.int64(rs1)
    kind = f3 & 3  # 1 rw, 2 rs, 3 rc
    write = kind == 1 or rs1 != 0
    bad = csr_check(s, csr, n, write)
    if bad:
        s[S_TRAP_CAUSE] = bad
        return 1
    if v == 1:
        n = csr_for_guest(n)
    if mode == PRV_U and (n == CSR_SSTATUS or n == CSR_VSSTATUS):
        write = False  # (ENV_SENSITIVE_UNPRIVILEGED) like POPF in ring 3: ignored, no trap
    old = csr_read(s, csr, n, instret)
    if write:
        base = old
        if n == CSR_MIP:  # csrrs/csrrc modify only the software SEIP bit, never latching
            base = (old & ~MIP_SEIP) | (csr[CSR_MIP] & MIP_SEIP)  # the PLIC's line (3.1.9)
        if kind == 1:
            new = src
        elif kind == 2:
            new = base | src
        else:
            new = base & ~src
        held = csr_write(s, csr, n, new, instret)
        if s[S_TRACE] & TRACE_WRITE:
            rec_write(s, wr, instret, WRITE_CSR, n, held, 8, -1)
        s[S_EXIT_C] = 1
    s[S_EXIT_A] = old
    s[S_EXIT_B] = 1
    return 0


@njit(cache=True)
def raise_exception(s, csr, tr, cause, tval):
    """Take an exception at the current pc on behalf of Python (e.g. an MMIO access fault)."""
    return take_trap(s, csr, tr, cause, tval, False, s[S_PC], s[S_INSTRET])
