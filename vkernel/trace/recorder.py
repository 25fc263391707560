"""Where a machine's recorded events go: memory, a ring of the last steps, or a Zarr store.

The numba core writes rows into small reused buffers; when one fills (or the run stops)
:class:`~vkernel.machine.Machine` drains them here as named columns with the schema's
dtypes. A :class:`Recorder` keeps them according to its mode:

``"all"``     every row, in memory;
``"last"``    only rows of the last ``last`` steps (a ring, for interactive use);
``"stream"``  rows appended to a Zarr store in chunks as the run goes, so memory stays
              flat however long the run.

:meth:`Recorder.dataset` turns what is kept into the trace Dataset.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vkernel.errors import TraceError
from vkernel.trace import accessor  # noqa: F401  (the Datasets it builds get ds.vk)
from vkernel.trace.files import (
    CHUNK_ROWS,
    open_trace,
    refuse_to_clobber,
    remove_trace,
    trace_format,
    zarr_encoding,
)
from vkernel.trace.schema import FAMILIES, coordinate_attrs

MODES = ("all", "last", "stream")
_EPOCHS = itertools.count(1)


@dataclass
class _Rows:
    """The rows of one family: kept chunks, and how many rows there have ever been."""

    chunks: list[dict[str, np.ndarray]] = field(default_factory=list)
    kept: int = 0  # rows in chunks
    total: int = 0  # rows appended since recording started (the next row's coordinate)
    written: int = 0  # stream mode: rows already in the store

    def concat(self) -> dict[str, np.ndarray]:
        if len(self.chunks) > 1:
            self.chunks = [{k: np.concatenate([c[k] for c in self.chunks])
                            for k in self.chunks[0]}]
        return self.chunks[0] if self.chunks else {}


def _empty(family: str) -> dict[str, np.ndarray]:
    return {v.name: np.zeros(0, v.dtype) for v in FAMILIES[family].variables}


def family_dataset(family: str, cols: dict[str, np.ndarray], start: int) -> xr.Dataset:
    """One family's rows as a Dataset; the coordinate counts from ``start`` (a lazy
    range: it costs no memory)."""
    n = len(next(iter(cols.values()))) if cols else 0
    idx = xr.indexes.PandasIndex(pd.RangeIndex(start, start + n, name=family), family)
    coords = xr.Coordinates.from_xindex(idx)
    coords[family].attrs.update(coordinate_attrs(family))
    ds = xr.Dataset(coords=coords)
    for v in FAMILIES[family].variables:
        ds[v.name] = xr.Variable((family,), cols[v.name], attrs=v.attrs())
    return ds


class Recorder:
    """Keeps the rows a machine drains, by mode (see the module's docstring).

    ``first_step`` is the step the recording starts at (the machine's retired count);
    ``counters`` the machine's counters then, reported with the Dataset.
    """

    def __init__(self, families: tuple[str, ...], first_step: int, counters: dict[str, int],
                 *, mode: str = "all", last: int = 100_000, path: Path | None = None,
                 chunk_rows: int = CHUNK_ROWS, attrs: dict[str, Any] | None = None,
                 sample_every: int | None = None) -> None:
        if mode not in MODES:
            raise TraceError(f"unknown recording mode {mode!r}; choose from {', '.join(MODES)}")
        if mode == "last" and (not isinstance(last, int) or last < 1):
            raise TraceError(f"last must be a positive number of steps, not {last!r}")
        if not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise TraceError(f"chunk_rows must be a positive number of rows, not "
                             f"{chunk_rows!r}")
        if mode == "stream":
            if path is None:
                raise TraceError("mode='stream' needs path=, a .zarr store to write")
            if trace_format(path) != "zarr":
                raise TraceError(f"{path}: a streamed trace is written to a .zarr store")
        elif path is not None:
            raise TraceError(f"path= is only for mode='stream' (mode is {mode!r}); save an "
                             f"in-memory trace with trace_dataset().vk.save(path)")
        self.families = families
        self.mode = mode
        self.last = last
        self.path = Path(path) if path is not None else None
        self.chunk_rows = chunk_rows
        self.sample_every = sample_every
        self.start_counters = dict(counters)
        self.end_counters: dict[str, int] | None = None  # set when recording stops
        self._attrs = dict(attrs or {})
        self.restart(first_step, counters)

    # --- rows in ------------------------------------------------------------------------
    def restart(self, first_step: int, counters: dict[str, int]) -> None:
        """Forget every row: the recording starts again at ``first_step``."""
        self.epoch = next(_EPOCHS)  # snapshots taken before this cannot cut these rows
        self.first_step = first_step
        self.start_counters = dict(counters)
        self.end_counters = None
        self.rows = {f: _Rows() for f in self.families}
        if self.mode == "stream":
            self._create_store()

    def add(self, family: str, cols: dict[str, np.ndarray], now: int) -> None:
        """Take one drained chunk of ``family``; ``now`` is the machine's current step."""
        r = self.rows[family]
        n = len(next(iter(cols.values())))
        r.chunks.append(cols)
        r.kept += n
        r.total += n
        if self.mode == "last":
            self._trim(family, now)
        elif self.mode == "stream" and r.kept >= self.chunk_rows:
            self._write(family, whole_chunks=True)

    def _trim(self, family: str, now: int) -> None:
        """Drop whole chunks that lie entirely before the ring's first step (the exact cut
        is made when the Dataset is built)."""
        r = self.rows[family]
        bound = now - self.last
        while len(r.chunks) > 1:
            first = r.chunks[0]
            n = len(next(iter(first.values())))
            if family == "step":
                end = self.first_step + r.total - r.kept + n  # step after its last row
            else:
                end = int(first[f"{family}_step"][-1]) + 1
            if end > bound:
                break
            r.chunks.pop(0)
            r.kept -= n

    def stop(self, counters: dict[str, int]) -> None:
        """Recording stopped: keep the rows and the counters at this point."""
        self.end_counters = dict(counters)
        self.flush()

    # --- marks for snapshots --------------------------------------------------------------
    def mark(self) -> dict[str, int]:
        return {f: r.total for f, r in self.rows.items()}

    def truncate(self, mark: dict[str, int], step: int, counters: dict[str, int]) -> None:
        """Go back to ``mark`` (the machine restored a snapshot taken at ``step``). Going
        forward past what was recorded cannot be filled in: the recording restarts."""
        if set(mark) != set(self.rows) or any(mark[f] > r.total for f, r in self.rows.items()):
            self.restart(step, counters)
            return
        for f, r in self.rows.items():
            drop = r.total - mark[f]
            if drop == 0:
                continue
            cols = r.concat()
            keep = max(r.kept - drop, 0)
            r.chunks = [{k: v[:keep].copy() for k, v in cols.items()}] if keep else []
            r.kept = keep
            r.total = mark[f]
            if self.mode == "stream" and r.written > r.total:
                self._queue.join()
                self._resize(f, r.total)
        self.end_counters = None

    # --- stream mode --------------------------------------------------------------------
    def _create_store(self) -> None:
        assert self.path is not None
        if getattr(self, "_thread", None) is not None:
            self.close()  # a restart: the old writer finishes first
        refuse_to_clobber(self.path)
        remove_trace(self.path)
        ds = self._skeleton()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            ds.to_zarr(self.path, mode="w", zarr_format=3, consolidated=False,
                       encoding=zarr_encoding(ds, self.chunk_rows))
        import zarr

        self._group = zarr.open_group(self.path, mode="r+", zarr_format=3)
        # Zarr compares every chunk with the fill value to skip empty ones: a trace has
        # none, and the comparison costs more than compressing
        self._arrays = {name: arr.with_config({"write_empty_chunks": True})
                        for name, arr in self._group.arrays()}
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: Exception | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._writer, name=f"vkernel trace writer {self.path.name}", daemon=True)
        self._thread.start()

    def _skeleton(self) -> xr.Dataset:
        ds = xr.merge([family_dataset(f, _empty(f), 0) for f in self.families],
                      combine_attrs="override") if self.families else xr.Dataset()
        ds.attrs = self._dataset_attrs(self._attrs)
        return ds

    def _write(self, family: str, whole_chunks: bool = False) -> None:
        """Hand pending rows to the writer thread; ``whole_chunks`` keeps back a partial
        chunk, so that Zarr never has to read back and rewrite one."""
        r = self.rows[family]
        n = r.kept - r.kept % self.chunk_rows if whole_chunks else r.kept
        if not n:
            return
        cols = r.concat()
        coord = np.arange(r.written, r.written + n, dtype=np.int64)
        if family == "step":
            coord += self.first_step
        # at most two batches wait: the run slows to the disk's pace, memory stays flat
        self._queue.put((family, {k: v[:n] for k, v in cols.items()}, coord))
        r.written += n
        r.chunks = [{k: v[n:].copy() for k, v in cols.items()}] if n < r.kept else []
        r.kept -= n
        self._raise_writer_error()

    def _writer(self) -> None:
        """The writer thread: compresses and appends batches while the hart runs (the
        numba core releases the GIL)."""
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                family, cols, coord = item
                if self._error is None:
                    for name, values in cols.items():
                        self._arrays[name].append(values)
                    self._arrays[family].append(coord)
            except Exception as e:  # disk full, store removed, ...: reported by the run
                self._error = e
            finally:
                self._queue.task_done()

    def _raise_writer_error(self) -> None:
        if self._error is not None:
            e, self._error = self._error, None
            raise TraceError(f"writing the trace to {self.path} failed: "
                             f"{type(e).__name__}: {e}") from e

    def _resize(self, family: str, n: int) -> None:
        for v in FAMILIES[family].variables:
            self._arrays[v.name].resize((n,))
        self._arrays[family].resize((n,))
        self.rows[family].written = n

    def flush(self) -> None:
        """Stream mode: write every pending row to the store and wait until it is there."""
        if self.mode == "stream":
            for f in self.families:
                self._write(f)
            self._queue.join()
            self._raise_writer_error()

    # --- the Dataset ----------------------------------------------------------------------
    def _dataset_attrs(self, attrs: dict[str, Any],
                       counters: dict[str, int] | None = None) -> dict[str, Any]:
        recording: dict[str, Any] = {"mode": self.mode, "families": list(self.families),
                                     "first_step": self.first_step}
        if self.mode == "last":
            recording["last"] = self.last
        if self.sample_every is not None:
            recording["sample_every"] = self.sample_every
        recording["counters"] = {k: [v, (counters or self.start_counters)[k]]
                                 for k, v in self.start_counters.items()}
        out = dict(attrs)
        out["recording"] = json.dumps(recording, sort_keys=True)
        return out

    def dataset(self, attrs: dict[str, Any], now: int, counters: dict[str, int]) -> xr.Dataset:
        """The trace so far: ``attrs`` are the Dataset attributes (without
        ``recording``), ``now`` the machine's step, ``counters`` its counters."""
        self._attrs = dict(attrs)
        final = self._dataset_attrs(attrs, self.end_counters or counters)
        if self.mode == "stream":
            self.flush()
            self._group.attrs.update(final)
            ds = open_trace(self.path)
            return ds
        parts = []
        bound = now - self.last if self.mode == "last" else None
        for f in self.families:
            r = self.rows[f]
            cols = r.concat() or _empty(f)
            start = r.total - r.kept
            if bound is not None:
                if f == "step":
                    cut = min(max(bound - (self.first_step + start), 0), r.kept)
                else:
                    cut = int(np.searchsorted(cols[f"{f}_step"], bound, side="left"))
                if cut:
                    cols = {k: v[cut:] for k, v in cols.items()}
                    start += cut
            if f == "step":
                start += self.first_step
            parts.append(family_dataset(f, cols, start))
        ds = xr.merge(parts, combine_attrs="override", join="outer", compat="override") \
            if parts else xr.Dataset()
        ds.attrs = final
        return ds

    def columns(self, family: str) -> dict[str, np.ndarray]:
        """Every kept row of ``family`` (all of them in mode "all")."""
        if family not in self.rows:
            return _empty(family)
        if self.mode == "stream":
            raise TraceError("a streamed trace is on disk: read it with trace_dataset()")
        return dict(self.rows[family].concat() or _empty(family))

    def close(self) -> None:
        """Write what is pending; a stream's writer thread ends."""
        self.flush()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            self._queue.put(None)
            thread.join()
            self._thread = None
