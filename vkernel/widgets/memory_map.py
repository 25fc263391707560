"""``MemoryMap``: a host's machine frames as a grid coloured by owner (front end
``widgets/memory_map.js``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import numpy as np
import traitlets

from vkernel.core import kernel as K
from vkernel.hv.balloon import TARGET
from vkernel.plots import PALETTE
from vkernel.widgets._common import ASSETS, _check_kwargs, _is_host, esm

PAGE = 4096
HYPERVISOR = "hypervisor"  # vkernel.hv.memory.HYPERVISOR: the owner of its structures
FREE, OWN = 0, 1  # the categories every map has: free frames, the hypervisor's own
HYPERVISOR_COLOUR = PALETTE[9]  # slate: no domain's colour (domains take PALETTE[0..8])
SHARED = "shared"  # vkernel.hv.sharing.SHARED: frames several guest pages use (read-only)
NO_FRAME = (1 << 64) - 1  # vkernel.hv.memory.NO_FRAME: an hv row's entry for no frame


class MemoryMap(anywidget.AnyWidget):
    """A :class:`~vkernel.hv.Host`'s machine memory, one cell per 4 KiB frame, coloured by
    owner: each domain's RAM (in its colour), the hypervisor's structures kept for a
    domain (its shadow or G-stage tables, a translation cache: the domain's colour,
    striped, since they are charged to it), the hypervisor's own frames, and free ones.
    The legend counts each; hovering a frame names its owner and, for a domain's RAM, the
    guest physical page it backs (the p2m read backwards: ``memory.m2p``).

    Read from ``host.frames`` (``owner`` and ``charged``) now and at each
    :meth:`refresh`, and at each step of a :class:`MachineView` of the same host linked
    with :func:`link`. ``columns`` is how many frames a row of the grid holds.

    Replaying a trace: the hv rows ``balloon``, ``share``, ``unshare`` and ``swap``
    (schema events 14-17) move frames between owners, each saying which guest page
    (``hv_detail``) of which domain is backed by which frame now (``hv_entry``; none:
    ballooned out or on disk); a ``balloon`` row of cause 2 (the host set a target)
    moves no page and is not replayed. :meth:`replay` applies them, on top of the map as it is
    (make the map when the trace begins, or :meth:`refresh` to start again from the
    host's frames), in step order, each through the handler registered for its event
    in :attr:`replayers` (``{event name: fn(map, row)}``, ``row`` a dict of the hv row's
    columns without the ``hv_`` prefix); the built-in one, :meth:`repoint`, frees the
    frame a page leaves (once no shared page uses it) and gives the page its new one.
    Rows of an event with no handler are counted in ``note``. The hypervisor's own
    frames taken or given back meanwhile (new shadow tables, say) are not hv rows: the
    map does not replay them.

    >>> from vkernel.hv import Host
    >>> host = Host(machine_mb=16)
    >>> _ = host.create("hello", technique="hardware", name="a", memory_mb=4)
    >>> _ = host.create("hello", technique="paravirt", name="b", memory_mb=4)
    >>> mm = MemoryMap(host)
    >>> a = mm.counts["a: RAM"], mm.counts["a: hypervisor structures"]
    >>> a[0], sum(a) == host.frames.usage()["a"]
    (1024, True)
    """

    _esm = esm("memory_map.js")
    _css = ASSETS / "vkernel.css"

    base = traitlets.Int(0).tag(sync=True)  # the machine address of the first frame
    columns = traitlets.Int(128).tag(sync=True)
    # one uint8 per frame: its category, an index into legend
    frames = traitlets.Bytes(b"").tag(sync=True)
    # one uint32 per frame: the guest physical page number it backs (0: none)
    gpages = traitlets.Bytes(b"").tag(sync=True)
    # [label, colour, count, style ("solid", "striped", "free"), title] per category
    legend = traitlets.List().tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    step = traitlets.Int(-1).tag(sync=True)  # the step of a linked view it last followed

    _KWARGS = ("columns",)
    LINK_TRAIT = "step"
    # hv events that move frames between owners, and what replays them (see replay())
    REPLAYED = ("balloon", "share", "unshare", "swap")

    def __init__(self, host: Any, **kwargs: Any) -> None:
        _check_kwargs(type(self), kwargs, self._KWARGS)
        if not _is_host(host):
            host = getattr(host, "host", None)  # a VM or a domain: its host
        if host is None or not hasattr(host, "frames"):
            raise TypeError("MemoryMap needs a vkernel.hv.Host (or a VM or a domain of one)")
        super().__init__()
        self.host = host
        self.columns = int(kwargs.get("columns", 128))
        if self.columns < 1:
            raise ValueError("columns must be positive")
        self.replayers: dict[str, Callable[[MemoryMap, dict[str, Any]], None]] = {
            event: MemoryMap.repoint for event in self.REPLAYED}
        self.refresh()

    def refresh(self) -> None:
        """Read the host's frames again: owners, accounts and each domain's p2m."""
        host = self.host
        machine = host.machine
        self.base = K.RAM_BASE
        n = machine.mem.size // PAGE
        names = [d.name for d in host.domains]
        # categories: free, the hypervisor's own, then per domain its RAM and the
        # hypervisor's structures charged to it
        self._labels = ["free", "hypervisor (its own)"]
        for nm in names:
            self._labels += [f"{nm}: RAM", f"{nm}: hypervisor structures"]
        self._labels.append("shared (copy-on-write)")  # last: the domains' indices stay
        category = np.zeros(n, np.uint8)
        gpages = np.zeros(n, np.uint32)
        where = {nm: 2 + 2 * i for i, nm in enumerate(names)}
        frames = host.frames
        for frame, owner in frames.owner.items():
            account = frames.charged.get(frame, owner)
            i = (frame - self.base) // PAGE
            if owner == HYPERVISOR:
                category[i] = where[account] + 1 if account in where else OWN
            elif owner == SHARED:
                category[i] = len(self._labels) - 1
            elif owner in where:
                category[i] = where[owner]
            else:  # someone not among the domains (a destroyed one's, not yet freed)
                category[i] = OWN
        # for a replay: the frame behind each (domid, guest page), and how many pages
        # each frame backs (more than one: shared)
        self._backing: dict[tuple[int, int], int] = {}
        self._users: dict[int, int] = {}
        for d in host.domains:
            memory = getattr(d, "memory", None)
            # a native guest owns the machine: no frames handed out, its RAM is all of it
            native = memory is not None and getattr(memory, "frames", None) is None
            for mfn, gpa in getattr(memory, "m2p", {}).items():
                i = (mfn - self.base) // PAGE
                if 0 <= i < n:
                    gpages[i] = gpa // PAGE
                    if native:
                        category[i] = where[d.name]
            if memory is not None and not native:
                for i, mfn in enumerate(memory.p2m.tolist()):
                    if mfn >= 0:
                        self._backing[(d.domid, memory.base + i * PAGE)] = mfn
                        self._users[mfn] = self._users.get(mfn, 0) + 1
        self._category, self._gpages = category, gpages
        self._update()

    def show(self, step: int) -> None:
        """Follow a linked view to ``step``: read the host's frames again (linked with a
        :class:`MachineView` stepping this host, the map follows its run)."""
        self.step = int(step)
        self.refresh()

    def set_frame(self, frame: int, owner: str, *, charged: str | None = None,
                  gpa: int | None = None) -> None:
        """Change one frame (a machine address) on the map, as a replay handler does:
        ``owner`` a domain's name, ``"hypervisor"`` (``charged`` to a domain or not),
        ``"shared"`` or ``"free"``; ``gpa`` the guest physical address it now backs."""
        i = (int(frame) - self.base) // PAGE
        if owner == SHARED:
            self._category[i] = len(self._labels) - 1
        elif owner == "free":
            self._category[i], self._gpages[i] = FREE, 0
        elif owner == HYPERVISOR:
            label = f"{charged}: hypervisor structures"
            self._category[i] = self._labels.index(label) if label in self._labels else OWN
        else:
            self._category[i] = self._labels.index(f"{owner}: RAM")
        if gpa is not None:
            self._gpages[i] = int(gpa) // PAGE

    def repoint(self, row: dict[str, Any]) -> None:
        """Replay one hv row that changed a domain's p2m (``balloon``, ``share``,
        ``unshare``, ``swap``): guest page ``detail`` of domain ``domain`` is backed by
        frame ``entry`` now (all ones: by none). The frame it leaves is free once no
        page uses it; the new one is the domain's, or shared (a ``share`` row, or a
        frame other pages still use)."""
        d = next((d for d in self.host.domains if d.domid == row["domain"]), None)
        if d is None:
            return  # (a domain destroyed since: its frames are not on the map)
        page, new = (int(row["detail"]) & ~(PAGE - 1), int(row["entry"]))
        old = self._backing.pop((d.domid, page), None)
        if old is not None:
            self._users[old] -= 1
            if not self._users[old]:
                del self._users[old]
                self.set_frame(old, "free")
        if new == NO_FRAME:
            return
        self._backing[(d.domid, page)] = new
        self._users[new] = self._users.get(new, 0) + 1
        shared = row["event_name"] == "share" or self._users[new] > 1
        self.set_frame(new, SHARED if shared else d.name, gpa=page)

    def replay(self, ds: Any, upto: int | None = None) -> int:
        """Apply the ``hv`` rows of ``ds`` that move frames (:attr:`REPLAYED`), up to step
        ``upto``, through :attr:`replayers`; returns how many were applied."""
        from vkernel.trace.schema import HV_EVENT

        if "hv_event" not in ds:
            raise ValueError("replay needs a trace with the hv family")
        code = {name: c for c, name in HV_EVENT.items()}
        events = ds["hv_event"].values
        keep = np.isin(events, [code[e] for e in self.REPLAYED])
        if upto is not None:
            keep &= ds["hv_step"].values <= upto
        if "hv_cause" in ds:  # a balloon row of cause 2 sets a target: it moves no page
            keep &= ~((events == code["balloon"]) & (ds["hv_cause"].values == TARGET))
        applied, skipped = 0, {}
        for r in np.flatnonzero(keep):
            name = HV_EVENT[int(events[r])]
            handler = self.replayers.get(name)
            if handler is None:
                skipped[name] = skipped.get(name, 0) + 1
                continue
            row = {v[3:]: ds[v].values[r].item() for v in ds.data_vars
                   if v.startswith("hv_")}
            handler(self, {**row, "event_name": name})
            applied += 1
        self.note = "; ".join(f"{n} {name} rows not replayed (no handler)"
                              for name, n in skipped.items())
        self._update()
        return applied

    @property
    def counts(self) -> dict[str, int]:
        """Frames per category, by label (free, the hypervisor's own, each domain's RAM
        and the hypervisor's structures charged to it)."""
        counts = np.bincount(self._category, minlength=len(self._labels))
        return dict(zip(self._labels, counts.tolist(), strict=True))

    def _update(self) -> None:
        counts = self.counts
        legend = []
        for i, label in enumerate(self._labels):
            if i == FREE:
                colour, style, title = "", "free", "frames no one owns: the next ones handed out"
            elif i == OWN:
                colour, style = HYPERVISOR_COLOUR, "solid"
                title = "the hypervisor's own frames, charged to no domain"
            elif i == len(self._labels) - 1:
                colour, style = PALETTE[10], "solid"
                title = ("frames shared by identical guest pages (content-based page "
                         "sharing): read-only, copied on a guest's first write")
            else:
                d = (i - 2) // 2
                colour = PALETTE[d % 9]
                name = self.host.domains[d].name
                if i % 2 == 0:
                    style, title = "solid", f"{name}'s guest physical memory: each frame " \
                                            "backs one guest page (hover to see which)"
                else:
                    style, title = "striped", f"the hypervisor's structures kept for " \
                        f"{name} (its G-stage or shadow tables, a translation cache), " \
                        "charged to it"
            legend.append([label, colour, counts[label], style, title])
        self.legend = legend
        self.frames = self._category.tobytes()
        self.gpages = self._gpages.astype("<u4").tobytes()
