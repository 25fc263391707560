"""``link``: keep views (a RingTimeline, MachineViews) on one step."""

from __future__ import annotations

from typing import Any


class Link:
    """Views kept on the same step (made by :func:`link`). The step is the trace's: the
    number of instructions retired; each view names the trait that holds it
    (``LINK_TRAIT``) and moves with ``show(step)``."""

    def __init__(self, views: tuple[Any, ...]) -> None:
        self.views = views
        self._busy = False
        for v in views:
            v.observe(self._moved, names=v.LINK_TRAIT)

    def _moved(self, change: Any) -> None:
        if self._busy or change["new"] < 0:
            return
        self._busy = True  # the views we move must not move us back
        try:
            for v in self.views:
                if v is not change["owner"] and getattr(v, v.LINK_TRAIT) != change["new"]:
                    v.show(change["new"])
        finally:
            self._busy = False

    def unlink(self) -> None:
        for v in self.views:
            v.unobserve(self._moved, names=v.LINK_TRAIT)


def link(*views: Any) -> Link:
    """Keep views on one step: clicking a transition in a :class:`RingTimeline` moves a
    linked :class:`MachineView` to just before it (press Step to watch it happen), and
    stepping the machine moves the timeline's cursor. Steps are the trace's: instructions
    retired since reset.

    >>> import vkernel
    >>> from vkernel.widgets import MachineView, RingTimeline
    >>> program = vkernel.assemble("li a0, 1\\nli a0, 2\\nli a0, 3\\nebreak")
    >>> m = vkernel.Machine(ram_mb=1, trace="all")
    >>> _ = m.load(program)
    >>> _ = m.run(max_steps=3)
    >>> tl = RingTimeline(m)
    >>> replay = vkernel.Machine(ram_mb=1)  # a second machine, stepped by the view
    >>> _ = replay.load(program)
    >>> view = MachineView(replay)
    >>> _ = link(tl, view)
    >>> tl.goto(2); view.instret, view.register("a0")
    (2, 2)
    >>> view.do("step"); tl.step
    3
    """
    if len(views) < 2:
        raise TypeError("link() needs two views or more")
    for v in views:
        if not (hasattr(v, "show") and v.has_trait(getattr(v, "LINK_TRAIT", ""))):
            raise TypeError(f"{type(v).__name__} cannot be linked: it has no step to follow")
    return Link(views)
