"""Scenarios: what one simulation run is about, in a TOML file or the same structure in Python.

A scenario names the Nova settings in force (``[nova]``), the size of the cloud (``[cloud]``),
how heartbeats travel from nova-compute to the database (``[heartbeat]``), the faults injected
(``[[faults]]``), an optional external monitor that forces hosts down (``[monitor]``), operator
maintenance windows (``[[maintenance]]``) and how tenants poll (``[tenants]``).  Every key has a
default, so an empty file is a valid scenario: twenty hosts running Nova's defaults for a day.
``docs/scenario.md`` documents each key.

Lifecycle::

    TOML file / mapping / Scenario ──(dotted overrides on the raw dict)──▶ validate ──▶ Scenario
    Scenario ──scenario_to_toml──▶ TOML text (the *effective* scenario, stored with every result)

Configuration is validated **once, at the edge**: :func:`load_scenario` turns any input into a
:class:`Scenario` or raises :class:`ScenarioError` listing *every* problem, one line each, naming
the dotted key (``faults[1].kind``), the value given and what is allowed.  Code further in (the
model, metrics, the API) can then trust its input instead of re-checking it, and a sweep of a
thousand runs fails before the first run rather than in the middle.

Two conventions run through the format:

* **Durations** are seconds: a number, or a string with a unit (``"500ms"``, ``"90s"``,
  ``"30m"``, ``"24h"``, ``"2d"``, ``"1.5h"``).  They are never negative, except the signed
  ``faults[].offset`` of a clock skew.
* **Distributions** (random durations) are a plain duration (a fixed value) or a table with a
  ``dist`` key: ``{dist = "uniform", low = 0.1, high = 1.0}``.  They are sampled only through a
  :class:`numpy.random.Generator` handed in by the caller; this module holds no random state.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
import tomli_w
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "MAX_CLOCK_SKEW",
    "MAX_DEPTH",
    "MAX_END",
    "MAX_EVENTS",
    "MAX_FAULTS",
    "MAX_FILE_BYTES",
    "MAX_HOSTS",
    "MAX_NAME",
    "MAX_PAIRS",
    "MAX_PROJECTS",
    "MAX_SERVERS",
    "MAX_STALL_CHECKS",
    "MIN_START",
    "CloudConfig",
    "Distribution",
    "FaultConfig",
    "FaultKind",
    "GilbertElliottLoss",
    "HAConfig",
    "HeartbeatConfig",
    "HiccupsConfig",
    "MaintenanceConfig",
    "MonitorConfig",
    "NotificationsConfig",
    "NovaConfig",
    "Scenario",
    "ScenarioError",
    "TenantsConfig",
    "apply_fragment",
    "apply_overrides",
    "load_scenario",
    "parse_duration",
    "parse_override",
    "scenario_to_toml",
]

#: Largest cloud a scenario may describe (one process holds every host's state).
MAX_HOSTS = 100_000
#: About what one machine simulates in reasonable time; see :attr:`Scenario.estimated_events` (a
#: heartbeat report counts 1, a simulated tenant poll :data:`POLL_WEIGHT`).  100,000 hosts × 24 h of
#: the default scenario (8.6·10^8 reports) took 3.8 min and 3.74 GiB on a 2-core machine.
MAX_EVENTS = 1e9
#: A poll is an API call (about 30 µs); a planned heartbeat report costs well under a microsecond.
POLL_WEIGHT = 10
#: Servers (``hosts × servers_per_host``): each is an object with a UUID; 10^5 take about 0.3 GB.
MAX_SERVERS = 1_000_000
#: Active–standby pairs per ``[[ha]]`` entry (each pair is two servers and a failover manager).
MAX_PAIRS = 10_000
#: Tenant projects: more projects than servers leaves the rest empty, so a larger count only costs memory.
MAX_PROJECTS = 100_000
#: Expected fault occurrences per run (one per host a fault hits); 10^5 crashes take about a minute.
MAX_FAULTS = 1e5
#: Expected control-plane stalls² × heartbeat reports (memcached outages² with the mc driver): each
#: re-checks every report against every window of its kind, so this, not their count, is what costs (about 3 ns each: 10^2 stalls
#: over 8.6·10^5 reports took 33 s, 10^3 stalls over 8.6·10^4 reports 111 s).
MAX_STALL_CHECKS = 1e10
#: Deepest nesting of tables and arrays; a real scenario needs four (``faults[0].duration.values``).
MAX_DEPTH = 32
#: Largest scenario file read; a list naming all 100,000 hosts takes about 1.6 MB.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Longest ``name``: it is hashed into every server's UUID and printed with every run.
MAX_NAME = 255
#: Latest instant a run may reach: the last whole second Python's datetime (and so a timestamp the
#: API shows) can hold.  ``serve`` stops its clock there rather than run past it.
MAX_END = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
#: Earliest ``start``: Nova's timestamps, and a clock skew of up to ten years before it, stay after year 1.
MIN_START = datetime(1970, 1, 1, tzinfo=timezone.utc)

FaultKind = Literal["host_crash", "compute_hang", "partition", "control_plane_stall", "clock_skew",
                    "memcached_outage"]
DetectableKind = Literal["host_crash", "compute_hang", "partition"]
HostSelection = Union[Literal["all"], list[str], int]

_FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_GLOBAL_KINDS = frozenset({"control_plane_stall", "memcached_outage"})
_DIST_PARAMS: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "exponential": ("mean",),
    "lognormal": ("median", "p99"),
    "empirical": ("values",),
}
#: z such that P(N(0,1) <= z) = 0.99: a lognormal's sigma is ln(p99/median) / z.
_Z99 = 2.3263478740408408
#: Nova's own rule names besides ``os_compute_api:*`` (nova/policies/base.py).
_BASE_POLICY_RULES = (
    "admin_or_owner",
    "admin_api",
    "context_is_admin",
    "default",
    "project_reader_api",
    "project_member_api",
    "project_reader_or_admin",
    "project_member_or_admin",
    "system_admin_api",
)


# --------------------------------------------------------------------------- errors


class ScenarioError(ValueError):
    """Bad scenario input.

    ``str(err)`` is the complete user-facing message: one line per problem, each
    ``KEY: PROBLEM (got VALUE; allowed: ...)``, after a first line naming the file when the
    scenario came from one.  :attr:`problems` holds the problem lines alone.
    """

    problems: list[str]
    source: str | None

    def __init__(self, problems: str | Iterable[str], source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        super().__init__(self._message())

    def _message(self) -> str:
        lines = list(self.problems)
        if self.source is not None:
            n = len(lines)
            lines.insert(0, f"{self.source}: invalid scenario ({n} problem{'s' * (n != 1)})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self) -> tuple[Any, ...]:
        # Sweeps send errors across processes; keep problems and source apart when pickled.
        return (type(self), (self.problems, self.source))


class _Problems(ValueError):
    """Raised inside validators: problems keyed by a path *relative to* the failing location.

    Pydantic reports a validator's error at the model or field being validated; a cross-field
    check knows better which sub-key is wrong (``p99``, not the whole distribution), so it
    passes that sub-path along and :func:`_scenario_error` joins the two.
    """

    def __init__(self, items: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.items = items
        super().__init__("; ".join(f"{_key(p) or '.'}: {m}" for p, m in items))


def _problem(text: str) -> _Problems:
    return _Problems([((), text)])


def _show(value: object) -> str:
    """A value as the user wrote it, in TOML-ish spelling, cut short if long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = _fmt_num(value)
    elif isinstance(value, (datetime, date, time)):
        text = value.isoformat()
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fmt_num(x: float) -> str:
    """60.0 → '60', 0.25 → '0.25'."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x) if isinstance(x, float) else str(x)


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(path: Iterable[str | int]) -> str:
    """('faults', 1, 'kind') → 'faults[1].kind'; odd keys are quoted as in TOML."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{text}" if out else text
    return out


# --------------------------------------------------------------------------- durations

_DURATION = re.compile(
    r"^\s*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>ms|s|m|h|d)?\s*$"
)
_UNIT_SECONDS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_HELP = 'seconds as a number, or a number with a unit ms, s, m, h or d, e.g. "500ms", "90s", "1.5h"'


def parse_duration(value: object, *, signed: bool = False) -> float:
    """Seconds from a number or a string such as ``"500ms"``, ``"90s"``, ``"30m"``, ``"1.5h"``.

    Scenario files are written by people, who think of a day as ``"24h"`` rather than 86400.
    The arithmetic is decimal, so ``"0.1h"`` is exactly 360 s.  Negative values are refused
    unless ``signed`` (a clock offset), since a negative delay or window has no meaning.

    :raises ValueError: with a message saying what was given and what is allowed.
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise ValueError(f"not a duration (got {_show(value)}; allowed: {_DURATION_HELP})")
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"not a duration (got {_show(value)}; allowed: {_DURATION_HELP})")
        try:
            number = Decimal(match["num"])
        except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
            raise ValueError(f"not a duration (got {_show(value)}; allowed: {_DURATION_HELP})") from None
        unit = match["unit"]
        seconds = float(number / 1000) if unit == "ms" else float(number * _UNIT_SECONDS[unit])
    else:
        seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"duration must be finite (got {_show(value)}; allowed: {_DURATION_HELP})")
    if seconds < 0 and not signed:
        raise ValueError(f"negative duration (got {_show(value)}; allowed: a duration >= 0)")
    return seconds + 0.0  # -0.0 → 0.0


def _duration_ge0(value: object) -> float:
    return parse_duration(value)


def _duration_gt0(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"must be > 0 (got {_show(value)}; allowed: a duration > 0)")
    return seconds


MAX_CLOCK_SKEW = 10 * 365 * 86400.0  # seconds: beyond this a timestamp leaves any calendar


def _duration_signed(value: object) -> float:
    return parse_duration(value, signed=True)


def _optional(fn: Any) -> Any:
    return lambda v: None if v is None else fn(v)


Duration = Annotated[float, BeforeValidator(_duration_ge0)]
PositiveDuration = Annotated[float, BeforeValidator(_duration_gt0)]


def _number(value: object, *, integer: bool = False) -> float | int:
    """Refuse booleans and numeric strings: a TOML ``true`` or ``"20"`` where a number belongs is a mistake."""
    # numbers.* rather than int/float so that numpy scalars from a sweep grid are accepted.
    if integer:
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            if math.isfinite(value) and float(value).is_integer():
                return int(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"expected a whole number (got {_show(value)})")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"expected a number (got {_show(value)})")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number (got {_show(value)})")
    return float(value)


def _range_check(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                 hi_open: bool = False, integer: bool = False, note: str = "", optional: bool = False) -> Any:
    """A check for a number in a range that states the range when it fails."""

    def check(value: object, info: ValidationInfo) -> float | int | None:
        if optional and value is None:
            return None
        x = _number(value, integer=integer)
        too_low = lo is not None and (x <= lo if lo_open else x < lo)
        too_high = hi is not None and (x >= hi if hi_open else x > hi)
        if too_low or too_high:
            name = info.field_name or "value"
            if hi is None:
                allowed = f"{name} {'>' if lo_open else '>='} {_fmt_num(lo)}"  # type: ignore[arg-type]
            else:
                allowed = f"{name} {'<' if hi_open else '<='} {_fmt_num(hi)}"
                if lo is not None:
                    allowed = f"{_fmt_num(lo)} {'<' if lo_open else '<='} {allowed}"
            raise ValueError(f"out of range (got {_show(value)}; allowed: {allowed}"
                             f"{'; ' + note if note else ''})")
        return x

    return check


def _ranged(*args: Any, **kwargs: Any) -> BeforeValidator:
    return BeforeValidator(_range_check(*args, **kwargs))


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false (got {_show(value)})")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string (got {_show(value)})")
    return value


Bool = Annotated[bool, BeforeValidator(_bool)]
Text = Annotated[str, BeforeValidator(_text)]


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    """Common settings: unknown keys are errors, and direct construction raises ScenarioError."""

    model_config = ConfigDict(extra="forbid")

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _scenario_error(exc, type(self)) from None

    # Tell pydantic this __init__ only wraps its own: nested tables are then validated directly
    # (errors keep their full path) instead of through __init__ (which would re-wrap them).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class Distribution(_Model):
    """A random duration: ``fixed``, ``uniform``, ``exponential``, ``lognormal`` or ``empirical``.

    A plain number or duration string where a distribution is expected means ``fixed``.
    ``lognormal`` is given by its median and 99th percentile, the two numbers people quote for
    latencies, rather than by mu and sigma.
    """

    dist: Literal["fixed", "uniform", "exponential", "lognormal", "empirical"]
    value: float | None = None
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    median: float | None = None
    p99: float | None = None
    values: list[float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, data: Any) -> Any:
        if isinstance(data, BaseModel):
            return data
        if isinstance(data, (numbers.Real, str)) and not isinstance(data, bool):
            return {"dist": "fixed", "value": data}
        if not isinstance(data, Mapping):
            raise _problem(
                f"expected a duration or a distribution table (got {_show(data)}; allowed: "
                f'{_DURATION_HELP}, or a table such as {{dist = "uniform", low = 0.1, high = 1.0}})'
            )
        given = {k: v for k, v in data.items() if v is not None}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        dist = given.get("dist")
        kinds = ", ".join(_DIST_PARAMS)
        if dist is None:
            problems.append((("dist",), f"required key missing (allowed: {kinds})"))
        elif not isinstance(dist, str) or dist not in _DIST_PARAMS:
            problems.append((("dist",), f"unknown value {_show(dist)} (allowed: {kinds})"))
        params = _DIST_PARAMS.get(dist, ()) if isinstance(dist, str) else ()
        for k in given:
            if k == "dist":
                continue
            if k not in cls.model_fields:
                problems.append(((k,), f"unknown key (allowed keys in a distribution: "
                                       f"{', '.join(cls.model_fields)})"))
            elif params and k not in params:
                problems.append(((k,), f"not used by dist = {dist!r} (got {_show(given[k])}; "
                                       f"allowed keys for {dist}: {', '.join(params)})"))
        for p in params:
            if p not in given:
                problems.append(((p,), f"required key missing for dist = {dist!r} "
                                       f"(allowed keys for {dist}: {', '.join(params)})"))
        if problems:
            raise _Problems(problems)
        return given

    @field_validator("value", "low", "high", "mean", "median", "p99", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("values", mode="before")
    @classmethod
    def _value_list(cls, v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, (list, tuple)):
            raise _problem(f"expected a list of durations (got {_show(v)})")
        problems, out = [], []
        for i, item in enumerate(v):
            try:
                out.append(parse_duration(item))
            except ValueError as exc:
                problems.append(((i,), str(exc)))
        if problems:
            raise _Problems(problems)
        return out

    @model_validator(mode="after")
    def _consistent(self) -> Distribution:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.dist == "uniform" and self.high < self.low:  # type: ignore[operator]
            problems.append((("high",), f"{_fmt_num(self.high)} is below low {_fmt_num(self.low)} "
                                        "(high must be >= low)"))
        if self.dist == "exponential" and self.mean <= 0:  # type: ignore[operator]
            problems.append((("mean",), f"must be > 0 (got {_fmt_num(self.mean)})"))
        if self.dist == "lognormal":
            if self.median <= 0:  # type: ignore[operator]
                problems.append((("median",), f"must be > 0 (got {_fmt_num(self.median)})"))
            elif self.p99 < self.median:  # type: ignore[operator]
                problems.append((("p99",), f"{_fmt_num(self.p99)} is below median "
                                           f"{_fmt_num(self.median)} (p99 must be >= median)"))
        if self.dist == "empirical" and not self.values:
            problems.append((("values",), "empty list (allowed: a non-empty list of durations)"))
        if problems:
            raise _Problems(problems)
        return self

    @property
    def sigma(self) -> float:
        """Lognormal shape parameter (0 for the other kinds)."""
        if self.dist != "lognormal":
            return 0.0
        return (math.log(self.p99) - math.log(self.median)) / _Z99  # type: ignore[arg-type]

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | np.ndarray:
        """Draw from ``rng`` (a float, or a float64 array of ``size``); ``fixed`` draws nothing.

        Not drawing for ``fixed`` keeps the caller's stream unchanged when a value is made
        deterministic, so the other random quantities of a run stay the same.
        """
        d = self.dist
        if d == "fixed" or (d == "lognormal" and self.sigma == 0.0):
            v = self.value if d == "fixed" else self.median
            return float(v) if size is None else np.full(size, v, dtype=np.float64)  # type: ignore[arg-type]
        if d == "uniform":
            out = rng.uniform(self.low, self.high, size)  # type: ignore[arg-type]
        elif d == "exponential":
            out = rng.exponential(self.mean, size)  # type: ignore[arg-type]
        elif d == "lognormal":
            out = rng.lognormal(math.log(self.median), self.sigma, size)  # type: ignore[arg-type]
        else:
            out = rng.choice(np.asarray(self.values, dtype=np.float64), size)
        return float(out) if size is None else np.asarray(out, dtype=np.float64)

    def mean_value(self) -> float:
        """The analytic mean (what long runs average to)."""
        d = self.dist
        if d == "fixed":
            return float(self.value)  # type: ignore[arg-type]
        if d == "uniform":
            return (self.low + self.high) / 2  # type: ignore[operator]
        if d == "exponential":
            return float(self.mean)  # type: ignore[arg-type]
        if d == "lognormal":
            return self.median * math.exp(self.sigma**2 / 2)  # type: ignore[operator]
        return float(np.mean(self.values))

    def second_moment(self) -> float:
        """The analytic E[X²]: queueing waits (Pollaczek–Khinchine) depend on it, not on the mean alone."""
        d = self.dist
        if d == "fixed":
            return float(self.value) ** 2  # type: ignore[arg-type]
        if d == "uniform":  # ∫ x² dx / (b − a) over [a, b]
            a, b = float(self.low), float(self.high)  # type: ignore[arg-type]
            return (a * a + a * b + b * b) / 3
        if d == "exponential":
            return 2.0 * float(self.mean) ** 2  # type: ignore[arg-type]
        if d == "lognormal":  # E[e^{2(μ + σZ)}] = e^{2μ + 2σ²}, μ = ln(median)
            return float(self.median) ** 2 * math.exp(2 * self.sigma**2)  # type: ignore[arg-type]
        return float(np.mean(np.square(self.values)))  # sample() picks each listed value alike

    def upper_bound(self) -> float:
        """The largest value ``sample`` can return (``inf`` for unbounded tails)."""
        d = self.dist
        if d == "fixed":
            return float(self.value)  # type: ignore[arg-type]
        if d == "uniform":
            return float(self.high)  # type: ignore[arg-type]
        if d == "exponential":
            return math.inf
        if d == "lognormal":
            return float(self.median) if self.sigma == 0.0 else math.inf  # type: ignore[arg-type]
        return float(max(self.values))  # type: ignore[arg-type]

    def to_toml(self) -> float | dict[str, Any]:
        """The TOML spelling: a bare number for ``fixed``, else a table with ``dist`` and its parameters."""
        if self.dist == "fixed":
            return _toml_num(self.value)  # type: ignore[arg-type]
        table: dict[str, Any] = {"dist": self.dist}
        for p in _DIST_PARAMS[self.dist]:
            v = getattr(self, p)
            table[p] = [_toml_num(x) for x in v] if isinstance(v, list) else _toml_num(v)
        return table


_HOSTS_HELP = 'allowed: "all", a list of host names, or a number of hosts picked at random'


def _hosts_selection(value: Any) -> Any:
    """``"all"``, a non-empty list of distinct host names, or a count >= 1."""
    allowed = _HOSTS_HELP
    if value == "all":
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a host selection (got {_show(value)}; {allowed})")
    if isinstance(value, numbers.Integral):
        if value < 1:
            raise ValueError(f"host count must be >= 1 (got {value}; {allowed})")
        return int(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"empty host list ({allowed})")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for i, name in enumerate(value):
            if not isinstance(name, str):
                problems.append(((i,), f"expected a host name string (got {_show(name)})"))
            elif name in seen:
                problems.append(((i,), f"host {name!r} listed twice"))
            else:
                seen.add(name)
        if problems:
            raise _Problems(problems)
        return list(value)
    raise ValueError(f"expected a host selection (got {_show(value)}; {allowed})")


Hosts = Annotated[HostSelection, BeforeValidator(_hosts_selection)]


class NovaConfig(_Model):
    """The Nova options that decide ``host_status`` (defaults are Nova's)."""

    report_interval: Annotated[float, BeforeValidator(_duration_gt0)] = 10.0
    service_down_time: Annotated[float, BeforeValidator(_duration_gt0)] = 60.0
    servicegroup_driver: Literal["db", "mc"] = "db"
    #: oslo.messaging's call timeout: a blocking report waits at most this long (with ``[conductor]``)
    rpc_response_timeout: Annotated[float, BeforeValidator(_duration_gt0)] = 60.0
    host_status_precedence: Literal["nova", "api-ref"] = "nova"
    policy: dict[str, str] = Field(default_factory=dict)

    @field_validator("policy", mode="before")
    @classmethod
    def _policy(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ValueError(f"expected a table of rule name = check string (got {_show(v)})")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for name, check in v.items():
            if not isinstance(name, str) or not name:
                problems.append(((str(name),), "empty rule name"))
                continue
            if not (name.startswith("os_compute_api:") or name in _BASE_POLICY_RULES):
                problems.append(((name,), "unknown rule name (allowed: os_compute_api:... or one of "
                                          f"{', '.join(_BASE_POLICY_RULES)})"))
            if not isinstance(check, str) or not check.strip():
                problems.append(((name,), f"expected a non-empty check string in oslo.policy syntax, "
                                          f'e.g. "rule:admin_api" (got {_show(check)})'))
        if problems:
            raise _Problems(problems)
        from .api.policy import PolicyError, load_policy  # oslo.policy's parser decides what parses
        try:
            load_policy(dict(v))
        except PolicyError as exc:
            raise ValueError(str(exc)) from None
        return dict(v)


class CloudConfig(_Model):
    """How many hosts, projects and servers the simulated cloud has."""

    hosts: Annotated[int, _ranged(1, MAX_HOSTS, integer=True,
                                  note=f"the limit is {MAX_HOSTS} hosts per scenario")] = 20
    projects: Annotated[int, _ranged(1, MAX_PROJECTS, integer=True,
                                     note=f"the limit is {MAX_PROJECTS} projects per scenario")] = 4
    servers_per_host: Annotated[int, _ranged(0, MAX_SERVERS, integer=True,
                                             note=f"the limit is {MAX_SERVERS} servers per scenario")] = 4


class GilbertElliottLoss(_Model):
    """Bursty loss: a two-state (good, bad) Markov chain over a host's consecutive reports.

    Real loss comes in bursts (a congested link, a restarting broker), and independent loss
    understates how often ``service_down_time / report_interval`` reports in a row go missing.
    Report ``k`` is lost with probability ``loss_good`` or ``loss_bad`` by the chain's state at
    ``k``; between two reports the state moves with ``p_good_to_bad`` / ``p_bad_to_good``.
    ``mean_loss`` and ``mean_burst`` are a shorthand for Gilbert's model (``loss_good = 0``,
    ``loss_bad = 1``); they are turned into the transition probabilities when validated.
    """

    model: Literal["gilbert-elliott"]
    p_good_to_bad: Annotated[float | None, _ranged(0, 1, optional=True)] = None
    p_bad_to_good: Annotated[float | None, _ranged(0, 1, lo_open=True, optional=True,
                                                   note="0 would keep a host in the bad state for ever")] = None
    loss_good: Annotated[float, _ranged(0, 1, hi_open=True)] = 0.0
    loss_bad: Annotated[float, _ranged(0, 1)] = 1.0
    mean_loss: Annotated[float | None, _ranged(0, 1, lo_open=True, hi_open=True, optional=True)] = None
    mean_burst: Annotated[float | None, _ranged(1, optional=True, note="in reports")] = None

    @model_validator(mode="after")
    def _form(self) -> GilbertElliottLoss:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        given = self.model_fields_set
        forms = "either p_good_to_bad and p_bad_to_good, or mean_loss and mean_burst"
        if given & {"mean_loss", "mean_burst"}:
            for key in ("p_good_to_bad", "p_bad_to_good", "loss_good", "loss_bad"):
                if key in given:
                    problems.append(((key,), f"given together with mean_loss/mean_burst (got "
                                             f"{_show(getattr(self, key))}; allowed: {forms}; the "
                                             "mean form means loss_good = 0, loss_bad = 1)"))
            for key in ("mean_loss", "mean_burst"):
                if getattr(self, key) is None:
                    problems.append(((key,), f"required key missing (allowed: {forms})"))
            if not problems:
                m, b = self.mean_loss, self.mean_burst
                p_gb = m / ((1.0 - m) * b)  # type: ignore[operator]
                if p_gb > 1.0:
                    problems.append((("mean_burst",), f"{_fmt_num(b)} is too short for mean_loss "  # type: ignore[arg-type]
                                     f"{_fmt_num(m)} (allowed: mean_burst >= mean_loss / (1 - mean_loss) "  # type: ignore[arg-type]
                                     f"= {m / (1.0 - m):.6g}, as a good spell lasts at least one report)"))  # type: ignore[operator]
                else:
                    self.p_good_to_bad, self.p_bad_to_good = p_gb, 1.0 / b  # type: ignore[operator]
                    self.mean_loss = self.mean_burst = None
        else:
            for key in ("p_good_to_bad", "p_bad_to_good"):
                if getattr(self, key) is None:
                    problems.append(((key,), f"required key missing (allowed: {forms})"))
            if self.loss_bad < self.loss_good:
                problems.append((("loss_bad",), f"{_fmt_num(self.loss_bad)} is below loss_good "
                                                f"{_fmt_num(self.loss_good)} (loss_bad must be >= loss_good)"))
        if problems:
            raise _Problems(problems)
        return self

    @property
    def bad_fraction(self) -> float:
        """π_B = p_gb / (p_gb + p_bg): the share of reports sent in the bad state, in the long run."""
        return self.p_good_to_bad / (self.p_good_to_bad + self.p_bad_to_good)  # type: ignore[operator]

    @property
    def loss_rate(self) -> float:
        """The long-run share of lost reports: π_B·loss_bad + π_G·loss_good."""
        pi_b = self.bad_fraction
        return pi_b * self.loss_bad + (1.0 - pi_b) * self.loss_good


_LOSS_HELP = ('allowed: a probability 0 <= loss < 1, or a table such as {model = "gilbert-elliott", '
              "p_good_to_bad = 0.01, p_bad_to_good = 0.5}")


def _loss_form(value: Any) -> str:
    """Which form of ``heartbeat.loss`` was given: a table (a loss model) or anything else."""
    return "(model)" if isinstance(value, (Mapping, GilbertElliottLoss)) else "(probability)"


def _loss_probability(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"expected a probability or a loss model table (got {_show(value)}; {_LOSS_HELP})")
    return value


#: ``heartbeat.loss``: independent loss (a number, as before) or a loss model table.  The tags are in
#: parentheses so that error locations drop them (see :func:`_clean_loc`).
Loss = Annotated[
    Union[
        Annotated[float, _ranged(0, 1, hi_open=True), BeforeValidator(_loss_probability), Tag("(probability)")],
        Annotated[GilbertElliottLoss, Tag("(model)")],
    ],
    Discriminator(_loss_form),
]


class HiccupsConfig(_Model):
    """Conductor hiccups: cloud-wide windows in which reports arriving are dropped.

    Correlated loss: one hiccup drops the reports of many hosts at once, which independent
    per-report loss of the same mean never does.  Windows arrive as a Poisson process, the same
    for every host; each report arriving inside one is dropped with probability ``fraction``.
    """

    rate_per_day: Annotated[float, _ranged(0, lo_open=True)]
    duration: Distribution
    fraction: Annotated[float, _ranged(0, 1, lo_open=True)] = 1.0


class HeartbeatConfig(_Model):
    """How nova-compute's reports travel to the database: start, jitter, delay and loss."""

    first_report_delay: Duration = 5.0
    startup: Distribution = Field(default_factory=lambda: Distribution(dist="fixed", value=0.0))
    jitter: Duration = 0.0
    delay: Distribution = Field(
        default_factory=lambda: Distribution(dist="lognormal", median=0.02, p99=0.2)
    )
    loss: Loss = 0.0
    hiccups: HiccupsConfig | None = None
    warm_start: Bool = True

    @property
    def independent_loss(self) -> float | None:
        """``loss`` if every report is lost independently (what closed-form theory assumes), else None."""
        return self.loss if isinstance(self.loss, float) and self.hiccups is None else None


class BackgroundLoad(_Model):
    """Other RPC traffic the conductor serves besides reports: a Poisson stream of jobs.

    Given as ``rate`` (jobs per second, the whole cloud) or ``utilisation`` (the share of the
    conductors' total capacity it takes); ``service_time`` defaults to the reports' one.
    """

    rate: Annotated[float | None, _ranged(0, lo_open=True, optional=True, note="jobs per second")] = None
    utilisation: Annotated[float | None, _ranged(0, 1, lo_open=True, hi_open=True, optional=True)] = None
    service_time: Distribution | None = None

    @model_validator(mode="after")
    def _one_form(self) -> BackgroundLoad:
        given = [k for k in ("rate", "utilisation") if getattr(self, k) is not None]
        if len(given) != 1:
            raise _problem("give exactly one of rate (jobs per second) or utilisation (a share of "
                           f"capacity, 0 < utilisation < 1) (got {', '.join(given) or 'neither'})")
        return self


class ConductorConfig(_Model):
    """nova-conductor as a finite server: the db driver's reports queue for it (docs/conductor.md).

    Without this section reports are written after their network delay alone, as before.
    """

    count: Annotated[int, _ranged(1, 1000, integer=True, note="conductor services")] = 1
    workers: Annotated[int, _ranged(1, 1000, integer=True, note="worker processes per conductor")] = 1
    service_time: Distribution = Field(default_factory=lambda: Distribution(dist="fixed", value=0.005))
    background: BackgroundLoad | None = None
    drop_expired: Bool = True
    #: a lost report (heartbeat.loss, a hiccup): its write fails and the call returns the error
    #: at once ("error"), or the message is gone and the caller waits out rpc_response_timeout
    lost_reports: Literal["error", "timeout"] = "error"

    @property
    def servers(self) -> int:
        """Worker processes in all: each is one FIFO server."""
        return self.count * self.workers

    @property
    def background_rate(self) -> float:
        """Background jobs per second for the whole cloud (0 without background load)."""
        b = self.background
        if b is None:
            return 0.0
        if b.rate is not None:
            return float(b.rate)
        mean = (b.service_time or self.service_time).mean_value()
        return b.utilisation * self.servers / mean if mean > 0 else 0.0  # type: ignore[operator]

    @property
    def background_service(self) -> Distribution:
        b = self.background
        return b.service_time if b is not None and b.service_time is not None else self.service_time


def _conductor_selection(value: Any) -> Any:
    """``conductors``: "all", a count (picked at random), or a list of distinct indices from 0."""
    allowed = 'allowed: "all", a count >= 1, or a list of conductor indices such as [0, 2]'
    if value is None or value == "all":
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a conductor selection (got {_show(value)}; {allowed})")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{value} conductors asked for ({allowed})")
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        if len(set(value)) != len(value) or min(value) < 0:
            raise ValueError(f"expected distinct indices >= 0 (got {_show(value)}; {allowed})")
        return value
    raise ValueError(f"expected a conductor selection (got {_show(value)}; {allowed})")


class FaultConfig(_Model):
    """One kind of fault: where, when (one instant or a rate) and for how long."""

    kind: FaultKind
    hosts: Hosts = "all"
    rate_per_host_day: Annotated[float | None, _ranged(0, lo_open=True, optional=True)] = None
    rate_per_day: Annotated[float | None, _ranged(0, lo_open=True, optional=True)] = None
    at: Annotated[float | None, BeforeValidator(_optional(_duration_ge0))] = None
    duration: Distribution | None = None
    offset: Annotated[float | None, BeforeValidator(_optional(_duration_signed))] = None
    #: memcached_outage only: memcached restarts empty (true, the default) or keeps its keys
    restart: Annotated[bool | None, BeforeValidator(_optional(_bool))] = None
    #: clock_skew with [conductor] only: which conductors' clocks are off ("all", a count picked at
    #: random, or a list of indices from 0)
    conductors: Annotated[Union[Literal["all"], list[int], int, None], BeforeValidator(_conductor_selection)] = None

    @model_validator(mode="after")
    def _consistent(self) -> FaultConfig:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        arrivals = ("rate_per_host_day", "rate_per_day", "at")
        given = [a for a in arrivals if getattr(self, a) is not None]
        if not given:
            problems.append(((), f"no arrival given for {self.kind} (allowed: exactly one of "
                                 "rate_per_host_day, rate_per_day, at)"))
        for extra in given[1:]:
            problems.append(((extra,), f"given together with {given[0]} (got {_show(getattr(self, extra))}; "
                                       "allowed: exactly one of rate_per_host_day, rate_per_day, at)"))
        if self.kind in _GLOBAL_KINDS:
            if self.hosts != "all":
                problems.append((("hosts",), f"{self.kind} is global (got {_show(self.hosts)}; "
                                             'allowed: "all")'))
            if self.rate_per_host_day is not None:
                problems.append((("rate_per_host_day",), f"not allowed for {self.kind}, which is "
                                 f"global (got {_show(self.rate_per_host_day)}; allowed: rate_per_day or at)"))
        if self.kind == "clock_skew" and self.offset is None:
            problems.append((("offset",), 'required for clock_skew (allowed: a signed duration '
                                          'such as 90 or "-2m")'))
        if self.offset is not None and abs(self.offset) > MAX_CLOCK_SKEW:
            problems.append((("offset",), f"{_fmt_num(self.offset)} s is beyond any clock (allowed: "
                                          f"|offset| <= {MAX_CLOCK_SKEW:g} s, ten years)"))
        if self.kind != "clock_skew" and self.offset is not None:
            problems.append((("offset",), f"only clock_skew takes an offset (got {_show(self.offset)} "
                                          f"for {self.kind})"))
        if self.kind != "clock_skew" and self.conductors is not None:
            problems.append((("conductors",), f"only clock_skew takes conductors (got {_show(self.conductors)} "
                                              f"for {self.kind})"))
        if self.kind != "memcached_outage" and self.restart is not None:
            problems.append((("restart",), f"only memcached_outage takes restart (got {_show(self.restart)} "
                                           f"for {self.kind})"))
        elif self.kind == "memcached_outage" and self.restart is None:
            self.restart = True  # spelled out, so that the scenario written back says it
        if problems:
            raise _Problems(problems)
        return self


class MonitorConfig(_Model):
    """An external failure detector (OPNFV Doctor, Masakari) that marks hosts down through os-services."""

    enabled: Bool = False
    detects: list[DetectableKind] = Field(default_factory=lambda: ["host_crash", "partition"])
    detection_delay: Distribution = Field(
        default_factory=lambda: Distribution(dist="uniform", low=0.1, high=1.0)
    )
    action: Literal["force_down", "disable"] = "force_down"
    action_latency: Distribution = Field(default_factory=lambda: Distribution(dist="fixed", value=0.05))
    undo_on_recovery: Bool = True

    @field_validator("detects", mode="after")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        dup = [(i, k) for i, k in enumerate(v) if k in v[:i]]
        if dup:
            raise _Problems([((i,), f"{k!r} listed twice") for i, k in dup])
        return v


class MaintenanceConfig(_Model):
    """An operator window: ``os-services disable`` at ``at``, enable again after ``duration``."""

    hosts: Hosts
    at: Duration
    duration: Annotated[float | None, BeforeValidator(_optional(_duration_gt0))] = None
    reason: Text = "maintenance"

    @field_validator("reason", mode="after")
    @classmethod
    def _reason_fits(cls, v: str) -> str:
        if not 1 <= len(v) <= 255:  # os-services' disabled_reason schema: a string of 1-255 characters
            raise ValueError(f"{len(v)} characters (allowed: 1 to 255, as os-services' disabled_reason)")
        return v


def _microversion(value: Any) -> str:
    """A compute microversion the embedded API serves: "2.1" … "2.16" or "latest"."""
    if isinstance(value, float):
        raise ValueError(f'write the microversion as a string (got {_show(value)}; allowed: "2.1" … "2.16" '
                         'or "latest", quoted: 2.10 is not 2.1)')
    if not isinstance(value, str):
        raise ValueError(f'not a microversion (got {_show(value)}; allowed: "2.1" … "2.16" or "latest")')
    from .api.microversions import parse_version  # the API's own rule, not a copy
    from .api.faults import NovaFault
    try:
        parse_version(value)
    except NovaFault:
        raise ValueError(f'not a microversion the API serves (got {_show(value)}; allowed: "2.1" … "2.16" '
                         'or "latest")') from None
    return value


class TenantsConfig(_Model):
    """How tenants look at their servers: which API call, how often, and how each poll is simulated."""

    poll_interval: PositiveDuration = 5.0
    mode: Literal["schedule", "poll"] = "schedule"
    endpoint: Literal["show", "detail"] = "show"
    microversion: Annotated[str, BeforeValidator(_microversion)] = "2.16"
    transport: Literal["direct", "asgi"] = "direct"

    @model_validator(mode="after")
    def _transport_needs_polls(self) -> TenantsConfig:
        if self.transport == "asgi" and self.mode != "poll":
            raise _Problems([(("transport",), 'sends each poll through the HTTP app, so it needs '
                                              'mode = "poll" (got mode = "schedule")')])
        return self


class NotificationsConfig(_Model):
    """Nova's ``service.update`` notifications on their way to subscribers (failover managers).

    Nova emits one on every write of a service's ``forced_down``, ``disabled`` or
    ``disabled_reason`` (``nova/objects/service.py``); a computed UNKNOWN writes nothing, so it is
    never pushed.  Each subscriber gets each notification ``delay`` after the write, or never, with
    probability ``loss`` (the message bus, an event alarm service such as Aodh, the tenant's
    endpoint: simstatus does not model them one by one).
    """

    delay: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", median=0.2, p99=1.0))
    loss: Annotated[float, _ranged(0, 1, hi_open=True)] = 0.0


HAStatus = Literal["UNKNOWN", "DOWN", "MAINTENANCE"]


class HAConfig(_Model):
    """A project's active–standby server pairs and the failover manager that switches them over.

    Each pair's two servers run on different hosts.  The manager watches the active server, by
    polling its ``host_status`` with the project's own token (the scenario's policy and
    ``microversion`` decide what it sees), by ``service.update`` notifications of its host, or
    both; when it sees one of ``switch_on`` (``confirm`` polls in a row), it switches: after
    ``switch_time`` the standby serves and the roles swap.
    """

    project: Text = "tenant-0"
    pairs: Annotated[int, _ranged(1, MAX_PAIRS, integer=True, note="pairs per entry")] = 1
    placement: Literal["anti-affinity", "spread"] = "anti-affinity"
    watch: Literal["poll", "notifications", "both"] = "poll"
    poll_interval: PositiveDuration = 5.0
    microversion: Annotated[str, BeforeValidator(_microversion)] = "2.16"
    switch_on: list[HAStatus] = Field(default_factory=lambda: ["DOWN"])
    confirm: Annotated[int, _ranged(1, 100, integer=True, note="consecutive polls")] = 1
    switch_time: Distribution = Field(default_factory=lambda: Distribution(dist="fixed", value=5.0))

    @field_validator("switch_on", mode="after")
    @classmethod
    def _statuses(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError('empty list (allowed: one or more of "UNKNOWN", "DOWN", "MAINTENANCE")')
        dup = [(i, k) for i, k in enumerate(v) if k in v[:i]]
        if dup:
            raise _Problems([((i,), f"{k!r} listed twice") for i, k in dup])
        return v

    @model_validator(mode="after")
    def _confirm_needs_polls(self) -> HAConfig:
        if self.watch == "notifications" and self.confirm != 1:
            raise _Problems([(("confirm",), f"counts polls in a row, and watch = \"notifications\" does not "
                                            f"poll (got confirm = {self.confirm}; allowed: 1, or watch = "
                                            '"poll" or "both")')])
        return self

    @property
    def polls(self) -> bool:
        return self.watch in ("poll", "both")

    @property
    def subscribes(self) -> bool:
        return self.watch in ("notifications", "both")


def _name(value: Any) -> str:
    """A scenario name of 1 to :data:`MAX_NAME` characters."""
    text = _text(value)
    if not 1 <= len(text) <= MAX_NAME:
        raise ValueError(f"{len(text)} characters (allowed: 1 to {MAX_NAME})")
    return text


def _start(value: Any) -> datetime:
    """Any TOML date-time or ISO string; naive values are UTC, as Nova's timestamps are."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not a date-time (got {_show(value)}; allowed: a TOML date-time or "
                             "ISO 8601 string such as 2026-01-01T00:00:00Z)") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    raise ValueError(f"not a date-time (got {_show(value)}; allowed: a TOML date-time such as "
                     "2026-01-01T00:00:00Z)")


class Scenario(_Model):
    """A complete, validated scenario; see ``docs/scenario.md`` for every key."""

    name: Annotated[str, BeforeValidator(_name)] = "unnamed"
    seed: Annotated[int, _ranged(0, integer=True)] = 1
    duration: PositiveDuration = 86400.0
    start: Annotated[datetime, BeforeValidator(_start)] = datetime(2026, 1, 1, tzinfo=timezone.utc)
    nova: NovaConfig = Field(default_factory=NovaConfig)
    cloud: CloudConfig = Field(default_factory=CloudConfig)
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig)
    conductor: ConductorConfig | None = None
    faults: list[FaultConfig] = Field(default_factory=list)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    maintenance: list[MaintenanceConfig] = Field(default_factory=list)
    tenants: TenantsConfig = Field(default_factory=TenantsConfig)
    ha: list[HAConfig] = Field(default_factory=list)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)

    @property
    def host_names(self) -> list[str]:
        """``compute-000`` … , zero-padded so that names sort in host order."""
        n = self.cloud.hosts
        width = max(3, len(str(n - 1)))
        return [f"compute-{i:0{width}d}" for i in range(n)]

    @property
    def project_names(self) -> list[str]:
        """``tenant-0`` … one per project."""
        return [f"tenant-{i}" for i in range(self.cloud.projects)]

    @property
    def estimated_events(self) -> float:
        """Rough work: heartbeat reports (and background jobs), plus each simulated tenant poll
        counted :data:`POLL_WEIGHT` times (an API call costs that much more than a planned report)."""
        hosts, duration = self.cloud.hosts, self.duration
        events = hosts * duration / self.nova.report_interval
        if self.conductor is not None:
            events += self.conductor.background_rate * duration  # each background job is queued
        if self.tenants.mode == "poll":
            events += POLL_WEIGHT * hosts * self.cloud.servers_per_host * duration / self.tenants.poll_interval
            # failover managers poll through the API too (otherwise they are computed from the transitions)
            events += POLL_WEIGHT * sum(h.pairs * duration / h.poll_interval for h in self.ha if h.polls)
        return events

    def expected_fault_arrivals(self, index: int) -> float:
        """Expected arrivals of ``faults[index]`` within the run, each counted once per host it hits.

        Arrivals on a host already under a fault of the same kind are skipped by the model but
        still cost a draw, so they count.  A control-plane stall or memcached outage holds every host.
        """
        fault = self.faults[index]
        n = self.cloud.hosts
        hosts = n if fault.hosts == "all" else fault.hosts if isinstance(fault.hosts, int) else len(fault.hosts)
        days = self.duration / 86400.0
        if fault.kind in _GLOBAL_KINDS:
            arrivals = 1.0 if fault.at is not None else fault.rate_per_day * days  # type: ignore[operator]
            return arrivals * n
        if fault.at is not None:
            return float(hosts)
        if fault.rate_per_host_day is not None:
            return fault.rate_per_host_day * hosts * days
        return fault.rate_per_day * days  # type: ignore[operator]

    def _work_limits(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems for a scenario whose estimated work exceeds the documented limits.

        Estimated from the numbers alone, before any host, server or event exists, so that a
        valid-looking ``rate_per_host_day = 1e12`` is refused at once instead of running for hours.
        """
        problems: list[tuple[tuple[str | int, ...], str]] = []
        c = self.cloud
        servers = c.hosts * c.servers_per_host
        if servers > MAX_SERVERS:
            problems.append((("cloud", "servers_per_host"), f"{servers:,} servers = cloud.hosts {c.hosts} × "
                             f"servers_per_host {c.servers_per_host} (allowed: at most {MAX_SERVERS} "
                             "servers per scenario)"))
        elif servers + 2 * sum(h.pairs for h in self.ha) > MAX_SERVERS:
            problems.append((("ha",), f"{servers:,} servers of cloud.servers_per_host and "
                             f"{2 * sum(h.pairs for h in self.ha):,} in [[ha]] pairs (allowed: at most "
                             f"{MAX_SERVERS} servers per scenario)"))
        reports = c.hosts * self.duration / self.nova.report_interval
        total, stalls, stall_key = 0.0, 0.0, ("faults",)
        # the windows every report is checked against: stalls for db, memcached outages for mc
        checked = "memcached_outage" if self.nova.servicegroup_driver == "mc" else "control_plane_stall"
        for i, fault in enumerate(self.faults):
            arrivals = self.expected_fault_arrivals(i)
            total += arrivals
            key = next(k for k in ("rate_per_host_day", "rate_per_day", "at") if getattr(fault, k) is not None)
            if fault.kind == checked:
                stalls += arrivals / c.hosts
                stall_key = ("faults", i, key) if stall_key == ("faults",) else ("faults",)  # one entry: name it
            if arrivals > MAX_FAULTS:
                every = "memcached outage" if fault.kind == "memcached_outage" else "control-plane stall"
                problems.append((("faults", i, key), f"about {arrivals:.2g} fault occurrences expected "
                                 f"(allowed: at most {int(MAX_FAULTS):,} per run, counting one per host a "
                                 f"fault hits, every host for a {every}; lower the rate, the "
                                 "hosts or duration)"))
        hiccups = self.heartbeat.hiccups
        if hiccups is not None:
            # a hiccup may turn every host UNKNOWN and back, like a stall: count it once per host
            arrivals = hiccups.rate_per_day * self.duration / 86400.0 * c.hosts
            total += arrivals
            if arrivals > MAX_FAULTS:
                problems.append((("heartbeat", "hiccups", "rate_per_day"), f"about {arrivals:.2g} hiccup "
                                 f"occurrences expected, rate_per_day × days × cloud.hosts (allowed: at most "
                                 f"{int(MAX_FAULTS):,} per run, counting every host for each hiccup as for a "
                                 "control-plane stall; lower the rate, cloud.hosts or duration)"))
        each_fine = not any(k[0] == "faults" or k[:2] == ("heartbeat", "hiccups") for k, _ in problems)
        if total > MAX_FAULTS and each_fine:
            also = ", every host for each heartbeat hiccup" if hiccups is not None else ""
            problems.append((("faults",), f"about {total:.2g} fault occurrences expected in all "
                             f"(allowed: at most {int(MAX_FAULTS):,} per run, counting one per host a "
                             f"fault hits, every host for a control-plane stall{also})"))
        checks = stalls * stalls * reports
        if checks > MAX_STALL_CHECKS and each_fine:
            many, one = (("memcached outages", "outage") if checked == "memcached_outage"
                         else ("control-plane stalls", "stall"))
            problems.append((stall_key, f"about {stalls:.2g} {many}, squared, × {reports:.2g} "
                             f"heartbeat reports = {checks:.2g} checks (allowed: at most {MAX_STALL_CHECKS:.0e}, "
                             f"as each {one} re-checks every report against every {one}; lower the {one} "
                             "rate, cloud.hosts or duration)"))
        return problems

    def _conductor_checks(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Clock skews aimed at conductors that exist; background load below the conductors' capacity."""
        c = self.conductor
        problems: list[tuple[tuple[str | int, ...], str]] = []
        via_conductor = c is not None and self.nova.servicegroup_driver == "db"
        for i, f in enumerate(self.faults):
            if f.kind != "clock_skew":
                continue
            if not via_conductor and f.conductors is not None:
                problems.append((("faults", i, "conductors"), "needs a [conductor] section and the db driver "
                                 "(without them a skewed clock is a host's: use hosts)"))
            elif via_conductor and "hosts" in f.model_fields_set:
                problems.append((("faults", i, "hosts"), "with [conductor] the clock that stamps "
                                 "last_seen_up is the conductor's, not the host's (allowed: conductors = "
                                 '"all", a count or a list of indices)'))
            elif via_conductor and isinstance(f.conductors, int) and f.conductors > c.count:  # type: ignore[union-attr]
                problems.append((("faults", i, "conductors"), f"{f.conductors} conductors asked for, there are "
                                 f"{c.count} (allowed: 1 <= count <= conductor.count)"))  # type: ignore[union-attr]
            elif via_conductor and isinstance(f.conductors, list) and max(f.conductors) >= c.count:  # type: ignore[union-attr]
                problems.append((("faults", i, "conductors"), f"index {max(f.conductors)} does not exist "
                                 f"(allowed: 0 … {c.count - 1}, from conductor.count = {c.count})"))  # type: ignore[union-attr]
        if c is None or c.background is None or c.background.rate is None:
            return problems
        load = c.background.rate * c.background_service.mean_value() / c.servers
        if load >= 1.0:
            return problems + [(("conductor", "background", "rate"), f"{_fmt_num(c.background.rate)} jobs/s × mean "
                     f"service {_fmt_num(c.background_service.mean_value())} s over {c.servers} worker"
                     f"{'s' * (c.servers > 1)} is a utilisation of {load:.3g} (allowed: below 1, or the "
                     "queue grows without end; lower the rate or add conductor workers)")]
        return problems

    def _time_limits(self) -> list[tuple[tuple[str | int, ...], str]]:
        """``start`` so that every timestamp of the run, and of serve and clock skew after it, exists."""
        first, last = MIN_START.strftime("%Y-%m-%dT%H:%M:%SZ"), MAX_END.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.start < MIN_START:
            return [(("start",), f"{self.start.isoformat()} is before {first} (allowed: {first} <= start "
                                 f"and start + duration <= {last})")]
        room = (MAX_END - self.start).total_seconds()
        if self.duration > room:
            return [(("start",), f"{self.start.isoformat()} + duration {_fmt_num(self.duration)} s ends "
                                 f"after {last} (allowed: {first} <= start and start + duration <= "
                                 f"{last}, the last instant a timestamp can show)")]
        return []

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        problems: list[tuple[tuple[str | int, ...], str]] = self._time_limits()
        if self.nova.policy and (self.monitor.enabled or self.maintenance):
            from .api.auth import admin_context
            from .api.policy import OS_SERVICES, load_policy

            if not load_policy(self.nova.policy).check(OS_SERVICES, admin_context()):
                who = "the monitor" if self.monitor.enabled else "the maintenance operators"
                problems.append((("nova", "policy", OS_SERVICES),
                                 f"refuses the admin, but {who} write through os-services as admin "
                                 '(allowed: a rule the admin passes, e.g. "rule:admin_api")'))
        n = self.cloud.hosts
        width = max(3, len(str(n - 1)))
        first, last = f"compute-{0:0{width}d}", f"compute-{n - 1:0{width}d}"
        for section, entries in (("faults", self.faults), ("maintenance", self.maintenance)):
            for i, entry in enumerate(entries):
                hosts = entry.hosts
                if isinstance(hosts, int) and hosts > n:
                    problems.append(((section, i, "hosts"), f"{hosts} hosts asked for, the cloud has "
                                     f"{n} (allowed: 1 <= count <= cloud.hosts = {n})"))
                elif isinstance(hosts, list):
                    unknown = [h for h in hosts if not _is_host_name(h, n, width)]
                    if unknown:
                        names = ", ".join(repr(h) for h in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
                        problems.append(((section, i, "hosts"),
                                         f"unknown host{'s' * (len(unknown) > 1)} {names} "
                                         f"(allowed: {first} … {last}, from cloud.hosts = {n})"))
                if entry.at is not None and entry.at >= self.duration:
                    problems.append(((section, i, "at"), f"{_fmt_num(entry.at)} s is not before the end "
                                     f"of the run (allowed: 0 <= at < duration = {_fmt_num(self.duration)} s)"))
        projects = self.project_names
        for i, entry in enumerate(self.ha):
            if entry.project not in projects:
                problems.append((("ha", i, "project"), f"unknown project {entry.project!r} (allowed: "
                                 f"{projects[0]} … {projects[-1]}, from cloud.projects = {len(projects)})"))
            if n < 2:
                problems.append((("ha", i, "pairs"), "a pair's two servers run on different hosts, "
                                 f"and the cloud has {n} (allowed: cloud.hosts >= 2)"))
        half = self.nova.report_interval / 2
        if self.heartbeat.jitter >= half:
            problems.append((("heartbeat", "jitter"), f"{_fmt_num(self.heartbeat.jitter)} s is too large "
                             f"(allowed: 0 <= jitter < nova.report_interval / 2 = {_fmt_num(half)} s)"))
        problems.extend(self._conductor_checks())
        events = self.estimated_events
        if events > MAX_EVENTS:
            beats = n * self.duration / self.nova.report_interval
            detail = (f"{beats:.2g} heartbeat reports = cloud.hosts {n} × duration "
                      f"{_fmt_num(self.duration)} s / nova.report_interval {_fmt_num(self.nova.report_interval)} s")
            if self.tenants.mode == "poll":
                detail += f", + {(events - beats) / POLL_WEIGHT:.2g} tenant polls × {POLL_WEIGHT}"
            problems.append(((), f"too large to simulate: about {events:.2g} events ({detail}); the limit "
                                 "is about 10^9 events on one machine (allowed: reduce cloud.hosts or "
                                 "duration, raise nova.report_interval, or with tenants.mode = \"poll\" "
                                 "raise tenants.poll_interval or use mode = \"schedule\")"))
        problems.extend(self._work_limits())
        if problems:
            raise _Problems(problems)
        return self


def _is_host_name(name: str, n: int, width: int) -> bool:
    m = re.fullmatch(r"compute-(\d+)", name)
    return bool(m) and len(m[1]) == width and int(m[1]) < n


# --------------------------------------------------------------------------- error translation


def _find(annotation: Any, want: Any) -> Any:
    """First model class (``want`` = BaseModel) or Literal (``want`` = Literal) inside an annotation."""
    if want is BaseModel and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if want is Literal and get_origin(annotation) is Literal:
        return annotation
    for arg in get_args(annotation):
        found = _find(arg, want)
        if found is not None:
            return found
    return None


def _annotation_at(root: type[BaseModel], path: tuple[str | int, ...]) -> Any:
    """The annotation of the field named by the last key of ``path`` (None if there is none)."""
    model: type[BaseModel] | None = root
    annotation: Any = None
    for part in path:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = _find(annotation, BaseModel)
    return annotation


def _model_at(root: type[BaseModel], path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class a table at ``path`` is validated with."""
    model: type[BaseModel] | None = root
    for part in path:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _find(model.model_fields[part].annotation, BaseModel)
    return model


def _section_name(root: type[BaseModel], path: tuple[str | int, ...]) -> str:
    if _model_at(root, path) is Distribution:
        return "a distribution"
    if not path:
        return "the top level" if root is Scenario else root.__name__
    if isinstance(path[-1], int):
        return f"[[{_key(path[:-1])}]]"
    return f"[{_key(path)}]"


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's internal union/validator tags from an error location."""
    return tuple(p for p in loc if isinstance(p, int) or not re.search(r"[\[\(]|^function-", p))


_TYPE_TEXT = {
    "int_type": "expected a whole number", "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number", "float_type": "expected a number",
    "float_parsing": "expected a number", "bool_type": "expected true or false",
    "bool_parsing": "expected true or false", "string_type": "expected a string",
    "list_type": "expected a list", "dict_type": "expected a table",
    "model_type": "expected a table", "model_attributes_type": "expected a table",
    "datetime_type": "expected a date-time", "datetime_parsing": "expected a date-time",
}


def _scenario_error(exc: ValidationError, root: type[BaseModel] = None, source: str | None = None) -> ScenarioError:  # type: ignore[assignment]
    """Rewrite pydantic's errors as one ``KEY: PROBLEM (got ...; allowed: ...)`` line each."""
    root = root or Scenario
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        kind, value = err["type"], err.get("input")
        ctx = err.get("ctx") or {}
        if kind == "value_error" and isinstance(ctx.get("error"), _Problems):
            for sub, text in ctx["error"].items:
                lines.append(f"{_key(loc + sub) or 'scenario'}: {text}")
            continue
        key = _key(loc) or "scenario"
        if kind == "value_error":
            text = str(ctx.get("error", err["msg"]))
        elif kind == "extra_forbidden":
            model = _model_at(root, loc[:-1])
            allowed = ", ".join(model.model_fields) if model is not None else "none"
            where = _section_name(root, loc[:-1])
            where = "at the top level" if where == "the top level" else f"in {where}"
            text = f"unknown key (allowed keys {where}: {allowed})"
        elif kind == "missing":
            text = "required key missing"
            ann = _annotation_at(root, loc)
            if get_origin(ann) is Literal:
                text += f" (allowed: {', '.join(map(str, get_args(ann)))})"
            elif loc and loc[-1] == "hosts":
                text += f" ({_HOSTS_HELP})"
        elif kind == "literal_error":
            lit = _find(_annotation_at(root, loc), Literal)
            allowed = ", ".join(map(str, get_args(lit))) if lit is not None else ctx.get("expected", "")
            text = f"unknown value {_show(value)} (allowed: {allowed})"
        elif kind in _TYPE_TEXT:
            text = f"{_TYPE_TEXT[kind]} (got {_show(value)})"
        else:
            text = f"{err['msg']} (got {_show(value)})"
        lines.append(f"{key}: {text}")
    return ScenarioError(lines, source)


# --------------------------------------------------------------------------- nesting

_TOKEN = re.compile(r"""[\[\]{}"'#\n]""")
_STRING = {  # TOML's four string spellings; an unterminated one ends the scan (tomllib reports it)
    '"""': re.compile(r'"""(?:\\.|[^\\])*?"""(?:"{0,2})', re.S),
    "'''": re.compile(r"'''.*?'''(?:'{0,2})", re.S),
    '"': re.compile(r'"(?:\\.|[^"\\\n])*"'),
    "'": re.compile(r"'[^'\n]*'"),
}


def _too_deep_line(text: str) -> int | None:
    """The line where arrays and inline tables in TOML ``text`` first nest deeper than :data:`MAX_DEPTH`.

    tomllib parses nesting by recursion, so 5,000 ``[`` end in a RecursionError; counting
    brackets outside strings and comments first turns that into a message.  Returns None when
    the nesting is within the limit.
    """
    depth, line, i = 0, 1, 0
    while (m := _TOKEN.search(text, i)) is not None:
        ch, i = m.group(), m.end()
        if ch == "\n":
            line += 1
        elif ch == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif ch in "]}":
            depth = max(depth - 1, 0)
        else:
            quote = ch * 3 if text.startswith(ch * 3, m.start()) else ch
            string = _STRING[quote].match(text, m.start())
            if string is None:
                return None
            line += text.count("\n", m.start(), string.end())
            i = string.end()
    return None


def _too_deep(value: object) -> bool:
    """Whether tables and lists in ``value`` nest deeper than :data:`MAX_DEPTH` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Iterable[object] = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


_DEPTH_HELP = f"allowed: at most {MAX_DEPTH} levels of tables and arrays"


# --------------------------------------------------------------------------- overrides


_SEGMENT = re.compile(r"^(?P<name>[^\[\]]*)(?P<idx>(?:\[\d+\])*)$")


def _split_key(key: str) -> list[str | int]:
    """``faults.0.at`` or ``faults[0].at`` → ['faults', 0, 'at']."""
    if not isinstance(key, str) or not key.strip():
        raise ScenarioError([f"{_show(key)}: empty override key (allowed: a dotted key such as "
                             "nova.service_down_time)"])
    parts: list[str | int] = []
    for segment in key.strip().split("."):
        m = _SEGMENT.match(segment)
        if not m or (not m["name"] and not m["idx"]):
            raise ScenarioError([f"{key}: malformed override key (allowed: a dotted key such as "
                                 "nova.service_down_time or faults.0.rate_per_host_day)"])
        name = m["name"]
        if name:
            parts.append(int(name) if name.isdigit() else name)
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m["idx"]))
    if len(parts) > MAX_DEPTH:
        raise ScenarioError([f"{_show(key)}: override key nested more than {MAX_DEPTH} levels deep "
                             f"({_DEPTH_HELP})"])
    if isinstance(parts[0], int):
        raise ScenarioError([f"{key}: an override key starts with a name (allowed: a dotted key such "
                             "as nova.service_down_time)"])
    return parts


def _plain(value: Any) -> Any:
    """A deep copy with mappings as dicts and sequences as lists, so overrides never touch the caller's data."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, BaseModel):
        return copy.deepcopy(value)
    return value


def apply_overrides(data: dict, overrides: Mapping[str, object]) -> dict:
    """Return a copy of raw scenario ``data`` with dotted-key ``overrides`` set.

    Overrides act on the raw structure, before validation, so an overridden value is checked
    exactly like one written in the file.  Missing tables along the path are created (an
    unknown name is then reported by validation); list entries are addressed by index
    (``faults.0.at``); an index past the end is an error naming the key.
    """
    out = _plain(data)
    for key, value in overrides.items():
        path = _split_key(key)
        node: Any = out
        for depth, part in enumerate(path[:-1]):
            here = _key(path[: depth + 1])
            nxt = path[depth + 1]
            if isinstance(node, dict):
                if isinstance(part, int):
                    raise ScenarioError([f"{key}: {_key(path[:depth]) or 'scenario'} is a table, "
                                         f"not a list (got index {part})"])
                if part not in node or node[part] is None:
                    node[part] = [] if isinstance(nxt, int) else {}
                node = node[part]
            elif isinstance(node, list):
                node = _list_item(node, part, key, path[:depth])
            else:
                raise ScenarioError([f"{key}: {_key(path[:depth])} is {_show(node)}, not a table"])
            if not isinstance(node, (dict, list)):
                raise ScenarioError([f"{key}: {here} is {_show(node)}, not a table, so "
                                     f"{_key(path)} cannot be set"])
        last = path[-1]
        if isinstance(node, list):
            _list_item(node, last, key, path[:-1])
            node[last] = _plain(value)  # type: ignore[index]
        elif isinstance(last, int):
            raise ScenarioError([f"{key}: {_key(path[:-1])} is a table, not a list (got index {last})"])
        else:
            node[last] = _plain(value)
    return out


def _list_item(node: list, part: str | int, key: str, prefix: list[str | int]) -> Any:
    where = _key(prefix)
    if not isinstance(part, int):
        raise ScenarioError([f"{key}: {where} is a list (allowed: an index such as {where}.0)"])
    if part >= len(node):
        n = len(node)
        raise ScenarioError([f"{_key(prefix + [part])}: index {part} out of range ({where} has {n} "
                             f"entr{'y' if n == 1 else 'ies'}; override key {key!r})"])
    return node[part]


def parse_override(text: str) -> tuple[str, object]:
    """``"nova.service_down_time=30"`` → ``("nova.service_down_time", 30)``.

    The value is read as a TOML value (numbers, booleans, strings, arrays, inline tables,
    date-times), so ``--set`` means what the same text would mean in the file; anything that is
    not TOML is kept as a bare string, which lets ``--set duration=2h`` work without quotes.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError([f"{_show(text)}: an override is KEY=VALUE (e.g. nova.service_down_time=30)"])
    key, raw = key.strip(), raw.strip()
    _split_key(key)
    if _too_deep_line(raw) is not None:
        raise ScenarioError([f"{key}: value nested more than {MAX_DEPTH} levels deep ({_DEPTH_HELP})"])
    try:
        doc = tomllib.loads(f"v = {raw}")
        value = doc["v"] if len(doc) == 1 else raw
    except tomllib.TOMLDecodeError:
        value = raw
    except RecursionError:  # pragma: no cover - the count above refuses deep values first
        raise ScenarioError([f"{key}: value nested too deeply ({_DEPTH_HELP})"]) from None
    return key, value


def _as_mapping(overrides: Mapping[str, object] | Iterable[str] | None) -> dict[str, object]:
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return dict(overrides)
    if isinstance(overrides, str):
        overrides = [overrides]
    return dict(parse_override(item) for item in overrides)


# --------------------------------------------------------------------------- load and dump


def load_scenario(
    source: str | os.PathLike[str] | Mapping[str, Any] | Scenario,
    overrides: Mapping[str, object] | Iterable[str] | None = None,
) -> Scenario:
    """The validated :class:`Scenario` from a TOML path, a mapping or a Scenario, with overrides.

    :param overrides: dotted key → value, or ``"KEY=VALUE"`` strings as given to ``--set``.
    :raises ScenarioError: listing every problem found (the file is named in the first line).
    """
    changes = _as_mapping(overrides)
    label: str | None = None
    if isinstance(source, Scenario):
        if not changes:
            return source
        data: Any = _to_data(source)
    elif isinstance(source, Mapping):
        data = source
    elif isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        data = _read_toml(label)
    else:
        raise ScenarioError([f"scenario: expected a TOML file path, a mapping or a Scenario "
                             f"(got {type(source).__name__})"])
    if _too_deep(data):
        raise ScenarioError([f"{label or 'scenario'}: tables and arrays nested more than {MAX_DEPTH} "
                             f"levels deep ({_DEPTH_HELP})"])
    for key, value in changes.items():
        if _too_deep(value):
            raise ScenarioError([f"{key}: value nested more than {MAX_DEPTH} levels deep ({_DEPTH_HELP})"])
    data = apply_overrides(data, changes) if changes else data
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise _scenario_error(exc, Scenario, label) from None
    except RecursionError:  # pragma: no cover - the depth checks above come first; last resort
        raise ScenarioError([f"{label or 'scenario'}: nested too deeply ({_DEPTH_HELP})"]) from None


#: the fault kinds a fragment's ``faults`` list always replaces, listed there or not (what
#: ``simstatus calibrate`` measures: an empty list there means "no stalls were seen")
FRAGMENT_FAULT_KINDS = frozenset({"control_plane_stall"})


def apply_fragment(
    scenario: str | os.PathLike[str] | Mapping[str, Any] | Scenario,
    fragment: str | os.PathLike[str] | Mapping[str, Any],
) -> Scenario:
    """The scenario with a fragment (e.g. what ``simstatus calibrate`` writes) laid over it.

    A fragment is a partial scenario.  Its tables merge into the scenario's key by key
    (``[heartbeat] delay = ...`` replaces the delay and keeps the jitter; a value that is itself
    a table, such as a distribution or a loss model, is replaced whole).  Its ``faults`` list
    replaces the scenario's entries of :data:`FRAGMENT_FAULT_KINDS` and of every kind it lists,
    and keeps the others (a calibration measures stalls, not crashes); any other list replaces
    the scenario's.  Top-level values (``seed``, ``duration``) replace the scenario's.

    :raises ScenarioError: the fragment cannot be read, is not a table of scenario sections, or
        the merged scenario does not validate (the fragment is named in the message).
    """
    label = os.fspath(fragment) if isinstance(fragment, (str, os.PathLike)) else "fragment"
    if isinstance(fragment, (str, os.PathLike)):
        data: Any = _read_toml(label)
    elif isinstance(fragment, Mapping):
        data = _plain(fragment)
    else:
        raise ScenarioError([f"fragment: expected a TOML file path or a mapping (got {type(fragment).__name__})"])
    if _too_deep(data):
        raise ScenarioError([f"{label}: tables and arrays nested more than {MAX_DEPTH} levels deep ({_DEPTH_HELP})"])
    unknown = [k for k in data if k not in Scenario.model_fields]
    if unknown or not data:
        got = ", ".join(map(_show, unknown)) if unknown else "nothing"
        raise ScenarioError([f"{label}: not a scenario fragment: expected scenario sections such as "
                             f"[nova], [heartbeat], [conductor], [[faults]] (got {got})"])
    base = load_scenario(scenario)
    merged = _to_data(base)
    for key, value in data.items():
        if key == "faults" and isinstance(value, list):
            kinds = set(FRAGMENT_FAULT_KINDS) | {f.get("kind") for f in value if isinstance(f, Mapping)}
            kept = [f for f in merged.get("faults", []) if f.get("kind") not in kinds]
            merged["faults"] = kept + _plain(value)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **_plain(value)}
        else:
            merged[key] = _plain(value)
    try:
        return Scenario.model_validate(merged)
    except ValidationError as exc:
        raise _scenario_error(exc, Scenario, f"{label} (laid over the scenario)") from None


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # a device or a huge file must not fill memory
    except FileNotFoundError:
        raise ScenarioError([f"{path}: scenario file not found"]) from None
    except IsADirectoryError:
        raise ScenarioError([f"{path}: is a directory, not a scenario file"]) from None
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read scenario file ({exc.strerror or exc})"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError([f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB (allowed: a scenario "
                             f"file of at most {MAX_FILE_BYTES // 2**20} MiB)"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8"]) from None
    line = _too_deep_line(text)
    if line is not None:
        raise ScenarioError([f"{path}: arrays and inline tables nested more than {MAX_DEPTH} levels "
                             f"deep at line {line} ({_DEPTH_HELP})"])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{path}: TOML syntax error: {exc}"]) from None
    except RecursionError:  # pragma: no cover - the count above refuses deep nesting first
        raise ScenarioError([f"{path}: nested too deeply ({_DEPTH_HELP})"]) from None


def _toml_num(x: float) -> float | int:
    """Whole seconds print as ``60`` rather than ``60.0``; loading gives the same float back."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


def _to_data(model: BaseModel) -> dict[str, Any]:
    """A model as the raw TOML structure: durations in seconds, distributions in TOML form, no Nones."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is None:
            continue
        out[name] = _to_value(value)
    return out


def _to_value(value: Any) -> Any:
    if isinstance(value, Distribution):
        return value.to_toml()
    if isinstance(value, BaseModel):
        return _to_data(value)
    if isinstance(value, list):
        return [_to_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_value(v) for k, v in value.items()}
    if isinstance(value, float):
        return _toml_num(value)
    return value


def scenario_to_toml(scenario: Scenario) -> str:
    """The effective scenario as TOML, every default spelled out; loading it gives ``scenario`` back.

    Stored with every result so that a run can be repeated and its settings read without
    knowing the defaults of the version that produced it.
    """
    return tomli_w.dumps(_to_data(scenario))
