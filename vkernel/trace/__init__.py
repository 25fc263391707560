"""Traces: every fetch, trap, page walk and I/O exchange of a run as an xarray Dataset.

* :mod:`vkernel.trace.schema`   the variables, their units and meanings; :func:`validate`
* :mod:`vkernel.trace.recorder` where a machine's events go (memory, ring, Zarr stream)
* :mod:`vkernel.trace.files`    netCDF-4 and Zarr v3 files: :func:`open_trace`
* :mod:`vkernel.trace.accessor` ``ds.vk``: analyses of a trace

>>> import vkernel
>>> m = vkernel.Machine(ram_mb=1, trace=("step", "trap"))
>>> _ = m.load(vkernel.assemble("li a0, 1\\nebreak"))
>>> _ = m.run(max_steps=2)
>>> ds = vkernel.trace.validate(m.trace_dataset())
>>> ds.sizes["step"], ds.vk.to_dataframe("trap").cause.iloc[0]
(1, 'breakpoint')
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from vkernel.errors import TraceError
from vkernel.trace.schema import FAMILIES, SCHEMA_VERSION, validate

# xarray and zarr load on first use, so that a machine that records nothing starts quickly
_LAZY = {"open_trace": "vkernel.trace.files", "save": "vkernel.trace.files"}

__all__ = ["FAMILIES", "SCHEMA_VERSION", "TraceError", "open_trace", "save", "validate"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vkernel.trace' has no attribute {name!r}")
