"""Sample a live cloud's ``GET /os-services`` into a Parquet file of API samples.

One request per interval returns every service's row, so sampling costs the cloud one admin GET
per interval whatever its size (docs/calibration.md, "Sampling a live cloud").  Requests go on a
fixed grid from the start, so the sampler's own timing does not drift into the gaps it measures;
a request that overruns the interval is followed at once by the next one, on the grid again, and
the gap shows in ``sampled_at``.

The file is rewritten atomically every :data:`SAVE_EVERY` seconds and at the end, so a kill loses
only the last few samples.  Its Parquet schema metadata marks it as simstatus's own
(:data:`MARKER_KEY`), which is what lets a rerun with the same ``out`` resume it, and what keeps
simstatus from ever overwriting a file it did not write.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..outdir import remove_stale_temps, show_path, write_atomically
from .samples import API_COLUMNS, CalibrationError

__all__ = ["MARKER_KEY", "MARKER_VALUE", "MICROVERSION", "SAVE_EVERY", "SamplingError", "SamplingInterrupted",
           "check_out", "connect", "fetch_services", "sample_services"]

#: ``forced_down`` is in the os-services view from 2.11 on.
MICROVERSION = "2.11"
#: Parquet schema metadata key (and value) that marks a sample file as simstatus's own.
MARKER_KEY = b"simstatus"
MARKER_VALUE = b"calibration-samples"
_INFO_KEY = b"simstatus.sampling"  # JSON: interval, sampled seconds, format
_FORMAT = 1
#: seconds of sampling between saves: what a kill can lose
SAVE_EVERY = 10.0
#: consecutive failed requests tolerated once sampling has started (a restarting API, a dropped
#: connection): each is a missing sample, visible as a gap in ``sampled_at``
MAX_FAILURES = 10

Clock = Callable[[], float]


class SamplingError(CalibrationError):
    """The cloud cannot be sampled (credentials refused, not admin, unreachable); ``transient``: a
    failure that may pass (no connection, a 5xx), which sampling rides out once it has started."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SamplingInterrupted(KeyboardInterrupt):
    """Ctrl-C while sampling; what was sampled is saved: ``rows`` rows in ``path`` (None: none)."""

    def __init__(self, rows: int, path: Path | None) -> None:
        super().__init__(rows, path)
        self.rows, self.path = rows, path


# -- the cloud ------------------------------------------------------------------------------------
def connect(cloud: str | None = None) -> Any:
    """An openstacksdk Connection as every OpenStack tool makes one: ``clouds.yaml`` entry ``cloud``
    and the ``OS_*`` variables (without ``cloud``: ``OS_CLOUD`` or the variables alone).

    :raises SamplingError: openstacksdk is missing, or the configuration names no usable cloud.
    """
    try:
        import openstack
    except ImportError:
        raise SamplingError("sampling a live cloud needs openstacksdk: pip install 'simstatus[calibrate]' "
                            "(or estimate from a file with --from)") from None
    try:
        return openstack.connect(cloud=cloud) if cloud else openstack.connect()
    except Exception as exc:  # ConfigException (unknown cloud), a broken clouds.yaml, missing options
        hint = "" if cloud else ("; name a cloud of clouds.yaml with --os-cloud, or set OS_CLOUD or OS_AUTH_URL "
                                 "and the other OS_* variables (as for the openstack CLI)")
        raise SamplingError(f"cannot configure {_which(cloud)}: {_first_line(exc)}{hint}") from None


def _which(cloud: str | None) -> str:
    return f"cloud {cloud!r} (clouds.yaml)" if cloud else "a cloud from OS_CLOUD / the OS_* variables"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:300] if text else type(exc).__name__)


def _fault_message(response: Any) -> str:
    """The message of Nova's fault envelope (or keystonemiddleware's ``error``), else the text."""
    try:
        body = response.json()
        inner = next(iter(body.values()))
        return str(inner["message"])[:300]
    except Exception:  # not JSON, not an envelope
        return (response.text or "").strip().splitlines()[0][:300] if (response.text or "").strip() else ""


def fetch_services(conn: Any) -> list[dict[str, Any]]:
    """One ``GET /os-services`` at 2.11 through ``conn``: every service's row, as the API gave it.

    :raises SamplingError: with one line saying why (401 credentials, 403 admin-only, other HTTP
        answers, unreachable endpoint, failed authentication).
    """
    try:
        response = conn.compute.get("/os-services", microversion=MICROVERSION)
    except Exception as exc:  # keystoneauth: Unauthorized from Keystone, ConnectFailure, DiscoveryFailure, ...
        name = type(exc).__name__
        if name == "Unauthorized" or getattr(exc, "http_status", None) == 401:
            raise SamplingError(f"the cloud refused the credentials (401 from Keystone): {_first_line(exc)}; "
                                "check clouds.yaml or the OS_* variables") from None
        raise SamplingError(f"cannot reach the compute API ({name}): {_first_line(exc)}",
                            transient=name in ("ConnectFailure", "ConnectTimeout", "RetriableConnectionFailure",
                                               "SSLError", "UnknownConnectionError")) from None
    status = response.status_code
    if status == 401:
        raise SamplingError("the cloud refused the credentials (401 from GET /os-services: "
                            f"{_fault_message(response)}); check clouds.yaml or the OS_* variables")
    if status == 403:
        raise SamplingError("GET /os-services is admin-only under Nova's default policy; the cloud answered "
                            f"403 ({_fault_message(response)}): sample with an admin's credentials")
    if status != 200:
        raise SamplingError(f"GET /os-services (microversion {MICROVERSION}) answered {status}: "
                            f"{_fault_message(response) or 'no message'}", transient=status >= 500)
    try:
        services = response.json()["services"]
        if not isinstance(services, list) or not all(isinstance(service, dict) for service in services):
            raise TypeError("services is not a list of objects")
    except Exception as exc:
        raise SamplingError(f"GET /os-services answered 200 without a list of services ({_first_line(exc)}): "
                            "is the endpoint Nova's compute API?") from None
    return services


def _utc(text: Any) -> datetime | None:
    """``updated_at`` as Nova prints it (naive UTC, ``2012-10-29T13:42:02.000000``) → aware UTC."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise SamplingError(f"GET /os-services gave updated_at {str(text)[:60]!r}, which is not a date-time") from None
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


# -- the file -------------------------------------------------------------------------------------
class _SampleFile:
    """The Parquet file being written: earlier rows (resumed) plus this run's, saved atomically."""

    def __init__(self, out: Path, interval: float) -> None:
        import pyarrow as pa

        self.out, self.interval = out, interval
        self.schema = pa.schema([("host", pa.string()), ("binary", pa.string()),
                                 ("sampled_at", pa.timestamp("us", tz="UTC")),
                                 ("updated_at", pa.timestamp("us", tz="UTC")),
                                 ("state", pa.string()), ("status", pa.string()), ("forced_down", pa.bool_())])
        # Arrow chunks (the resumed file, then this run's) and the rows not yet converted: each row
        # is converted once, so a save costs the Parquet write only (about 0.3 s for an hour of
        # 1,000 services)
        self.chunks = [self.schema.empty_table()]
        self.pending: dict[str, list[Any]] = {name: [] for name in API_COLUMNS}
        self.sampled = 0.0  # seconds of sampling already in the file
        self.new_rows = 0

    def resume(self) -> None:
        """Load ``out`` if it exists: refuse anything that is not a sample file of ours."""
        out = self.out
        if out.is_symlink() or (out.exists() and not out.is_file()):
            raise FileExistsError(f"{show_path(out)} exists and is not a simstatus sample file; "
                                  "choose another --out or remove it")
        if not out.exists():
            return
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(out)
            meta = table.schema.metadata or {}
            info = json.loads(meta[_INFO_KEY])
            ours = meta.get(MARKER_KEY) == MARKER_VALUE and info.get("format") == _FORMAT
        except Exception:  # not Parquet, or Parquet without our marker
            ours = False
        if not ours:
            raise FileExistsError(f"{show_path(out)} exists and is not a simstatus sample file; "
                                  "choose another --out or remove it (simstatus never overwrites it)")
        if not math.isclose(float(info["interval"]), self.interval):
            raise SamplingError(f"{show_path(out)} was sampled every {info['interval']:g} s; resume it with "
                                f"--interval {info['interval']:g}s or choose another --out")
        self.chunks = [table.select(API_COLUMNS).cast(self.schema)]
        self.sampled = float(info["sampled_seconds"])

    def add(self, services: list[dict[str, Any]], sampled_at: datetime) -> None:
        """One sample: a row per service (all parsed before any is added: a sample is whole or absent)."""
        updated = [_utc(service.get("updated_at")) for service in services]
        columns = self.pending
        columns["host"].extend(str(service.get("host")) for service in services)
        columns["binary"].extend(str(service.get("binary")) for service in services)
        columns["sampled_at"].extend([sampled_at] * len(services))
        columns["updated_at"].extend(updated)
        columns["state"].extend(str(service.get("state")) for service in services)
        columns["status"].extend(str(service.get("status")) for service in services)
        # below 2.11 (an old cloud) there is no forced_down: such a service is not forced down
        columns["forced_down"].extend(service.get("forced_down") is True for service in services)
        self.new_rows += len(services)

    def save(self, sampled: float) -> None:
        """Write every row (earlier and new) to ``out`` via a scratch file and a rename."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.pending["host"]:
            new = pa.table(self.pending, schema=self.schema)
            self.chunks, self.pending = self.chunks + [new], {name: [] for name in API_COLUMNS}
        info = {"format": _FORMAT, "interval": self.interval, "sampled_seconds": self.sampled + sampled,
                "columns": API_COLUMNS, "microversion": MICROVERSION}
        table = pa.concat_tables(self.chunks).replace_schema_metadata(
            {MARKER_KEY: MARKER_VALUE, _INFO_KEY: json.dumps(info).encode()})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.out, sink.getvalue().to_pybytes())


def check_out(out: Path, interval: float) -> None:
    """Raise as :func:`sample_services` would for ``out`` (not Parquet, not ours, another interval),
    before connecting to anything."""
    _check_suffix(Path(out))
    _SampleFile(Path(out), interval).resume()


def _check_suffix(out: Path) -> None:
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise SamplingError(f"{show_path(out)}: samples are written as Parquet; name the file *.parquet")


# -- sampling -------------------------------------------------------------------------------------
def sample_services(conn: Any, *, duration: float, interval: float, out: Path, progress: bool = True,
                    clock: Clock = time.time, sleep: Callable[[float], None] = time.sleep,
                    save_every: float = SAVE_EVERY) -> int:
    """Sample ``GET /os-services`` through ``conn`` every ``interval`` seconds into ``out`` (Parquet)
    until the file holds ``duration`` seconds of sampling; returns the rows written by this call.

    ``out`` that already holds simstatus samples is resumed (sampled for what is left of
    ``duration``); any other existing ``out`` is refused with :class:`FileExistsError` and left as
    it is.  ``sampled_at`` is ``clock()`` (epoch seconds) in the middle of the request.

    :raises SamplingError: the cloud refused, or cannot be reached (nothing written if nothing was
        sampled; otherwise the samples are saved first and the message says so).
    :raises SamplingInterrupted: on Ctrl-C, after saving what was sampled.
    """
    if not (interval > 0 and math.isfinite(interval) and duration > 0 and math.isfinite(duration)):
        raise ValueError(f"interval and duration must be finite and above 0 (got {interval!r}, {duration!r})")
    out = Path(out)
    _check_suffix(out)
    remove_stale_temps(out.parent, out.name)  # scratch files of a sampler that was killed mid-save
    file = _SampleFile(out, interval)
    file.resume()
    left = duration - file.sampled
    slots = math.ceil(left / interval - 1e-9) if left > 0 else 0
    if slots == 0:
        return 0
    from ..sweep import progress_bar

    bar = progress_bar(slots, progress, desc="sampling", unit="sample")
    start = clock()
    done = 0  # grid slots passed (sampled or skipped): the sampling time covered is done * interval
    failures = 0
    last_save, save_cost = start, 0.0
    try:
        while done < slots:
            before = clock()
            try:
                services = fetch_services(conn)
            except SamplingError as err:
                failures += 1
                if not err.transient or file.new_rows == 0 or failures >= MAX_FAILURES:
                    raise  # refused, never reached in this run, or away for good
                services = None
            after = clock()
            if services is not None:
                failures = 0
                file.add(services, datetime.fromtimestamp((before + after) / 2, timezone.utc))
            # the next slot: the following one, or after an overrun the last one passed (it goes at once;
            # the slots the request covered are skipped, not caught up in a burst)
            slot = max(done + 1, math.floor((after - start) / interval + 1e-9))
            bar.update(min(slot, slots) - done)
            done = min(slot, slots)
            # a save rewrites the whole file: at most ~5 % of the time, so it never crowds out sampling
            if services is not None and after - last_save >= max(save_every, 20 * save_cost) and done < slots:
                began = time.monotonic()
                file.save(done * interval)
                save_cost, last_save = time.monotonic() - began, after
            if done < slots:
                wait = start + done * interval - clock()
                if wait > 0:
                    sleep(wait)
    except KeyboardInterrupt:
        bar.close()
        if file.new_rows:
            file.save(done * interval)
        raise SamplingInterrupted(file.new_rows, out if out.exists() else None) from None
    except SamplingError as err:
        bar.close()
        if file.new_rows == 0:
            raise
        file.save(done * interval)
        raise SamplingError(f"{err}; the {file.new_rows:,} rows sampled before are saved in {show_path(out)}: "
                            "run the same command to resume") from None
    bar.close()
    file.save(done * interval)
    return file.new_rows
