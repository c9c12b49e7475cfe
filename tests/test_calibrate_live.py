"""The live sampler and ``simstatus calibrate``, against the embedded API as a stand-in cloud.

openstacksdk connects to :class:`~simstatus.testing.SimulatedNova` as to any cloud (keystoneauth's
``admin_token`` plugin, through ``clouds.yaml`` for the command).  The served clock is manual: the
sampler's injected ``sleep`` advances it and its ``clock`` reads it, so a simulated hour of
one-second samples takes seconds.  Expected values come from the built-in scenario: nova-compute
reports every 10 s (``report_interval``), and Nova's view of os-services at 2.11 (forced down is
``state: down`` with ``forced_down: true``; disabled is ``status: disabled``).
"""

from __future__ import annotations

import functools
import re
import tomllib
from datetime import datetime
from pathlib import Path

import openstack
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simstatus.calibrate import live
from simstatus.calibrate.live import SamplingError, SamplingInterrupted, sample_services
from simstatus.calibrate.samples import API_COLUMNS
from simstatus.cli import main
from simstatus.testing import SimulatedNova

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # openstacksdk's own

HOSTS = 6


@pytest.fixture(scope="module")
def nova():
    with SimulatedNova(overrides={"cloud.hosts": HOSTS}) as served:
        yield served


def connect(nova: SimulatedNova, token: str | None = None):
    return openstack.connect(auth_type="admin_token",
                             auth={"endpoint": nova.compute_url, "token": token or nova.admin_token},
                             load_yaml_config=False, load_envvars=False)


class SimClock:
    """The served clock as epoch seconds; ``sleep`` advances it (and ``stop_after`` samples, raises
    KeyboardInterrupt from the sleep that follows, as Ctrl-C would)."""

    def __init__(self, nova: SimulatedNova, stop_after: int | None = None) -> None:
        info = nova.clock()
        self.nova, self.now = nova, info["now"]
        self.base = datetime.fromisoformat(info["time"].replace("Z", "+00:00")).timestamp() - info["now"]
        self.sleeps, self.stop_after = 0, stop_after

    def clock(self) -> float:
        return self.base + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.stop_after is not None and self.sleeps >= self.stop_after:
            raise KeyboardInterrupt
        self.now = self.nova.advance(seconds)

    def kwargs(self) -> dict:
        return {"clock": self.clock, "sleep": self.sleep, "progress": False}


def test_one_row_per_service_per_sample_on_a_fixed_grid(nova, tmp_path):
    out = tmp_path / "samples.parquet"
    rows = sample_services(connect(nova), duration=120, interval=1, out=out, **SimClock(nova).kwargs())
    frame = pd.read_parquet(out)
    assert list(frame.columns) == API_COLUMNS
    assert rows == len(frame) == 120 * HOSTS
    per_sample = frame.groupby("sampled_at")["host"].agg(["count", "nunique"])
    assert len(per_sample) == 120 and (per_sample["count"] == HOSTS).all() and (per_sample["nunique"] == HOSTS).all()
    steps = pd.Series(sorted(frame["sampled_at"].unique())).diff().dropna().dt.total_seconds()
    assert steps.min() == pytest.approx(1.0) and steps.max() == pytest.approx(1.0)
    assert str(frame["sampled_at"].dtype) == str(frame["updated_at"].dtype) == "datetime64[us, UTC]"
    meta = pq.read_schema(out).metadata
    assert meta[b"simstatus"] == b"calibration-samples"


def test_updated_at_moves_about_every_report_interval(nova, tmp_path):
    """Ten minutes of 1 s samples: each host's updated_at changes every ~10 s (report_interval)."""
    out = tmp_path / "samples.parquet"
    sample_services(connect(nova), duration=600, interval=1, out=out, **SimClock(nova).kwargs())
    frame = pd.read_parquet(out)
    for host, rows in frame.groupby("host"):
        writes = rows["updated_at"].drop_duplicates().sort_values().diff().dropna().dt.total_seconds()
        assert len(writes) >= 55, host
        assert writes.median() == pytest.approx(10.0, abs=0.5), host
    lag = (frame["sampled_at"] - frame["updated_at"]).dt.total_seconds()
    assert lag.min() >= 0 and lag.max() <= 12  # the sampler's clock is the served one: a row is ≤ ~10 s old


def test_forced_down_and_disabled_hosts_show(nova, tmp_path):
    nova.force_down("compute-004")
    nova.disable("compute-005", "kernel upgrade")
    try:
        out = tmp_path / "samples.parquet"
        sample_services(connect(nova), duration=5, interval=1, out=out, **SimClock(nova).kwargs())
    finally:
        nova.force_down("compute-004", down=False)
        nova.enable("compute-005")
    frame = pd.read_parquet(out).set_index("host")
    forced = frame.loc["compute-004"]
    assert forced["forced_down"].all() and (forced["state"] == "down").all()
    disabled = frame.loc["compute-005"]
    assert (disabled["status"] == "disabled").all() and not disabled["forced_down"].any()
    others = frame.drop(index=["compute-004", "compute-005"])
    assert (others["state"] == "up").all() and (others["status"] == "enabled").all()
    assert not others["forced_down"].any()


def test_ctrl_c_keeps_the_samples_and_a_rerun_resumes_without_duplicates(nova, tmp_path):
    out = tmp_path / "samples.parquet"
    with pytest.raises(SamplingInterrupted) as stopped:
        sample_services(connect(nova), duration=60, interval=1, out=out, **SimClock(nova, stop_after=25).kwargs())
    assert stopped.value.rows == 25 * HOSTS and stopped.value.path == out
    assert len(pd.read_parquet(out)) == 25 * HOSTS
    nova.advance(300)  # the sampler was away for five minutes
    rows = sample_services(connect(nova), duration=60, interval=1, out=out, **SimClock(nova).kwargs())
    assert rows == 35 * HOSTS  # what was left of the minute
    frame = pd.read_parquet(out)
    assert len(frame) == 60 * HOSTS
    assert not frame.duplicated(["host", "sampled_at"]).any()
    instants = frame["sampled_at"].drop_duplicates()
    assert instants.is_monotonic_increasing and len(instants) == 60
    gap = instants.diff().dt.total_seconds().max()
    assert gap == pytest.approx(300)  # the pause (the interrupted sleep never ran) shows as a gap
    assert sample_services(connect(nova), duration=60, interval=1, out=out, **SimClock(nova).kwargs()) == 0


@pytest.mark.parametrize("content", [b"host,updated_at\nh1,2026-01-01\n", b"\x00\x01 not parquet"])
def test_a_file_that_is_not_ours_is_never_overwritten(nova, tmp_path, content):
    out = tmp_path / "samples.parquet"
    out.write_bytes(content)
    with pytest.raises(FileExistsError, match="not a simstatus sample file"):
        sample_services(connect(nova), duration=5, interval=1, out=out, **SimClock(nova).kwargs())
    assert out.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["samples.parquet"]  # no scratch file left


def test_a_parquet_file_of_someone_else_is_refused_too(nova, tmp_path):
    """Same columns, but written by pandas: no simstatus marker, so not resumed into."""
    out = tmp_path / "samples.parquet"
    pd.DataFrame({c: ["x"] for c in API_COLUMNS}).to_parquet(out)
    before = out.read_bytes()
    assert main(["calibrate", "--out", str(out), "--duration", "5s"]) == 1
    assert out.read_bytes() == before


class FakeResponse:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code, self._body, self.text = status, body, str(body)

    def json(self) -> dict:
        return self._body


class FakeCloud:
    """A Connection whose GET /os-services takes ``cost`` seconds of the fake clock, and answers
    ``errors[i]`` (a status) on the i-th request instead of the two services."""

    def __init__(self, cost: float = 0.0, errors: dict[int, int] | None = None) -> None:
        self.now, self.cost, self.errors, self.requests = 1.7e9, cost, errors or {}, []
        self.compute = self

    def get(self, path: str, microversion: str) -> FakeResponse:
        assert (path, microversion) == ("/os-services", "2.11")
        self.requests.append(self.now)
        self.now += self.cost
        status = self.errors.get(len(self.requests) - 1, 200)
        if status != 200:
            return FakeResponse(status, {"fault": {"code": status, "message": f"status {status}"}})
        services = [{"host": h, "binary": "nova-compute", "state": "up", "status": "enabled",
                     "updated_at": "2023-11-14T22:13:20.000000", "forced_down": False} for h in ("a", "b")]
        return FakeResponse(200, {"services": services})

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def test_an_overrunning_request_is_followed_at_once_and_the_grid_kept(tmp_path):
    """A request of 2.5 intervals: the next goes at once, the rest stay on the grid (no burst)."""
    cloud = FakeCloud()
    slow = iter([0.0, 2.5] + [0.0] * 20)

    def get(path, microversion, _get=cloud.get):
        cloud.cost = next(slow)
        return _get(path, microversion)

    cloud.get = get
    out = tmp_path / "s.parquet"
    sample_services(cloud, duration=8, interval=1, out=out, clock=cloud.clock, sleep=cloud.sleep, progress=False)
    offsets = [round(t - cloud.requests[0], 6) for t in cloud.requests]
    assert offsets == [0, 1, 3.5, 4, 5, 6, 7]


def test_transient_failures_are_missing_samples_a_refusal_stops_and_keeps_what_was_sampled(tmp_path):
    cloud = FakeCloud(errors={3: 503, 4: 502})
    out = tmp_path / "s.parquet"
    rows = sample_services(cloud, duration=10, interval=1, out=out, clock=cloud.clock, sleep=cloud.sleep,
                           progress=False)
    assert rows == 8 * 2 and len(pd.read_parquet(out)) == 16
    cloud = FakeCloud(errors={5: 403})
    out = tmp_path / "t.parquet"
    with pytest.raises(SamplingError, match=r"admin-only.*10 rows sampled before are saved"):
        sample_services(cloud, duration=10, interval=1, out=out, clock=cloud.clock, sleep=cloud.sleep,
                        progress=False)
    assert len(pd.read_parquet(out)) == 10


def test_a_first_transient_failure_writes_nothing(tmp_path):
    cloud = FakeCloud(errors={0: 503})
    out = tmp_path / "s.parquet"
    with pytest.raises(SamplingError, match="answered 503"):
        sample_services(cloud, duration=10, interval=1, out=out, clock=cloud.clock, sleep=cloud.sleep,
                        progress=False)
    assert list(tmp_path.iterdir()) == []


def test_resume_with_another_interval_is_refused(tmp_path):
    cloud = FakeCloud()
    out = tmp_path / "s.parquet"
    sample_services(cloud, duration=3, interval=1, out=out, clock=cloud.clock, sleep=cloud.sleep, progress=False)
    before = out.read_bytes()
    with pytest.raises(SamplingError, match="sampled every 1 s; resume it with --interval 1s"):
        sample_services(cloud, duration=6, interval=2, out=out, clock=cloud.clock, sleep=cloud.sleep,
                        progress=False)
    assert out.read_bytes() == before


# -- the command ------------------------------------------------------------------------------------
@pytest.fixture
def clouds_yaml(nova, tmp_path, monkeypatch):
    """``token → cloud name``: a clouds.yaml entry for the served API, as an operator would write one."""
    for name in ("OS_CLOUD", "OS_AUTH_URL", "OS_TOKEN", "OS_AUTH_TYPE", "OS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    entries = []

    def cloud(token: str) -> str:
        name = f"sim{len(entries)}"
        entries.append(f"  {name}:\n    auth_type: admin_token\n    auth:\n      endpoint: {nova.compute_url}\n"
                       f"      token: '{token}'\n")
        path = tmp_path / "clouds.yaml"
        path.write_text("clouds:\n" + "".join(entries))
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
        return name

    return cloud


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("simstatus: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_refused_credentials_exit_2_and_write_nothing(clouds_yaml, tmp_path, capsys):
    out = tmp_path / "out" / "samples.parquet"
    code = main(["calibrate", "--os-cloud", clouds_yaml(":nobody"), "--out", str(out), "--no-progress"])
    assert code == 2
    assert "the cloud refused the credentials" in _one_error_line(capsys)
    assert not out.exists()


def test_a_user_without_admin_is_told_os_services_is_admin_only(clouds_yaml, nova, tmp_path, capsys):
    out = tmp_path / "samples.parquet"
    code = main(["calibrate", "--os-cloud", clouds_yaml(nova.tenant_token(nova.projects[0])), "--out", str(out),
                 "--no-progress"])
    assert code == 2
    assert "admin-only under Nova's default policy" in _one_error_line(capsys)
    assert not out.exists()


def test_an_unknown_cloud_name_is_one_line(clouds_yaml, tmp_path, capsys):
    clouds_yaml("admin:admin")
    out = tmp_path / "samples.parquet"
    assert main(["calibrate", "--os-cloud", "no-such-cloud", "--out", str(out)]) == 2
    assert "no-such-cloud" in _one_error_line(capsys)
    assert not out.exists()


def test_an_unreachable_endpoint_is_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "clouds.yaml"
    path.write_text("clouds:\n  gone:\n    auth_type: admin_token\n    auth:\n"
                    "      endpoint: http://127.0.0.1:9/v2.1\n      token: admin:admin\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    out = tmp_path / "samples.parquet"
    assert main(["calibrate", "--os-cloud", "gone", "--out", str(out)]) == 2
    assert "cannot reach the compute API" in _one_error_line(capsys)
    assert not out.exists()


def test_ctrl_c_exits_130_and_says_how_to_resume(clouds_yaml, nova, tmp_path, monkeypatch, capsys):
    sim = SimClock(nova, stop_after=5)
    monkeypatch.setattr(live, "sample_services",
                        functools.partial(sample_services, clock=sim.clock, sleep=sim.sleep))
    out = tmp_path / "samples.parquet"
    assert main(["calibrate", "--os-cloud", clouds_yaml("admin:admin"), "--out", str(out), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "run the same command to resume" in err and "Traceback" not in err
    assert len(pd.read_parquet(out)) == 5 * HOSTS


@pytest.mark.slow
def test_calibrate_samples_an_hour_and_prints_the_estimates(clouds_yaml, nova, tmp_path, monkeypatch, capsys):
    """The whole command, as against a real cloud: an hour of 2 s samples, then the estimates."""
    sim = SimClock(nova)
    monkeypatch.setattr(live, "sample_services",
                        functools.partial(sample_services, clock=sim.clock, sleep=sim.sleep))
    out = tmp_path / "samples.parquet"
    report = tmp_path / "report"
    code = main(["calibrate", "--os-cloud", clouds_yaml("admin:admin"), "--out", str(out), "--interval", "2s",
                 "--report", str(report), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(pd.read_parquet(out)) == 1800 * HOSTS
    assert {"estimates.csv", "calibration.toml"} <= {p.name for p in report.iterdir()}
    fragment = tomllib.loads((report / "calibration.toml").read_text())
    assert fragment["nova"]["report_interval"] == pytest.approx(10.0, abs=0.1)
    assert "[heartbeat]" in captured.out or "[nova]" in captured.out
    assert "--with calibration.toml" in captured.out


# -- --from: bad files --------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.csv", None, "no such file"),
    ("empty.csv", b"", "the file is empty"),
    ("malformed.csv", b'host,updated_at\n"compute-1,2026\x00\n"x', "cannot be read as CSV|neither API samples"),
    ("columns.csv", b"a,b\n1,2\n", "neither API samples"),
    ("broken.parquet", b"PAR1 not really", "cannot be read as Parquet"),
])
def test_from_a_bad_file_is_one_line_exit_2(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["calibrate", "--from", str(path)]) == 2
    line = _one_error_line(capsys)
    assert name in line
    assert re.search(message, line), line


def test_from_and_out_together_are_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["calibrate", "--from", "a.csv", "--out", "b.parquet"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_neither_from_nor_out_says_which_to_give(capsys):
    assert main(["calibrate"]) == 2
    assert "--out FILE" in _one_error_line(capsys)


def test_out_must_be_parquet(tmp_path):
    cloud = FakeCloud()
    with pytest.raises(SamplingError, match=r"\*\.parquet"):
        sample_services(cloud, duration=3, interval=1, out=tmp_path / "s.csv", clock=cloud.clock,
                        sleep=cloud.sleep, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_schema_is_arrow_timestamps(tmp_path):
    """What read_samples sees: UTC timestamps, booleans, strings (not objects or text dates)."""
    cloud = FakeCloud()
    out = tmp_path / "s.parquet"
    sample_services(cloud, duration=2, interval=1, out=out, clock=cloud.clock, sleep=cloud.sleep, progress=False)
    schema = pq.read_schema(out)
    assert schema.field("sampled_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("forced_down").type == pa.bool_()
    frame = pd.read_parquet(out)
    assert frame["updated_at"].iloc[0] == pd.Timestamp("2023-11-14T22:13:20", tz="UTC")
    assert frame["sampled_at"].iloc[0] == pd.Timestamp(1.7e9, unit="s", tz="UTC")


class Killed(BaseException):
    """Not KeyboardInterrupt: nothing in the sampler catches it, as nothing survives a SIGKILL."""


def test_a_kill_loses_at_most_the_last_ten_seconds(tmp_path):
    cloud = FakeCloud()
    out = tmp_path / "s.parquet"

    def sleep(seconds: float) -> None:
        if len(cloud.requests) == 37:
            raise Killed
        cloud.sleep(seconds)

    with pytest.raises(Killed):
        sample_services(cloud, duration=60, interval=1, out=out, clock=cloud.clock, sleep=sleep, progress=False)
    kept = pd.read_parquet(out)["sampled_at"].nunique()
    assert 37 - 10 <= kept < 37


def test_ten_failures_in_a_row_end_the_sampling_with_what_was_sampled_saved(tmp_path):
    cloud = FakeCloud(errors={i: 503 for i in range(3, 40)})
    out = tmp_path / "s.parquet"
    with pytest.raises(SamplingError, match="answered 503.*6 rows sampled before are saved"):
        sample_services(cloud, duration=60, interval=1, out=out, clock=cloud.clock, sleep=cloud.sleep,
                        progress=False)
    assert len(cloud.requests) == 3 + 10
    assert len(pd.read_parquet(out)) == 3 * 2


def test_a_report_folder_that_is_not_ours_is_refused_before_sampling(clouds_yaml, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    out = tmp_path / "samples.parquet"
    code = main(["calibrate", "--os-cloud", clouds_yaml("admin:admin"), "--out", str(out), "--report", str(folder)])
    assert code == 2
    assert "not made by simstatus" in _one_error_line(capsys)
    assert not out.exists() and [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_too_few_samples_keeps_the_file_and_says_how_to_sample_more(clouds_yaml, nova, tmp_path, monkeypatch,
                                                                     capsys):
    sim = SimClock(nova)
    monkeypatch.setattr(live, "sample_services",
                        functools.partial(sample_services, clock=sim.clock, sleep=sim.sleep))
    out = tmp_path / "samples.parquet"
    code = main(["calibrate", "--os-cloud", clouds_yaml("admin:admin"), "--out", str(out), "--duration", "5s",
                 "--no-progress"])
    assert code == 2
    assert "longer --duration" in _one_error_line(capsys)
    assert len(pd.read_parquet(out)) == 5 * HOSTS
