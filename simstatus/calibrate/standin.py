"""Samples from a simulated cloud, as the live sampler would take them from a real one.

The embedded API stands in for a real cloud: every ``interval`` the same ``GET /os-services`` (admin,
microversion 2.11) is answered by the API functions over a World, and each service becomes one row
of the API form (:data:`~simstatus.calibrate.samples.API_COLUMNS`).  The scenario's true heartbeat
settings are known, so estimates can be checked against them (tests, the calibration notebook, the
sample file shipped in ``data/``).  ``resolution = 1`` cuts ``updated_at`` to whole seconds, as many
databases store it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ..api import compute
from ..api.auth import admin_context
from ..api.microversions import APIVersion

__all__ = ["sample_world"]

_V2_11 = APIVersion(2, 11)


def sample_world(scenario, *, interval: float = 1.0, duration: float | None = None,
                 resolution: float | None = None, form: str = "api") -> pd.DataFrame:
    """Sample ``scenario``'s os-services every ``interval`` simulated seconds for ``duration`` (default:
    the scenario's).  ``sampled_at`` is the simulated instant on the scenario's calendar.

    ``form = "db"``: rows of Nova's ``services`` table instead (``host``, ``updated_at``,
    ``report_count``, ``sampled_at``), as a periodic ``SELECT`` would export them.
    """
    from ..model.world import World
    from ..scenario import load_scenario

    s = load_scenario(scenario)
    world = World(s)
    ctx = admin_context("calibrate")
    end = float(s.duration if duration is None else min(duration, s.duration))
    rows: list[tuple] = []
    epoch: datetime = s.start
    # from three report intervals on: the model's warm start gives each host a first "previous"
    # write exactly one interval before its first report, without a delay, which no real cloud has
    first = 3.0 * s.nova.report_interval
    for t in np.arange(first, end, interval):
        world.env.run(until=float(t))
        at = epoch + timedelta(seconds=float(t))
        for service in compute.list_services(world.api, ctx, _V2_11, {})["services"]:
            if form == "db":
                count = world.cloud.services[service["host"]].heartbeats.report_count(float(t))
                rows.append((service["host"], service["updated_at"], count, at))
            else:
                rows.append((service["host"], service["binary"], at, service["updated_at"], service["state"],
                             service["status"], service["forced_down"]))
    columns = (["host", "updated_at", "report_count", "sampled_at"] if form == "db" else
               ["host", "binary", "sampled_at", "updated_at", "state", "status", "forced_down"])
    frame = pd.DataFrame(rows, columns=columns)
    frame["sampled_at"] = pd.to_datetime(frame["sampled_at"], utc=True)
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True)
    if resolution is not None and resolution >= 1:
        frame["updated_at"] = frame["updated_at"].dt.floor(f"{int(resolution)}s")
    return frame
