"""What the widgets share: where their front ends are, their shared JavaScript, and the
checks they all make."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_VKERNEL = Path(__file__).resolve().parent.parent  # the vkernel package
# an editable install finds the front ends in the checkout, a wheel in vkernel/_widgets
ASSETS = _VKERNEL / "_widgets" if (_VKERNEL / "_widgets").is_dir() \
    else _VKERNEL.parent / "widgets"
# the helpers every front end uses (el, rows, hex, fmt, ...), declared once
COMMON_JS = "common.js"


def esm(name: str) -> str:
    """The ES module a widget loads: ``widgets/common.js`` followed by ``widgets/<name>``.

    anywidget loads one module per widget (its ``_esm``), and a relative ``import`` from it
    does not load in the Jupyter front end, so the shared helpers are joined in here.
    Being text, not a path, the module is read once, when the widget class is defined:
    an edited front end shows after the kernel restarts (no anywidget hot reload).

    >>> text = esm("memory_map.js")
    >>> text.count("function el(") == 1 and text.rstrip().endswith("export default { render };")
    True
    """
    parts = [COMMON_JS, name]
    return "".join(f"// ---- widgets/{part} ----\n" + (ASSETS / part).read_text(encoding="utf-8")
                   for part in parts)


def _is_vm(source: Any) -> bool:
    """A :class:`vkernel.hv.VM` (duck-typed: the widgets need not import the layer)."""
    return hasattr(source, "virtual_csrs") and hasattr(source, "machine") \
        and not _is_domain(source)


def _is_host(source: Any) -> bool:
    """A :class:`vkernel.hv.Host`: a machine, its domains and its hooks."""
    return hasattr(source, "domains") and hasattr(source, "on_exit") \
        and hasattr(source, "machine")


def _is_domain(source: Any) -> bool:
    """One :class:`~vkernel.hv.host.Domain` of a host."""
    return hasattr(source, "domid") and hasattr(source, "host")


def _check_kwargs(cls: type, kwargs: dict[str, Any], valid: tuple[str, ...]) -> None:
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(f"{cls.__name__}() got unknown keyword arguments {unknown}; "
                        f"valid ones are {', '.join(valid)}")
