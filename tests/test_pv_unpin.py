"""Para-virtual page tables that stop being page tables (paravirt.py: MMUEXT_UNPIN_TABLE,
the type count): a frame is a table while a validated table points to it, it is pinned,
or it is a loaded root; then it is released, and the guest may map it writable again.
Validation stays safe: whatever the guest does, every frame the hardware can walk is a
validated table, and none of those is writable."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hvguests import validated_tables_are_safe
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vkernel import guests
from vkernel.hv import Host
from vkernel.hv.pagetable import PPN_MASK, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, walk
from vkernel.hv.paravirt import (
    EINVAL,
    MMUEXT_NEW_USER_BASEPTR,
    MMUEXT_PIN_L3_TABLE,
    MMUEXT_UNPIN_TABLE,
)

PAGE = 4096
KPOOL_END = 0x8040_0000


def booted():
    """A para-virtual guest kernel after boot (its processes made), and four free frames
    of its page-table pool: mapped read-only by its kernel table, zero, unused."""
    host = Host(machine_mb=32)
    d = host.create("hello", "paravirt", name="pv")
    program = guests.kernel("hello", paravirt=True)
    while d.memory.read_u64(program.symbols["nproc"]) != 2:
        host.run(2_000)
    free = d.memory.read_u64(program.symbols["kpool_next"])
    pages = [KPOOL_END - (i + 1) * PAGE for i in range(4)]
    assert free <= pages[-1]
    return host, d, pages


def leaf_of(d, va: int) -> int:
    """The machine address of the kernel table's leaf for ``va``."""
    pv = d.technique
    w = walk(pv.kernel_root, va, d.machine.mem.read_u64, access=0, user=True)
    return w.levels[-1].pte_address


def pointer(frame: int) -> int:
    return (frame >> 12) << 10 | PTE_V


def leaf(frame: int, writable: bool) -> int:
    flags = PTE_V | PTE_R | PTE_U | PTE_A | (PTE_W | PTE_D if writable else 0)
    return (frame >> 12) << 10 | flags


def type_counts_are_right(d) -> bool:
    """Every table's reference count is the number of validated pointers to it, and each
    table has a reason to be one (a pointer, a pin, or being a loaded root)."""
    pv, mem = d.technique, d.machine.mem
    refs: Counter[int] = Counter()
    for frame, level in pv.level.items():
        if level:
            for pte in np.frombuffer(mem.read(frame, PAGE), np.uint64).tolist():
                if pte & PTE_V and not pte & (PTE_R | 8):
                    refs[((pte >> 10) & PPN_MASK) << 12] += 1
    assert +refs == +pv.refs
    for frame in pv.level:
        assert refs[frame] or frame in pv.pinned or frame in (pv.kernel_root, pv.user_root)
    return True


def test_unpinned_tables_are_released_and_may_be_mapped_writable():
    host, d, pages = booted()
    pv = d.technique
    root, l1 = (d.memory.machine_address(p) for p in pages[:2])
    assert pv.extended_op(MMUEXT_PIN_L3_TABLE, root) == 0
    assert pv.update_entry(root + 8 * 3, pointer(l1)) == 0  # root[3] -> l1
    assert pv.level[root] == 2 and pv.level[l1] == 1
    # a table may not be mapped writable
    assert pv.update_entry(leaf_of(d, pages[1]), leaf(l1, True)) == -EINVAL
    # a second reference to l1, from the loaded kernel root: unhooked from ours, it stays
    assert pv.update_entry(pv.kernel_root + 8 * 3, pointer(l1)) == 0
    assert pv.extended_op(MMUEXT_UNPIN_TABLE, root) == 0
    assert root not in pv.level and pv.level[l1] == 1  # still referenced: still a table
    assert pv.extended_op(MMUEXT_UNPIN_TABLE, root) == -EINVAL  # (not pinned any more)
    assert pv.update_entry(pv.kernel_root + 8 * 3, 0) == 0
    assert l1 not in pv.level  # its last reference went
    # now both may be mapped writable, and written: and never walked
    for p in pages[:2]:
        assert pv.update_entry(leaf_of(d, p), leaf(d.memory.machine_address(p), True)) == 0
    foreign = pv.frames.alloc("victim")
    d.machine.mem.write_u64(l1, leaf(foreign, True))  # a forged entry
    assert pv.update_entry(pv.kernel_root + 8 * 3, pointer(l1)) == -EINVAL  # mapped W
    assert pv.update_entry(leaf_of(d, pages[1]), leaf(l1, False)) == 0  # read-only now
    assert pv.update_entry(pv.kernel_root + 8 * 3, pointer(l1)) == -EINVAL  # the forgery
    assert l1 not in pv.level
    # a loaded root that is unpinned stays a table until it is replaced
    assert pv.user_root is None  # (the kernel runs; no process yet)
    user = d.memory.machine_address(pages[2])
    assert pv.extended_op(MMUEXT_PIN_L3_TABLE, user) == 0
    assert pv.extended_op(MMUEXT_NEW_USER_BASEPTR, user) == 0
    assert pv.extended_op(MMUEXT_UNPIN_TABLE, user) == 0
    assert pv.level[user] == 2
    assert pv.extended_op(MMUEXT_NEW_USER_BASEPTR, 0) == 0
    assert user not in pv.level
    assert pv.extended_op(MMUEXT_PIN_L3_TABLE, root) == -EINVAL  # mapped writable
    assert validated_tables_are_safe(d) and type_counts_are_right(d)
    assert host.run().reason == "shutdown" and d.result.code == 0, d.error


OPS = st.lists(st.tuples(st.sampled_from(["pin", "pin", "hook", "hook", "hook", "unhook",
                                           "unhook", "unpin", "rw", "ro", "forge", "user"]),
                         st.integers(0, 2), st.integers(0, 2), st.integers(0, 1)),
               min_size=4, max_size=14)
_BOOTED = None


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(OPS)
@example([("pin", 0, 0, 0), ("hook", 0, 1, 0), ("unhook", 0, 0, 0), ("pin", 1, 0, 0)])
def test_random_pins_hooks_and_writes_keep_validation_safe(ops):
    """Any sequence of pins, unpins, pointers made and removed, mappings made writable
    and read-only, and stores of forged entries into frames the guest may write: the
    validated tables stay safe and their type counts right."""
    global _BOOTED
    if _BOOTED is None:
        host, d, pages = booted()
        _BOOTED = host, d, pages, host.save()
    host, d, pages, snap = _BOOTED
    host.restore(snap)
    pv, mem = d.technique, d.machine.mem
    frames = [d.memory.machine_address(p) for p in pages]
    foreign = next(f for f, o in pv.frames.owner.items() if o != d.name)
    for op, i, j, slot in ops:
        f, g = frames[i], frames[j]
        if op == "pin":
            pv.extended_op(MMUEXT_PIN_L3_TABLE, f)
        elif op == "unpin":
            pv.extended_op(MMUEXT_UNPIN_TABLE, f)
        elif op == "hook":  # (twice: so that tables often have two references)
            pv.update_entry(f + 8 * slot, pointer(g))
            pv.update_entry(f + 8 * (slot + 2), pointer(g))
        elif op == "unhook":
            pv.update_entry(f + 8 * slot, 0)
        elif op in ("rw", "ro"):
            pv.update_entry(leaf_of(d, pages[i]), leaf(f, op == "rw"))
        elif op == "user":  # load it as the user root, or none
            pv.extended_op(MMUEXT_NEW_USER_BASEPTR, f if slot else 0)
        elif pv.writable[f]:  # forge: a store through a writable mapping (never a table's)
            assert f not in pv.level
            mem.write_u64(f + 8 * slot, pointer(foreign) if j % 2 else leaf(foreign, True))
        assert validated_tables_are_safe(d)
        assert type_counts_are_right(d)
        assert all(pv.writable[t] == 0 for t in pv.level)
