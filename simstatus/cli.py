"""``simstatus``: the command line.

``simstatus run SCENARIO [--out DIR] [--set KEY=VALUE ...]`` runs one scenario and prints its
summary table; ``simstatus compare SCENARIO --set KEY=V1,V2,...`` sweeps settings and prints the
comparison with confidence intervals and theory; ``simstatus bench`` times the model against a
naive baseline; ``simstatus serve [SCENARIO]`` serves the compute API over a live simulation
until interrupted; ``simstatus calibrate`` samples a cloud's ``GET /os-services`` (or reads
samples) and estimates its heartbeat settings; ``simstatus recommend SCENARIO --budget RATE`` finds
the shortest ``service_down_time`` within a false-UNKNOWN budget.  Bad input (a
scenario that does not validate, a bad ``--set``, a bad policy) prints one clear message and
exits 2, never a traceback, and so does an ``--out`` that is a file, cannot be written or is a
non-empty folder simstatus did not make (checked before simulating); a run folder that already
exists, a study folder holding a different sweep, a serve address in use, or a disk that fails
while writing, exits 1.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .outdir import OutputFolderError
from .textsafe import escape_control

if TYPE_CHECKING:  # pragma: no cover - `--version` and `--help` must not pay for pandas or pydantic
    import pandas as pd

__all__ = ["main"]

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors use our exit code and wording."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised via main()
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"simstatus: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="simstatus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"simstatus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run one scenario and print its summary table",
                              description="Run one scenario and print its summary table.")
    run.add_argument("scenario", help="scenario TOML file (see docs/scenario.md)")
    run.add_argument("--out", metavar="DIR", help="save the run folder here (must not exist)")
    run.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                     help="override a scenario key, e.g. --set nova.service_down_time=30 (repeatable)")
    _policy_options(run)
    _fragment_option(run)
    compare = commands.add_parser(
        "compare", help="sweep settings; print detection latency and false alarms with CIs and theory",
        description="Run a scenario for every combination of the --set values (comma-separated), "
                    "--replications times each, and print per setting: crash detection latency to the "
                    "API and to tenants, false-UNKNOWN episodes per host-day and stale-UP seconds per "
                    "failure, each as mean [95 % CI] beside the closed-form prediction.")
    compare.add_argument("scenario", help="scenario TOML file (see docs/scenario.md)")
    compare.add_argument("--set", dest="settings", metavar="KEY=V1[,V2...]", action="append", default=[],
                         help="values to compare, e.g. --set nova.service_down_time=15,30,60,120; a single "
                              "value is a fixed override (repeatable; several lists make a product)")
    compare.add_argument("--replications", type=_positive_int, default=5,
                         help="runs per setting, each with its own seed (default: %(default)s)")
    compare.add_argument("--jobs", type=_positive_int, default=None,
                         help="worker processes (default: one per CPU; 1 runs in this process)")
    compare.add_argument("--out", metavar="DIR", help="keep run folders, comparison.csv and the figures "
                                                     "(PNG and SVG) here; calling again resumes")
    compare.add_argument("--no-progress", dest="progress", action="store_false",
                         help="no progress bar on stderr")
    _policy_options(compare)
    _fragment_option(compare)
    bench = commands.add_parser("bench", help="speed against a one-event-per-heartbeat baseline",
                                description="Time simstatus against a naive SimPy model that ticks every "
                                            "heartbeat, in the same run; prints ratios.")
    bench.add_argument("scenario", nargs="?", default="data/scenarios/default.toml",
                       help="scenario whose faults and settings to use (default: %(default)s)")
    bench.add_argument("--hosts", type=_positive_ints, default=[100, 1000], metavar="N[,N...]",
                       help="cloud sizes to measure (default: 100,1000)")
    bench.add_argument("--hours", type=_positive_float, default=24.0, help="simulated hours (default: 24)")
    bench.add_argument("--no-api", dest="api", action="store_false",
                       help="skip the API measurement (a 1,000-server detail list against FastAPI's default "
                            "encoding)")
    bench.add_argument("--scaling", action="store_true",
                       help="also fit how the run time grows with hosts, simulated hours and the crash rate "
                            "(exponents; about a minute)")
    bench.add_argument("--sweep", action="store_true",
                       help="also time a 16-run sweep (400 hosts, 12 h each) in one process against the "
                            "process pool (about 25 s)")
    bench.add_argument("--no-conductor", dest="conductor", action="store_false",
                       help="skip the conductor measurement (each size without and with [conductor], "
                            "healthy and with the scenario's faults)")
    bench.add_argument("--no-startup", dest="startup", action="store_false",
                       help="skip the start-up measurement (--version, --help and a 20-host run as new "
                            "processes, against `python -c pass`)")
    serve = commands.add_parser(
        "serve", help="serve Nova's compute API (2.1-2.16) over a live simulation",
        description="Serve Nova's compute API (2.1-2.16) and the /simstatus control routes over a live "
                    "simulation, until interrupted. One asyncio loop runs the server and the simulation.")
    serve.add_argument("scenario", nargs="?", default=None,
                       help="scenario TOML file (default: the built-in defaults, Nova's settings and policy, "
                            "20 hosts, no faults)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=_port, default=8774, help="port, 0 for any free one (default: %(default)s)")
    serve.add_argument("--clock", choices=["realtime", "manual"], default="realtime",
                       help="realtime: simulated time follows the wall clock at --speed; manual: it moves "
                            "only by POST /simstatus/clock/advance (default: %(default)s)")
    serve.add_argument("--speed", type=_speed, default=None,
                       help="simulated seconds per wall second, above 0 and at most 1e6; realtime clock "
                            "only (default: 1)")
    _policy_options(serve)
    serve.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                       help="override a scenario key, e.g. --set cloud.hosts=5 (repeatable)")
    _calibrate_parser(commands)
    _recommend_parser(commands)
    return parser


def _policy_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--policy-file", metavar="FILE", help="oslo.policy file (YAML or JSON) over Nova's "
                                                              "defaults and the scenario's [nova.policy]")
    command.add_argument("--policy", dest="policy_rules", metavar="RULE=CHECK", action="append", default=[],
                         help="override one policy rule, e.g. --policy "
                              "os_compute_api:servers:show:host_status=rule:admin_or_owner (repeatable; "
                              "later wins: defaults < scenario < --policy-file < --policy)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is 0-65535 (0: any free port)")
    return value


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: host counts must be at least 1")
    return values


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be above 0")
    return value


def _speed(text: str) -> float:
    """``serve --speed``: a finite number above 0 and at most :data:`simstatus.serve.MAX_SPEED`."""
    from .serve import MAX_SPEED  # only parsed for `serve`, which imports it anyway

    value = _positive_float(text)
    if value > MAX_SPEED:
        raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_SPEED:.0f} simulated seconds per wall second")
    return value


def _calibrate_parser(commands) -> None:
    calibrate = commands.add_parser(
        "calibrate", help="measure a cloud's heartbeats (GET /os-services samples) and fit the scenario settings",
        description="Sample a live cloud's GET /os-services (admin; one request per --interval returns every "
                    "service) into --out, or read samples from --from; estimate the heartbeat path and print "
                    "the estimates and a scenario fragment (docs/calibration.md).")
    calibrate.add_argument("--os-cloud", metavar="NAME", help="cloud in clouds.yaml, as for the openstack CLI "
                                                             "(default: OS_CLOUD or the OS_* variables)")
    calibrate.add_argument("--duration", type=_duration, default=3600.0,
                           help="how long to sample, e.g. 30m, 1h, 1d (default: 1h)")
    calibrate.add_argument("--interval", type=_duration, default=1.0,
                           help="seconds between requests, e.g. 1s, 500ms (default: 1s)")
    source = calibrate.add_mutually_exclusive_group()
    source.add_argument("--out", metavar="FILE", help="sample a live cloud into this Parquet file (calling "
                                                      "again with the same file resumes)")
    source.add_argument("--from", dest="source", metavar="FILE",
                        help="estimate from samples already taken: CSV or Parquet of API samples or of rows of "
                             "Nova's services table")
    calibrate.add_argument("--report", metavar="DIR", help="also write estimates.csv, calibration.toml and the "
                                                           "figures into this folder")
    calibrate.add_argument("--no-progress", dest="progress", action="store_false",
                           help="no progress bar on stderr")


def _duration(text: str) -> float:
    """``calibrate --duration/--interval``: a duration as scenarios write them, above 0."""
    from .scenario import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be above 0")
    return value


def _calibrate(args: argparse.Namespace) -> int:
    from .calibrate import live
    from .calibrate.samples import CalibrationError, read_samples

    if args.source is None and args.out is None:
        _error("calibrate needs --out FILE (sample a live cloud into it) or --from FILE (samples already taken)")
        return EXIT_BAD_INPUT
    if args.source is not None and args.os_cloud is not None:
        _error("--os-cloud samples a live cloud (with --out); --from reads samples already taken: give one")
        return EXIT_BAD_INPUT
    if args.interval > args.duration:
        _error(f"--interval ({args.interval:g} s) is longer than --duration ({args.duration:g} s)")
        return EXIT_BAD_INPUT
    if args.report:  # before sampling for an hour: a report that cannot be written would be lost
        from .outdir import MARKER, OutputFolder, check_writable

        check_writable(args.report)
        report = Path(args.report)
        if report.is_dir() and any(report.iterdir()) and not (report / MARKER).exists():
            OutputFolder.claim(report)  # someone else's folder: raises, and changes nothing
    try:
        if args.out is not None:
            live.check_out(Path(args.out), args.interval)  # a file that is not ours: before connecting
            conn = live.connect(args.os_cloud)
            rows = live.sample_services(conn, duration=args.duration, interval=args.interval, out=Path(args.out),
                                        progress=args.progress)
            print(f"simstatus: sampled {rows:,} rows into {escape_control(args.out)}" if rows else
                  f"simstatus: {escape_control(args.out)} already holds {args.duration:g} s of samples",
                  file=sys.stderr)
        samples = read_samples(args.out if args.out is not None else args.source)
        from .calibrate.estimate import estimate

        calibration = estimate(samples)
    except CalibrationError as err:
        kept = args.out is not None and Path(args.out).is_file() and not isinstance(err, live.SamplingError)
        _error(f"{err}; the samples are kept in {args.out}: the same command with a longer --duration samples "
               "more" if kept else err)
        return EXIT_BAD_INPUT
    except live.SamplingInterrupted as stop:
        where = (f"{stop.rows:,} rows sampled in this run are saved in {args.out}; run the same command to "
                 "resume" if stop.path is not None else "nothing was sampled")
        print(f"\nsimstatus: interrupted; {escape_control(where)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # connecting or estimating: nothing half-written
        print("\nsimstatus: interrupted", file=sys.stderr)
        return 130
    print(calibration.format())
    print()
    print(calibration.fragment_toml().rstrip("\n"))  # its header says how to use it
    if args.report:
        from .calibrate.report import write_report

        print()
        for path in write_report(calibration, args.report):
            print(f"saved {escape_control(str(path))}")
    else:
        print("\n(to keep it: --report DIR writes it as DIR/calibration.toml, with the estimates and figures)")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import (STARTUP_RUN_HOSTS, bench_overrides, format_bench, format_startup_bench, run_bench,
                        run_startup_bench)
    from .scenario import load_scenario

    for hosts in args.hosts:  # bad input fails here, before any timing
        load_scenario(args.scenario, bench_overrides(hosts, args.hours))
    if args.scaling:
        from .bench import scaling_cases

        for cases in scaling_cases(args.scenario).values():
            for overrides in cases:
                load_scenario(args.scenario, overrides)
    if args.startup:  # the start-up run (a child process) takes the scenario as it is, resized
        load_scenario(args.scenario, {"cloud.hosts": STARTUP_RUN_HOSTS, "maintenance": []})
    print(format_bench(run_bench(args.scenario, args.hosts, args.hours)))
    if args.scaling:
        from .bench import format_scaling_bench, run_scaling_bench

        print()
        print(format_scaling_bench(run_scaling_bench(args.scenario)))
    if args.sweep:
        from .bench import format_sweep_bench, run_sweep_bench

        print()
        print(format_sweep_bench(run_sweep_bench(args.scenario)))
    if args.conductor:
        from .bench import format_conductor_bench, run_conductor_bench

        print()
        print(format_conductor_bench(run_conductor_bench(args.scenario, args.hosts, args.hours)))
    if args.startup:
        print()
        print(format_startup_bench(run_startup_bench(args.scenario)))
    if args.api:
        from .api.bench import format_api_bench, run_api_bench

        print()
        print(format_api_bench(run_api_bench()))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import logging

    from .serve import ServeError, serve_forever  # keep the other commands free of FastAPI

    if args.speed is not None and args.clock != "realtime":
        print("simstatus: error: --speed applies to --clock realtime only", file=sys.stderr)
        return EXIT_BAD_INPUT

    def announce(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def log_requests() -> None:  # once serving: one line per request on stderr
        from .serve import RequestLogFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RequestLogFormatter())
        logger = logging.getLogger("simstatus")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)

    try:
        serve_forever(args.scenario, overrides=args.overrides, host=args.host, port=args.port,
                      clock=args.clock, speed=1.0 if args.speed is None else args.speed,
                      policy_file=args.policy_file, policy_rules=args.policy_rules, announce=announce,
                      on_ready=log_requests)
    except ServeError as err:  # bad scenario or policy (2), address in use (1): one line
        print(f"simstatus: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        pass
    return 0


def format_summary(table: pd.DataFrame) -> str:
    """The summary table as fixed-width text (seconds with two decimals)."""
    import pandas as pd

    shown = table.copy()
    for column in shown.columns:
        if str(shown[column].dtype) == "Int64":  # nullable counts: show missing as "-" like floats
            shown[column] = shown[column].astype(object).where(shown[column].notna(), "-")
    with pd.option_context("display.width", 200, "display.max_columns", 50,
                           "display.float_format", "{:.2f}".format):
        return shown.to_string(na_rep="-")


def format_failovers(result) -> str:
    """Two lines for a run with ``[[ha]]`` pairs: what the faults cost the service, and the switchovers."""
    from .failovers import failover_summary

    f = failover_summary(result)

    def sec(x: float) -> str:
        return "-" if x != x else f"{x:.1f} s"

    return (f"failover: crashes and partitions of an active server's host: {f['failover_faults']:.0f}; outage "
            f"p50 {sec(f['failover_outage_p50_s'])}, p99 {sec(f['failover_outage_p99_s'])}; "
            f"{f['failover_missed']:.0f} missed\n"
            f"          {f['failover_switchovers']:.0f} switchovers, {f['failover_needless']:.0f} needless "
            f"({f['failover_needless_per_pair_year']:.1f} per pair-year); service availability "
            f"{f['service_availability']:.5f}, hosts {f['host_availability']:.5f}")


#: ``simstatus run`` announces its estimate and shows progress from this many estimated seconds
LONG_RUN_S = 10.0


def _run(args: argparse.Namespace) -> int:
    from .scenario import load_scenario
    from .simulate import simulate  # keep `simstatus --help` fast

    scenario = load_scenario(_with_fragments(args), args.overrides)
    rules = _policy_override(scenario, args)
    if rules is not None:  # recorded in the effective scenario, hence the run folder
        scenario = load_scenario(scenario, {"nova.policy": rules})
    if args.out:  # before simulating: a result that cannot be saved would be lost
        from .outdir import check_writable, show_path

        if Path(args.out).exists() or Path(args.out).is_symlink():
            raise FileExistsError(f"{show_path(args.out)} already exists; "
                                  "choose another --out or remove it")
        check_writable(args.out)
    from .simulate import estimate_wall_time

    seconds, what = estimate_wall_time(scenario)
    long_run = seconds >= LONG_RUN_S
    if long_run:  # say so before starting, then show progress
        print(f"simstatus: this run simulates {what}: about {seconds:,.0f} s on a 2-core machine "
              "(docs/performance.md)", file=sys.stderr)
    result = simulate(scenario, progress=long_run)
    for message in result.meta["warnings"]:  # Nova's sanity-rule warning, recorded by the run
        print(f"warning: {escape_control(message)}", file=sys.stderr)
    s = result.scenario
    print(f"{escape_control(s.name, limit=200)}: {s.cloud.hosts} hosts, {s.duration / 3600:g} h simulated, "
          f"seed {s.seed}, "
          f"service_down_time {s.nova.service_down_time:g} s, report_interval {s.nova.report_interval:g} s "
          f"({result.meta['wall_time_s']:.2f} s wall)")
    print(format_summary(result.summary()))
    if result.meta.get("ha"):
        print(format_failovers(result))
    if args.out:
        path = result.save(args.out)
        print(f"saved {escape_control(str(path))}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare, format_table
    from .scenario import load_scenario
    from .sweep import SweepError

    if not args.settings:
        print("simstatus: error: compare needs at least one --set KEY=V1,V2,... to compare",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    base = _with_fragments(args)
    policy = _policy_override(load_scenario(base), args)
    settings = args.settings + ([f"nova.policy={_toml_table(policy)}"] if policy is not None else [])
    try:
        comparison = compare(base, settings, args.replications, jobs=args.jobs,
                             out=args.out, progress=args.progress)
    except (SweepError, OutputFolderError) as err:
        _error(err)
        return 1 if "holds a different sweep" in str(err) else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        where = (f"finished runs are saved in {args.out}; run the same command to resume" if args.out
                 else "nothing was saved (use --out DIR to make a comparison resumable)")
        print(f"\nsimstatus: interrupted; {escape_control(where)}", file=sys.stderr)
        return 130
    print(format_table(comparison))
    failed = comparison.sweep.failed
    if failed:
        errors = comparison.sweep.runs.loc[comparison.sweep.runs["status"] == "error", "error"]
        print(f"simstatus: {failed} of {len(comparison.sweep.runs)} runs failed, e.g. "
              + escape_control(str(errors.iloc[0]), limit=500)
              + (f"; their tracebacks are in {escape_control(args.out)}/runs/*.error.txt" if args.out else ""),
              file=sys.stderr)
        return 1
    return 0


def _fragment_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--with", dest="fragments", metavar="FILE", action="append", default=[],
                         help="lay a scenario fragment over the scenario, e.g. what `simstatus calibrate` "
                              "writes (repeatable, in order; before --set)")


def _with_fragments(args: argparse.Namespace):
    """The scenario path, or the Scenario with each ``--with`` fragment laid over it in order."""
    if not args.fragments:
        return args.scenario
    from .scenario import apply_fragment

    scenario = args.scenario
    for fragment in args.fragments:
        scenario = apply_fragment(scenario, fragment)
    return scenario


def _recommend_parser(commands) -> None:
    recommend = commands.add_parser(
        "recommend", help="the shortest service_down_time within a false-UNKNOWN budget, per report_interval",
        description="For each report_interval, the smallest service_down_time whose false-UNKNOWN rate per host "
                    "stays within --budget, the crash detection latency it gives (API and tenants, p50/p99), "
                    "and a simulation confirming the rate (docs/recommend.md).")
    recommend.add_argument("scenario", help="scenario TOML file (see docs/scenario.md)")
    recommend.add_argument("--budget", required=True, metavar="RATE",
                           help='false UNKNOWN allowed per host, e.g. "1/1000 host-years", "2e-6/host-day"')
    recommend.add_argument("--calibration", metavar="FILE",
                           help="scenario fragment laid over the scenario, e.g. what `simstatus calibrate` writes")
    recommend.add_argument("--report-interval", dest="report_intervals", type=_positive_floats, default=None,
                           metavar="S[,S...]", help="candidate report intervals in seconds (default: the scenario's)")
    recommend.add_argument("--poll-interval", type=_positive_float, default=None, metavar="S",
                           help="tenants' poll interval for the tenant latency (default: the scenario's)")
    recommend.add_argument("--host-years", type=_non_negative_float, default=None, metavar="Y",
                           help="simulated host-years per candidate for the confirmation (default: 1; 0: none)")
    recommend.add_argument("--no-progress", dest="progress", action="store_false",
                           help="no progress bar on stderr")


def _positive_floats(text: str) -> list[float]:
    return [_positive_float(v.strip()) for v in text.split(",")]


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number >= 0")
    return value


def _recommend(args: argparse.Namespace) -> int:
    from .recommend import RecommendError, format_recommendation, recommend

    try:
        table = recommend(args.scenario, args.budget, report_intervals=args.report_intervals,
                          poll_interval=args.poll_interval, calibration=args.calibration,
                          host_years=args.host_years, progress=args.progress)
    except RecommendError as err:
        _error(err)
        return EXIT_BAD_INPUT
    print(format_recommendation(table))
    return 0


def _toml_table(rules: dict[str, str]) -> str:
    """A TOML inline table, as ``--set nova.policy=...`` reads it."""
    import tomli_w

    return "{" + ", ".join(tomli_w.dumps({k: v}).strip().replace(" = ", "=", 1) for k, v in rules.items()) + "}"


def _policy_override(scenario, args: argparse.Namespace) -> dict[str, str] | None:
    """The scenario's ``[nova.policy]`` with ``--policy-file`` and ``--policy`` layered on, or None."""
    if not (args.policy_file or args.policy_rules):
        return None
    from .api.policy import Policy, PolicyError, policy_layers
    from .scenario import ScenarioError

    try:
        rules = policy_layers(scenario.nova.policy, args.policy_file, args.policy_rules or None)
        Policy(rules)  # references between rules resolve (names the layer in the message)
    except PolicyError as err:
        raise ScenarioError([str(err)]) from None
    return rules


def _error(err: object) -> None:
    """``simstatus: error: ...`` on stderr, each line with its control characters escaped (a
    scenario value or file name must not drive the terminal or forge lines)."""
    # messages that need no escaping print as they are (a backslash stays one: the same text as
    # the exception's in Python)
    lines = [line if line.isprintable() else escape_control(line) for line in str(err).split("\n")]
    print("simstatus: error: " + "\n".join(lines), file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush of a closed pipe does not
    print a second error (the recipe of Python's ``signal`` documentation)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (captured in tests): nothing to flush
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``simstatus`` console script; returns the exit code."""
    args = _parser().parse_args(argv)  # `--version`, `--help` and usage errors exit here...
    from .scenario import ScenarioError  # ...before pydantic and numpy, which every command needs

    try:
        if args.command == "run":
            return _run(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "bench":
            return _bench(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "recommend":
            return _recommend(args)
        if args.command == "calibrate":
            return _calibrate(args)
    except ScenarioError as err:
        _error(err)
        return EXIT_BAD_INPUT
    except FileExistsError as err:
        _error(err)
        return 1
    except OutputFolderError as err:  # an --out that is a file, unwritable, or someone else's folder
        _error(err)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader went away (`simstatus run ... | head`): nothing to tell it
        _silence_stdout()
        return 1
    except OSError as err:  # the disk failed us after the checks (full, removed): a message, not a traceback
        _error(f"cannot write: {err}")
        return 1
    return EXIT_BAD_INPUT  # pragma: no cover - argparse requires a known command


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
