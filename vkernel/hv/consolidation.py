"""Consolidation: how many guests fit on one host?

Most servers are idle most of the time, which is why companies first bought hypervisors:
several lightly loaded machines can become domains of one. Whether they fit is a matter
of *demand*, the fraction of a CPU a guest uses when it has one to itself: a CPU-bound
guest uses all of it, a guest that sleeps on its timer between bursts of work much less.
Demand is measured here, never assumed: :func:`demand` runs the guest alone on a
:class:`~vkernel.hv.host.Host` and reads the share of host time it ran (the rest the CPU
idled). :func:`pack` then puts guests on as few hosts as their demands allow, and
:func:`vkernel.plots.consolidation` draws the result.

>>> from vkernel.hv.consolidation import demand, duty_cycle, pack
>>> web = duty_cycle(busy_ms=3, period_ms=10)  # 3 ms of work in every 10 ms
>>> round(demand(web), 2)
0.3
>>> pack({"web": 0.3, "db": 0.5, "mail": 0.4})  # first fit, largest demand first
[['db', 'mail'], ['web']]
"""

from __future__ import annotations

from collections.abc import Mapping

from vkernel.hv.host import STEPS_PER_MS, Host
from vkernel.isa.program import Program

TIME_DIVIDER = 10  # a Machine's default: steps per tick of its timer (mtime)


def duty_cycle(busy_ms: float, period_ms: float) -> Program:
    """A guest kernel (for the hardware, trap-and-emulate and binary-translation
    techniques) that works for ``busy_ms`` in every ``period_ms`` of its own time and
    sleeps the rest (SBI set_timer, then ``wfi``): its demand is about
    ``busy_ms / period_ms``. Its periods are fixed on its clock, so a guest that gets less
    CPU than it asks for falls behind, finds its timer already due and stops sleeping."""
    if not 0 < busy_ms <= period_ms:
        raise ValueError("need 0 < busy_ms <= period_ms")
    from vkernel import assemble

    work = max(int(busy_ms * STEPS_PER_MS) // 2, 1)  # the loop is two instructions
    ticks = int(period_ms * STEPS_PER_MS) // TIME_DIVIDER
    return assemble(f"""
    li t1, 1 << 5
    csrs sie, t1            # the timer may end a wfi (sstatus.SIE stays 0: no trap)
    rdtime s0               # the start of this period
period:
    li t0, {work}
1:  addi t0, t0, -1         # the work
    bnez t0, 1b
    li t1, {ticks}
    add s0, s0, t1          # the next period starts one period after this one
    mv a0, s0
    li a7, 0x54494D45       # SBI set_timer(a0)
    li a6, 0
    ecall
    wfi                     # sleep until then
    j period
""", base=0x8020_0000, name=f"duty-{busy_ms}-of-{period_ms}-ms")


def demand(guest: Program | str, technique: str = "hardware", *, steps: int = 1_000_000,
           memory_mb: int = 4, n: int | None = None) -> float:
    """The fraction of a CPU ``guest`` uses on a host of its own: run alone for ``steps``
    steps (or until it shuts down), the steps it ran over the host time that passed."""
    host = Host(machine_mb=memory_mb + 8)
    domain = host.create(guest, technique, memory_mb=memory_mb, n=n)
    host.run(max_steps=steps)
    return domain.cpu_steps / max(host.now, 1)


def pack(demands: Mapping[str, float], capacity: float = 1.0) -> list[list[str]]:
    """Guests onto as few hosts of ``capacity`` CPUs as first-fit decreasing finds: the
    largest demand first, each onto the first host it fits on (a new host if none). A
    guest that needs more than one host's capacity gets a host to itself."""
    hosts: list[list[str]] = []
    load: list[float] = []
    for name in sorted(demands, key=lambda g: -demands[g]):
        fits = next((i for i, used in enumerate(load)
                     if used + demands[name] <= capacity + 1e-9), None)
        if fits is None:
            hosts.append([name])
            load.append(demands[name])
        else:
            hosts[fits].append(name)
            load[fits] += demands[name]
    return hosts


__all__ = ["demand", "duty_cycle", "pack"]
