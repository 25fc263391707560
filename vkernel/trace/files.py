"""Trace files: netCDF-4 (``.nc``, through h5netcdf) and Zarr v3 (``.zarr``).

Both keep every dtype (netCDF-4, unlike classic netCDF, has unsigned 64-bit integers), every
attribute and every value, so ``open_trace(save(ds))`` is identical to ``ds``. Anything
that goes wrong reading a file comes out as a :class:`~vkernel.TraceError` that names the
file and says what is wrong with it.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vkernel.errors import TraceError
from vkernel.trace.schema import (
    CONTROL_DOMAIN,
    FAMILIES,
    NO_MODE,
    SCHEMA_VERSION,
    VARIABLES,
    check_version,
    validate,
)

CHUNK_ROWS = 1 << 20  # rows per chunk on disk: a widget's window reads one or two


def _zarr_codecs(fast: bool = False) -> tuple[Any, ...]:
    """Byte shuffle groups the bytes of neighbouring values (pcs differ in their low bytes
    only), which lets the compressor find the repeats. A saved file gets zstd (smallest);
    a stream written during a run gets lz4, about twice as fast for some 3x the bytes
    (measured on the benchmark workload: 0.2 against 0.075 bytes per step)."""
    from zarr.codecs import BloscCodec

    if fast:
        return (BloscCodec(cname="lz4", clevel=1, shuffle="shuffle"),)
    return (BloscCodec(cname="zstd", clevel=3, shuffle="shuffle"),)


def trace_format(path: str | os.PathLike[str]) -> str:
    """``"netcdf"`` or ``"zarr"``, from the file name's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".nc":
        return "netcdf"
    if suffix == ".zarr":
        return "zarr"
    raise TraceError(f"{os.fspath(path)}: a trace file is named .nc (netCDF-4) or .zarr "
                     f"(Zarr v3), not {suffix or 'without a suffix'}")


def zarr_encoding(ds: xr.Dataset, chunk_rows: int | None = None) -> dict[str, dict[str, Any]]:
    """Chunks of ``chunk_rows`` rows and the fast codec (for a store that grows as a run
    goes), or chunks of up to :data:`CHUNK_ROWS` and the small codec (a store written
    once)."""
    codecs = _zarr_codecs(fast=chunk_rows is not None)
    return {str(name): {"chunks": (chunk_rows or max(1, min(CHUNK_ROWS, var.size)),),
                        "compressors": codecs}
            for name, var in ds.variables.items()}


def _netcdf_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    enc = {}
    for name, var in ds.variables.items():
        if var.size:
            enc[str(name)] = {"zlib": True, "complevel": 4, "shuffle": True,
                              "chunksizes": (min(CHUNK_ROWS, var.size),)}
    return enc


def is_trace(path: Path) -> bool:
    """Whether ``path`` holds a vkernel trace (so it may be replaced by a new one)."""
    try:
        open_trace(path, check=False).close()
    except TraceError:
        return False
    return True


def refuse_to_clobber(path: Path) -> None:
    """A new trace may replace an old trace, never anything else."""
    if path.exists() and not is_trace(path):
        raise TraceError(f"refusing to overwrite {path}: it exists and is not a vkernel trace")


def remove_trace(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def save(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a trace to ``path`` (``.nc`` or ``.zarr``); an existing trace there is
    replaced, anything else is left alone (:class:`TraceError`)."""
    path = Path(path)
    fmt = trace_format(path)
    validate(ds, values=False)
    refuse_to_clobber(path)
    # write next to the target and rename into place: a failed write loses nothing
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    remove_trace(tmp)
    try:
        if fmt == "netcdf":
            ds.to_netcdf(tmp, engine="h5netcdf", format="NETCDF4",
                         encoding=_netcdf_encoding(ds))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)  # consolidated metadata
                ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False,
                           encoding=zarr_encoding(ds))
        remove_trace(path)
        os.replace(tmp, path)
    finally:
        remove_trace(tmp)
    return path


def _range_indexes(ds: xr.Dataset, exact: bool) -> xr.Dataset:
    """Give each dimension its index. Coordinates vkernel writes are consecutive integers,
    so a lazy ``pandas.RangeIndex`` replaces reading them (8 bytes a row) into memory.
    ``exact`` compares every value; otherwise (a lazily opened file) the first, middle and
    last."""
    for dim in list(ds.dims):
        if dim not in ds.coords:
            continue
        c = ds.coords[dim].variable
        n = c.shape[0]
        if n and c.dtype == np.int64:
            first, last = int(c[0].values), int(c[n - 1].values)
            if exact:
                consecutive = np.array_equal(c.values, np.arange(first, first + n))
            else:
                consecutive = last - first == n - 1 and int(c[n // 2].values) == first + n // 2
            if consecutive:
                idx = xr.indexes.PandasIndex(pd.RangeIndex(first, last + 1, name=dim), dim)
                coords = xr.Coordinates.from_xindex(idx)
                coords[dim].attrs.update(c.attrs)
                ds = ds.drop_vars(dim).assign_coords(coords)
                continue
        ds = ds.set_xindex(dim)
    return ds


def _normalise_attrs(ds: xr.Dataset) -> None:
    """Zarr keeps attributes as JSON: give flag_values back their variable's dtype."""
    for name, da in ds.variables.items():
        fv = da.attrs.get("flag_values")
        if fv is not None and str(name) in VARIABLES:
            da.attrs["flag_values"] = np.asarray(fv, dtype=VARIABLES[str(name)].dtype)
    for key, value in list(ds.attrs.items()):
        if isinstance(value, np.integer):
            ds.attrs[key] = int(value)


# what schema 3 added to schema 2: a file of version 2 gets them when it is read
NEW_IN_3 = (*(f"{f}_domain" for f in FAMILIES), "hv_from_mode", "hv_to_mode", "hv_level")
# ... and what schema 5 added: the entries of memory events (0 in an older file's rows)
NEW_IN_5 = ("hv_vaddr", "hv_entry", "hv_satp")


def upgrade(ds: xr.Dataset) -> xr.Dataset:
    """A trace of an older schema version as the current one. From version 2: every row
    gets the domain (1 for a virtual machine's trace, whose ``technique`` attribute names
    a hypervisor technique: a schema 2 file holds one guest, the first domain; 0 without
    one), and hv rows get :data:`~vkernel.trace.schema.NO_MODE` for their modes (so
    ``ds.vk`` infers them, as it did for version 2). From version 3 (and 2): the flags of
    hv_event and walk_result gain the new values (no row changes). From version 4 (and
    older): hv rows get ``hv_vaddr``, ``hv_entry`` and ``hv_satp`` as 0 (not recorded), and
    io_device's flags the board's other devices (4, the one transport, is ``virtio0``).
    The ``recording`` attribute says ``schema_upgraded_from``. A current trace is returned as it is.

    The added columns are constant views (no memory per row): copy one before writing
    into it."""
    version = int(ds.attrs["trace_schema"])
    if version >= SCHEMA_VERSION:
        return ds
    domain = CONTROL_DOMAIN if ds.attrs.get("technique", "native") == "native" else 1
    added = {}
    for name in (*NEW_IN_3, *NEW_IN_5):
        family = name.split("_", 1)[0]
        if family not in ds.dims or name in ds.variables:
            continue
        v = VARIABLES[name]
        fill = np.asarray(domain if name.endswith("_domain") else
                          0 if name in NEW_IN_5 else NO_MODE, v.dtype)
        added[name] = xr.Variable((family,), np.broadcast_to(fill, (ds.sizes[family],)),
                                  attrs=v.attrs())
    ds = ds.assign(added)
    # versions 3, 4 and 5 added events to hv_event's flags (and said what their cause and
    # detail are), version 4 a result to walk_result's, version 5 devices to io_device's
    for name in ("hv_event", "hv_cause", "hv_detail", "walk_result", "io_device"):
        if name in ds.data_vars:
            ds[name].attrs.update(VARIABLES[name].attrs())
    recording = json_attr(ds, "recording")
    recording["schema_upgraded_from"] = version
    ds.attrs["recording"] = json.dumps(recording, sort_keys=True)
    ds.attrs["trace_schema"] = SCHEMA_VERSION
    return ds


LAZY_BYTES = 256 << 20  # traces larger than this in memory are opened lazily by default


def open_trace(path: str | os.PathLike[str], *, lazy: bool | None = None,
               check: bool = True) -> xr.Dataset:
    """Open a trace saved by :meth:`Dataset.vk.save` (or streamed by the machine).

    A trace of up to 256 MiB (uncompressed) is read into memory at once, so a damaged
    file is found here; a larger one (or ``lazy=True``) is opened lazily: variables are
    read when used, a chunk at a time. Raises :class:`~vkernel.TraceError` for a missing
    or unreadable file, a file that is not a vkernel trace, or a trace of a newer schema
    version than this vkernel reads. A trace of an older version is upgraded to this one
    as it is read (:func:`upgrade`).

    >>> import vkernel
    >>> vkernel.open_trace("nowhere.nc")
    Traceback (most recent call last):
    ...
    vkernel.errors.TraceError: nowhere.nc: no such file or directory
    """
    from vkernel.trace import accessor  # noqa: F401  (the Dataset gets ds.vk)

    path = Path(path)
    fmt = trace_format(path)
    if not path.exists():
        raise TraceError(f"{path}: no such file or directory")
    opts: dict[str, Any] = {"mask_and_scale": False, "decode_times": False,
                            "create_default_indexes": False}
    try:
        if fmt == "netcdf":
            with path.open("rb") as f:
                magic = f.read(8)
            if magic != b"\x89HDF\r\n\x1a\n":
                kind = "a classic netCDF file" if magic[:3] == b"CDF" else "not a netCDF-4 file"
                raise TraceError(f"{path}: {kind}; vkernel traces are netCDF-4 (HDF5)")
            ds = xr.open_dataset(path, engine="h5netcdf", **opts)
        else:
            if not (path / "zarr.json").is_file():
                raise TraceError(f"{path}: not a Zarr v3 store (no zarr.json)")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                ds = xr.open_dataset(path, engine="zarr", consolidated=False, chunks=None,
                                     zarr_format=3, **opts)
    except TraceError:
        raise
    except Exception as e:  # h5py, zarr and xarray each raise their own kinds
        raise TraceError(f"{path}: cannot be read as {fmt}: {type(e).__name__}: {e}") from e
    try:
        check_version(ds, str(path))
        if not check:
            return ds
        if lazy is None:
            lazy = ds.nbytes > LAZY_BYTES
        ds = _range_indexes(ds, exact=not lazy)
        ds = upgrade(ds)
        ordered = [n for n in VARIABLES if n in ds.data_vars]  # the schema's order
        ds = ds[ordered + [str(n) for n in ds.data_vars if n not in VARIABLES]]
        _normalise_attrs(ds)
        validate(ds, values=False)
        if not lazy:
            loaded = ds.load()
            ds.close()
            ds = loaded
    except TraceError as e:
        ds.close()
        raise TraceError(f"{path}: {e}" if not str(e).startswith(str(path)) else str(e)) \
            from None
    except Exception as e:
        ds.close()
        raise TraceError(f"{path}: damaged trace: {type(e).__name__}: {e}") from e
    return ds


def families_in(ds: xr.Dataset) -> list[str]:
    return [f for f in FAMILIES if f in ds.dims]


def json_attr(ds: xr.Dataset, name: str) -> dict[str, Any]:
    try:
        return json.loads(ds.attrs[name])
    except (KeyError, TypeError, ValueError) as e:
        raise TraceError(f"this Dataset has no valid {name!r} attribute") from e
