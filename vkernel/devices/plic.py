"""The platform-level interrupt controller (SiFive PLIC as on QEMU virt, at 0x0C00_0000),
with two contexts for hart 0: 0 = M-mode, 1 = S-mode.

Gateways behave as QEMU's sifive_plic (checked against QEMU 7.2): a source becomes
pending when its device raises its line - a rising edge, or a device event that re-asserts
a line that is already high (``raised``: a THR write, an RBR read, a virtio completion, as
QEMU's devices call qemu_set_irq); a line going low clears it. Claiming clears the pending
bit; completing does not look at the line again, so a device that stays high without a new
event is not taken again (xv6 2022 relies on this: its uartintr never reads IIR, and a
level-triggered gateway would interrupt forever). A source raised while claimed stays
pending and is delivered after its completion. A context's output is raised while some
pending, unclaimed, enabled source has a priority above the context's threshold.

Layout: priority[i] at 4·i; pending bits at 0x1000; enable bits at 0x2000 + 0x80·ctx;
threshold at 0x20_0000 + 0x1000·ctx and claim/complete 4 bytes further.

>>> p = Plic()
>>> p.write(4 * 10, 4, 1); p.write(0x2080, 4, 1 << 10)    # priority 1, enable in S
>>> p.update({10: True}); p.outputs()
(False, True)
>>> p.read(0x20_1004, 4), p.outputs()     # claim: source 10, no longer pending
(10, (False, False))
"""

from __future__ import annotations

from collections.abc import Collection

N_SOURCES = 96  # as QEMU virt (source 0 does not exist)
N_CONTEXTS = 2
MAX_PRIORITY = 7


class Plic:
    def __init__(self) -> None:
        self.priority = [0] * N_SOURCES
        self.pending = [False] * N_SOURCES
        self.claimed = [False] * N_SOURCES
        self.level = [False] * N_SOURCES
        self.enable = [[False] * N_SOURCES for _ in range(N_CONTEXTS)]
        self.threshold = [0] * N_CONTEXTS

    def update(self, lines: dict[int, bool], raised: Collection[int] = ()) -> None:
        """Sample the interrupt lines of the devices (source number -> level); ``raised``:
        the sources whose device re-asserted its line since the last update."""
        for src, high in lines.items():
            if high and (not self.level[src] or src in raised):
                self.pending[src] = True
            elif not high:
                self.pending[src] = False
            self.level[src] = high

    def _best(self, ctx: int) -> int:
        best, best_prio = 0, self.threshold[ctx]
        for src in range(1, N_SOURCES):
            if self.pending[src] and not self.claimed[src] and self.enable[ctx][src] \
                    and self.priority[src] > best_prio:
                best, best_prio = src, self.priority[src]
        return best

    def outputs(self) -> tuple[bool, bool]:
        """(M-mode external interrupt, S-mode external interrupt) lines of hart 0."""
        return self._best(0) != 0, self._best(1) != 0

    def read(self, offset: int, size: int) -> int:
        if offset < 0x1000:
            src = offset // 4
            return self.priority[src] if src < N_SOURCES else 0
        if offset < 0x2000:
            word = (offset - 0x1000) // 4
            return self._bits(self.pending, word)
        if offset < 0x20_0000:
            ctx, word = divmod(offset - 0x2000, 0x80)
            return self._bits(self.enable[ctx], word // 4) if ctx < N_CONTEXTS else 0
        ctx, reg = divmod(offset - 0x20_0000, 0x1000)
        if ctx >= N_CONTEXTS:
            return 0
        if reg == 0:
            return self.threshold[ctx]
        if reg == 4:  # claim
            src = self._best(ctx)
            if src:
                self.pending[src] = False
                self.claimed[src] = True
            return src
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFFFF_FFFF
        if offset < 0x1000:
            src = offset // 4
            if 0 < src < N_SOURCES:
                self.priority[src] = min(value, MAX_PRIORITY)
        elif offset < 0x2000:
            pass  # pending bits are read-only
        elif offset < 0x20_0000:
            ctx, word = divmod(offset - 0x2000, 0x80)
            word //= 4
            if ctx < N_CONTEXTS:
                for bit in range(32):
                    src = word * 32 + bit
                    if 0 < src < N_SOURCES:
                        self.enable[ctx][src] = bool(value >> bit & 1)
        else:
            ctx, reg = divmod(offset - 0x20_0000, 0x1000)
            if ctx >= N_CONTEXTS:
                return
            if reg == 0:
                self.threshold[ctx] = min(value, MAX_PRIORITY)
            elif reg == 4:  # complete
                if 0 < value < N_SOURCES and self.claimed[value]:
                    self.claimed[value] = False  # (as QEMU: the line is not sampled again)

    @staticmethod
    def _bits(flags: list[bool], word: int) -> int:
        v = 0
        for bit in range(32):
            i = word * 32 + bit
            if i < len(flags) and flags[i]:
                v |= 1 << bit
        return v

    def state(self) -> dict:
        return {"priority": list(self.priority), "pending": list(self.pending),
                "claimed": list(self.claimed), "level": list(self.level),
                "enable": [list(e) for e in self.enable], "threshold": list(self.threshold)}

    def set_state(self, st: dict) -> None:
        self.priority = list(st["priority"])
        self.pending = list(st["pending"])
        self.claimed = list(st["claimed"])
        self.level = list(st["level"])
        self.enable = [list(e) for e in st["enable"]]
        self.threshold = list(st["threshold"])
