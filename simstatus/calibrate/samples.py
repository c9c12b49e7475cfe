"""Calibration samples: what ``simstatus calibrate`` records, and reading them back from a file.

Two forms are accepted (docs/calibration.md):

* **API samples** (what the live sampler writes): one row per service per sample of
  ``GET /os-services``: ``host``, ``binary``, ``sampled_at`` (the sampler's clock), ``updated_at``
  (the service row's timestamp, the database's clock), ``state`` (``up``/``down``), ``status``
  (``enabled``/``disabled``) and ``forced_down``.
* **Database rows** exported from Nova's ``services`` table, sampled the same way:
  ``host``, ``updated_at``, ``report_count`` (and ``sampled_at`` if the export recorded it).  The
  report count makes losses visible directly: nova-compute counts a report before sending it, so a
  lost one leaves a gap in the counts of the rows that land.

Instants are read as UTC (naive values are UTC, as Nova's are) and turned into float seconds since
the first sample, so estimates never depend on the machine's time zone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["API_COLUMNS", "DB_COLUMNS", "CalibrationError", "Samples", "read_samples", "samples_from_frame"]

API_COLUMNS = ["host", "binary", "sampled_at", "updated_at", "state", "status", "forced_down"]
DB_COLUMNS = ["host", "updated_at", "report_count"]
#: the largest sample file read (a day of 1-second samples of 1,000 services is about 86 million rows:
#: beyond what one machine estimates from comfortably)
MAX_ROWS = 50_000_000


class CalibrationError(ValueError):
    """Samples that cannot be read or estimated from; ``str()`` is the whole message."""


@dataclass
class Samples:
    """Samples normalised for estimation: ``frame`` has ``host``, ``t`` (write instant, seconds
    since ``origin`` on the database's clock), ``seen`` (sampler's seconds since ``origin``, NaN for
    database rows without it), ``count`` (``report_count`` or NaN) and ``healthy`` (the row showed the
    service up, enabled and not forced down, or the form does not say)."""

    frame: pd.DataFrame
    origin: pd.Timestamp
    form: str  # "api" | "db"
    source: str
    resolution: float  # of updated_at: 1.0 when every stamp is a whole second, else 1e-6

    @property
    def hosts(self) -> list[str]:
        return sorted(self.frame["host"].unique().tolist())


def _instants(column: pd.Series, name: str, source: str) -> pd.Series:
    try:
        values = pd.to_datetime(column, utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise CalibrationError(f"{source}: column {name!r} holds values that are not date-times "
                               f"({str(exc).splitlines()[0][:200]})") from None
    return values


def samples_from_frame(frame: pd.DataFrame, source: str = "samples") -> Samples:
    """Check and normalise a DataFrame of either form (:class:`CalibrationError` naming what is wrong)."""
    columns = set(frame.columns)
    if set(API_COLUMNS) <= columns:
        form = "api"
    elif set(DB_COLUMNS) <= columns:
        form = "db"
    else:
        raise CalibrationError(
            f"{source}: neither API samples (columns {', '.join(API_COLUMNS)}) nor database rows "
            f"(columns {', '.join(DB_COLUMNS)}); it has {', '.join(map(str, frame.columns[:12])) or 'no columns'}")
    if frame.empty:
        raise CalibrationError(f"{source}: no rows")
    if form == "api":
        frame = frame[frame["binary"].astype(str) == "nova-compute"]
        if frame.empty:
            raise CalibrationError(f"{source}: no nova-compute rows (only other binaries)")
    frame = frame[frame["updated_at"].notna()]  # a service that never reported has nothing to say
    if frame.empty:
        raise CalibrationError(f"{source}: no row has an updated_at")
    updated = _instants(frame["updated_at"], "updated_at", source)
    seen = _instants(frame["sampled_at"], "sampled_at", source) if "sampled_at" in frame else None
    origin = min(updated.min(), seen.min()) if seen is not None else updated.min()
    out = pd.DataFrame({
        "host": frame["host"].astype(str).to_numpy(),
        "t": ((updated - origin).dt.total_seconds()).to_numpy(dtype=float),
        "seen": ((seen - origin).dt.total_seconds()).to_numpy(dtype=float) if seen is not None
        else np.full(len(frame), np.nan),
    })
    if form == "db":
        counts = pd.to_numeric(frame["report_count"], errors="coerce")
        if counts.isna().any():
            raise CalibrationError(f"{source}: report_count holds values that are not integers")
        out["count"] = counts.to_numpy(dtype=float)
        out["flag"] = ""
    else:
        out["count"] = np.nan
        forced = frame["forced_down"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
        disabled = (frame["status"].astype(str) != "enabled").to_numpy()
        # what the operator did to the service (a host that is merely late shows state "down"; that is
        # what calibration measures, so it is not a reason to leave a host out)
        out["flag"] = np.where(forced, "forced down", np.where(disabled, "disabled", ""))
    # many databases keep updated_at to the second: then every stamp is a whole second
    whole = bool((updated.dt.microsecond == 0).all() and (updated.dt.nanosecond == 0).all())
    return Samples(out, origin, form, source, 1.0 if whole else 1e-6)


def read_samples(path: str | os.PathLike[str]) -> Samples:
    """Read a CSV or Parquet file of samples (by its suffix; anything else is tried as CSV)."""
    p = Path(path)
    source = str(path)
    if not p.is_file():
        raise CalibrationError(f"{source}: no such file")
    if p.stat().st_size == 0:
        raise CalibrationError(f"{source}: the file is empty")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(p).metadata.num_rows
            if rows > MAX_ROWS:
                raise CalibrationError(f"{source}: {rows:,} rows (at most {MAX_ROWS:,}; sample less often or "
                                       "split the file)")
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, nrows=MAX_ROWS + 1)
            if len(frame) > MAX_ROWS:
                raise CalibrationError(f"{source}: more than {MAX_ROWS:,} rows (sample less often or split the file)")
    except CalibrationError:
        raise
    except Exception as exc:  # pyarrow, the CSV parser, a binary file: one line saying which
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise CalibrationError(f"{source}: cannot be read as {'Parquet' if p.suffix.lower() in ('.parquet', '.pq') else 'CSV'} "
                               f"({first})") from None
    return samples_from_frame(frame, source)
