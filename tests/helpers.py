"""Small builders and readers shared by the model tests (scenario pieces in, plain tuples out)."""

from __future__ import annotations

H0, H1 = "compute-000", "compute-001"


def fault(kind: str, at: float, duration: float | None = None, hosts=(H0,), **extra) -> dict:
    """A ``[[faults]]`` entry at a fixed instant (a stall is global, so it names no hosts)."""
    entry = {"kind": kind, "at": at, **extra}
    if kind != "control_plane_stall":
        entry["hosts"] = list(hosts)
    if duration is not None:
        entry["duration"] = duration
    return entry


def transitions_of(result, host: str = H0, since: float = -1.0) -> list[tuple[float, str, str]]:
    """``(at, from_status, to_status)`` of one host's transitions after ``since``."""
    t = result.transitions
    t = t[(t["host"] == host) & (t["at"] > since)]
    return [(float(r.at), r.from_status, r.to_status) for r in t.itertuples()]


def actions_of(result, host: str = H0, *, reasons: bool = False) -> list[tuple]:
    """``(at, actor, action)`` of one host's service writes, with the reason if ``reasons``."""
    a = result.actions
    a = a[a["host"] == host]
    rows = []
    for r in a.itertuples():
        row = (float(r.at), r.actor, r.action)
        if reasons:
            row += (None if r.reason is None or r.reason != r.reason else r.reason,)
        rows.append(row)
    return rows


_CLI_LOOP = r"""
import contextlib, io, json, sys
from simstatus.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as printed:
        code = main(argv)
    results.append({"code": code, "stderr": err.getvalue(), "stdout": printed.getvalue()})
print(json.dumps(results))
"""


def cli_in_one_process(argvs: list[list[str]], cwd=None, timeout: float = 120) -> list[dict]:
    """``simstatus`` run once per argument list, all in one fresh interpreter (one start-up for
    the lot): each result's exit ``code``, ``stderr`` and ``stdout``."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _CLI_LOOP, json.dumps(argvs)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
