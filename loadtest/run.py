"""``make loadtest``: serve on a free loopback port, run locust headless against it, stop the server.

Exit status: locust's (1 if any request failed or any check found an inconsistent answer), or 1
if the server does not start or does not stop within 5 s of SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import workload  # noqa: E402

BIN = Path(sys.executable).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--run-time", default="30s", help="locust's --run-time (default: %(default)s)")
    args = parser.parse_args(argv)
    server = subprocess.Popen([str(BIN / "simstatus"), "serve", "--port", "0", *workload.SERVE_ARGS],
                              cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = None
    for line in server.stderr:
        if "listening on " in line:
            url = line.split("listening on ")[1].split("/v2.1")[0]
            break
    if url is None:
        print("loadtest: the server did not start", file=sys.stderr)
        return 1
    # the request log is a line per request on this pipe: drain it, or the server blocks on it
    threading.Thread(target=lambda: sum(1 for _ in server.stderr), daemon=True).start()
    print(f"loadtest: simstatus serve {' '.join(workload.SERVE_ARGS)} on {url}; {args.users} users for "
          f"{args.run_time}", file=sys.stderr, flush=True)
    try:
        code = subprocess.call([str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless",
                                "-u", str(args.users), "-r", str(args.users), "-t", args.run_time,
                                "--host", url, "--only-summary", "--stop-timeout", "5"])
    finally:
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            print("loadtest: the server did not stop within 5 s of SIGTERM", file=sys.stderr)
            code = 1
        else:
            print(f"loadtest: the server stopped {time.monotonic() - started:.2f} s after SIGTERM",
                  file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
