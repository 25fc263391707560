"""Scheduling several domains on one host: Xen's credit scheduler and round robin.

Acceptance tests on real guests: CPU-bound kernels (a two-instruction loop) under the
hardware, trap-and-emulate and binary-translation techniques, a hardware guest that waits
in ``wfi`` for an event, and guests that sleep on their timer. Time is the host's virtual
time in steps (10,000 to the millisecond); every share below is measured twice, from the
host's usage() Dataset and from each domain's ``cpu_steps``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import assemble
from vkernel.hv import Credit, Host, RoundRobin, Scheduler
from vkernel.hv.consolidation import demand, duty_cycle, pack
from vkernel.hv.scheduler import BOOST, OVER, UNDER

STEPS = 10_000_000  # one second of host time when nobody idles
HOG = assemble("loop:\n    addi t0, t0, 1\n    j loop\n", base=0x8020_0000, name="hog")
# waits in wfi for an event (no timer armed: the hardware technique blocks it with no
# timeout), then works 2,000 steps and waits again
WAITER = assemble("""
loop:
    wfi
    li t0, 1000
1:  addi t0, t0, -1
    bnez t0, 1b
    j loop
""", base=0x8020_0000, name="waiter")
TECHNIQUES = ("hardware", "trap-emulate", "binary-translation")


def hogs(host: Host, weights: list[int], *, caps: list[int] | None = None) -> list:
    """One CPU-bound domain per weight, cycling through the techniques."""
    caps = caps or [0] * len(weights)
    return [host.create(HOG, TECHNIQUES[i % len(TECHNIQUES)], memory_mb=4, weight=w,
                        cap=c, name=f"hog{i}")
            for i, (w, c) in enumerate(zip(weights, caps, strict=True))]


def shares(host: Host, domains: list) -> np.ndarray:
    """Each domain's share of the host time so far, from ``cpu_steps``, checked against
    the same from ``host.usage()`` (10 ms intervals: whole ones when the run is)."""
    by_steps = np.array([d.cpu_steps for d in domains]) / host.now
    usage = host.usage(interval_ms=10)
    width = 10 * host.steps_per_ms
    assert host.now % width == 0, "the run should end on a whole interval"
    by_usage = usage["cpu"].sel(domain=[d.domid for d in domains]).mean("interval").values
    np.testing.assert_allclose(by_usage, by_steps, rtol=0, atol=1e-12)
    return by_steps


# --- weights ---------------------------------------------------------------------------
def test_weights_1_2_4_share_the_cpu_one_seventh_two_four():
    host = Host(machine_mb=32)
    domains = hogs(host, [1, 2, 4])
    assert host.run(max_steps=STEPS).reason == "budget"
    assert host.now == STEPS and host.idle_steps == 0  # work-conserving: never idle
    got = shares(host, domains)
    np.testing.assert_allclose(got, np.array([1, 2, 4]) / 7, atol=0.02)
    # and within every whole 30 ms accounting period, not only on average
    usage = host.usage(interval_ms=30)
    whole = usage["cpu"].isel(interval=slice(0, STEPS // host.scheduler.period))
    np.testing.assert_allclose(whole.values, np.array([[1], [2], [4]]) / 7 + 0 * whole.values,
                               atol=0.01)
    assert float(usage["idle"].max()) < 1e-9


def test_a_weight_changed_mid_run_counts_from_the_next_period():
    host = Host(machine_mb=32)
    a, b = hogs(host, [256, 256])
    period = host.scheduler.period
    host.run(max_steps=4 * period + period // 2)  # into the fifth period (number 4)
    b.weight = 768
    host.run(max_steps=10 * period - host.steps)  # to the end of period 9
    cpu = host.usage(interval_ms=30)["cpu"].values
    assert cpu.shape == (2, 10)
    # periods 0-4 (the change came in the middle of 4): 1:1; from period 5 on: 1:3
    np.testing.assert_allclose(cpu[:, :5], 0.5, atol=0.01)
    np.testing.assert_allclose(cpu[0, 5:], 0.25, atol=0.01)
    np.testing.assert_allclose(cpu[1, 5:], 0.75, atol=0.01)
    assert host.scheduler.weights[b.domid] == 768


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 8), min_size=2, max_size=4))
def test_long_run_shares_are_weight_over_the_sum_of_weights(weights):
    host = Host(machine_mb=32)
    domains = hogs(host, weights)
    host.run(max_steps=STEPS)
    got = shares(host, domains)
    np.testing.assert_allclose(got, np.array(weights) / sum(weights), atol=0.02)


def test_a_blocked_domain_stops_earning_so_its_weight_thins_out_nobody():
    """A domain that blocks for good earns credits for a period or two, until it holds
    more than it could use; then it is inactive, and (once the debts the CPU-bound
    domains ran up meanwhile are settled) they share all the credits by their weights."""
    host = Host(machine_mb=32)
    light, heavy = hogs(host, [256, 768])
    idle = host.create(WAITER, "hardware", memory_mb=4, weight=4096, name="idle")
    host.run(max_steps=STEPS)
    assert idle.state == "blocked" and not host.scheduler.state(idle)["active"]
    assert idle.cpu_steps < 100  # it booted into its wfi, and never ran again
    cpu = host.usage(interval_ms=30)["cpu"].values[:, 10:-1]  # from period 10 on
    np.testing.assert_allclose(cpu, np.array([[0.25], [0.75], [0]]) + 0 * cpu, atol=0.01)


def test_a_sleeper_gets_what_it_asks_for_next_to_cpu_hogs():
    """A domain that works 1 ms in every 10 and sleeps on its timer asks for less than its
    weight's share: it is woken BOOSTed (UNDER, or not accounted while inactive), gets
    about what it uses alone (less the wait for its first turn), and the CPU-bound domains
    share the rest by their weights."""
    sleeper = duty_cycle(1, 10)
    alone = demand(sleeper)
    host = Host(machine_mb=32)
    light, heavy = hogs(host, [256, 768])
    s = host.create(sleeper, "hardware", memory_mb=4, weight=256, name="sleeper")
    host.run(max_steps=STEPS)
    got = shares(host, [light, heavy, s])
    assert 0.9 * alone <= got[2] <= alone
    assert got[1] / got[0] == pytest.approx(3, rel=0.1)


# --- caps --------------------------------------------------------------------------------
def test_a_25_percent_cap_holds_while_the_others_use_the_rest():
    host = Host(machine_mb=32)
    capped, *others = hogs(host, [256, 256, 256], caps=[25, 0, 0])
    host.run(max_steps=STEPS)
    got = shares(host, [capped, *others])
    assert got[0] == pytest.approx(0.25, abs=0.01)
    np.testing.assert_allclose(got[1:], 0.375, atol=0.01)  # the rest, by their weights
    assert 1 - host.idle_steps / host.now > 0.99  # the CPU stays busy


def test_a_capped_domain_alone_leaves_the_cpu_idle_the_rest_of_the_time():
    """A cap is a limit, not a share: with nobody else to run the CPU idles
    (non-work-conserving)."""
    host = Host(machine_mb=32)
    (capped,) = hogs(host, [256], caps=[25])
    assert host.run(max_steps=STEPS // 4).reason == "budget"
    assert host.now == pytest.approx(STEPS, abs=host.scheduler.period)
    usage = host.usage(interval_ms=30)
    assert capped.cpu_steps / host.now == pytest.approx(0.25, abs=0.01)
    assert host.idle_steps / host.now == pytest.approx(0.75, abs=0.01)
    whole = slice(0, host.now // host.scheduler.period)
    np.testing.assert_allclose(usage["cpu"].values[0, whole], 0.25, atol=1e-6)
    np.testing.assert_allclose(usage["idle"].values[whole], 0.75, atol=1e-6)


# --- BOOST ---------------------------------------------------------------------------------
def wake_latencies(scheduler: Scheduler, times: int = 5) -> tuple[list[int], object]:
    """Two CPU hogs and a waiter; notify the waiter ``times`` times at odd moments and
    measure, in steps, from each notify to the waiter's next run (host.segments)."""
    host = Host(machine_mb=32, scheduler=scheduler)
    hogs(host, [256, 256])
    waiter = host.create(WAITER, "hardware", memory_mb=4, name="waiter")
    host.run(max_steps=1_234_567)
    latencies = []
    for _ in range(times):
        assert waiter.state == "blocked" and waiter.wake_at is None  # waits for an event
        sent, ran = host.now, waiter.cpu_steps
        host.notify(waiter)
        host.run(max_steps=1_234_567)
        start = next(lo for domid, lo, _, _ in host.segments
                     if domid == waiter.domid and lo >= sent)
        latencies.append(start - sent)
        assert waiter.cpu_steps - ran >= 2000  # it did its work, and blocked again
    return latencies, host


def test_a_domain_woken_by_an_event_runs_at_once_boosted():
    credit = Credit()
    boosted, host = wake_latencies(credit)
    assert max(boosted) <= credit.slice  # within one slice of its event: at once, here
    assert boosted == [0] * len(boosted)
    # round robin has no BOOST: the woken domain waits its turn behind the hogs
    waited, _ = wake_latencies(RoundRobin())
    assert min(waited) > max(boosted)
    assert np.mean(waited) > credit.slice // 2


def test_boost_is_given_on_a_wake_while_under_and_ends_once_it_ran():
    host = Host(machine_mb=32)
    hogs(host, [256])
    waiter = host.create(WAITER, "hardware", memory_mb=4, name="waiter")
    host.run(max_steps=150_000)  # the hog's first slice, then the waiter's wfi
    sched = host.scheduler
    assert waiter.state == "blocked" and sched.priority[waiter.domid] != BOOST
    host.notify(waiter)
    assert sched.priority[waiter.domid] == BOOST
    assert host.slice_end == host.now  # the hog is preempted at once
    host.run(max_steps=10_000)
    assert sched.priority[waiter.domid] in (UNDER, OVER)
    assert sched.state(waiter)["priority"] in ("under", "over")


# --- other policies --------------------------------------------------------------------
def test_round_robin_gives_equal_shares_whatever_the_weights():
    host = Host(machine_mb=32, scheduler=RoundRobin())
    domains = hogs(host, [1, 2, 4])
    host.run(max_steps=99 * host.scheduler.slice)  # 33 rounds
    got = shares(host, domains)
    np.testing.assert_allclose(got, 1 / 3, atol=1e-12)


class Strict(Scheduler):
    """A student's policy, only ``pick``: the heaviest runnable domain, always."""

    name = "strict"

    def pick(self, now: int):  # noqa: ANN201
        if not self.queue:
            return None, self.slice
        return max(self.queue, key=lambda d: d.weight), self.slice


def test_a_policy_with_only_pick_runs_the_host():
    host = Host(machine_mb=32, scheduler=Strict())
    light, heavy = hogs(host, [1, 2])
    host.run(max_steps=1_000_000)
    assert (light.cpu_steps, heavy.cpu_steps) == (0, 1_000_000)  # strict priority starves
    host.pause(heavy)
    host.run(max_steps=500_000)
    assert (light.cpu_steps, heavy.cpu_steps) == (500_000, 1_000_000)
    assert host.usage()["cpu"].sum() > 0 and host.usage().attrs["scheduler"] == "strict"


# --- resource accounting -----------------------------------------------------------------
def test_usage_intervals_add_up_and_memory_is_the_frame_allocators():
    host = Host(machine_mb=48)
    a = host.create("null-syscall", "paravirt", memory_mb=8, n=300, name="pv")
    b = host.create("null-syscall", "hardware", memory_mb=8, n=300, name="hw")
    c = host.create(duty_cycle(2, 10), "trap-emulate", memory_mb=4, name="sleeper")
    host.run(max_steps=3_000_000)
    assert a.state == b.state == "shutdown"
    usage = host.usage(interval_ms=5)
    cpu, idle = usage["cpu"].values, usage["idle"].values
    np.testing.assert_allclose(cpu.sum(axis=0) + idle, 1, atol=1e-12)
    assert (cpu >= 0).all() and (idle >= -1e-12).all() and idle.max() > 0.5  # sleeps
    assert list(usage["name"].values) == ["pv", "hw", "sleeper"]
    assert usage["steps"].sum("interval").values.tolist() == [a.cpu_steps, b.cpu_steps,
                                                               c.cpu_steps]
    assert usage["exits"].sum("interval").values.tolist() == [a.exits, b.exits, c.exits]
    assert int(usage["steps"].sum()) + host.idle_steps == host.now
    frames = host.frames.usage()
    assert usage["memory_frames"].values.tolist() == [frames[n] for n in ("pv", "hw",
                                                                          "sleeper")]
    # a domain's RAM, and the hypervisor's structures for it, are charged to it
    assert all(f > mb * 256 for f, mb in zip(usage["memory_frames"].values, (8, 8, 4),
                                            strict=True))
    free = host.frames.free_frames
    host.destroy(a)
    assert host.frames.free_frames == free + frames["pv"]


# --- consolidation -------------------------------------------------------------------------
def test_demand_is_measured_alone_and_guests_that_fit_share_one_host():
    """Demand is what a guest uses with a CPU of its own; three sleepers whose demands add
    up to less than one CPU fit on one host, which then still idles."""
    assert demand(HOG) == pytest.approx(1.0)
    guests = {"web": duty_cycle(3, 10), "db": duty_cycle(2, 8), "batch": duty_cycle(1, 5)}
    demands = {name: demand(g) for name, g in guests.items()}
    for name, expected in (("web", 0.3), ("db", 0.25), ("batch", 0.2)):
        assert demands[name] == pytest.approx(expected, abs=0.01)
    assert demand(duty_cycle(3, 10), "trap-emulate") == pytest.approx(0.3, abs=0.01)
    assert pack(demands) == [["web", "db", "batch"]]
    assert pack({**demands, "hog": 1.0}) == [["hog"], ["web", "db", "batch"]]
    host = Host(machine_mb=32)
    domains = [host.create(g, "hardware", memory_mb=4, name=n) for n, g in guests.items()]
    host.run(max_steps=3_000_000)
    together = np.array([d.cpu_steps for d in domains]) / host.now
    # each gets at most what it asked for (less by the time it waited for the CPU: its
    # clock stops then, so its periods stretch), and the CPU still idles
    assert (together <= np.array(list(demands.values())) + 0.01).all()
    assert (together >= 0.7 * np.array(list(demands.values()))).all()
    assert host.idle_steps / host.now >= 1 - sum(demands.values()) - 0.01
