"""The servers `make bench` compares, each started on the service and on the yardstick app.

A server is named `NAME:WORKERSxTHREADS` in BENCH_SERVERS, e.g. `granian:2x6,gunicorn:4x6`;
`NAME:WxT:baseline` serves the code found at BENCH_BASELINE (a `src` folder of another
checkout, and any folders its dependencies need, separated by `:`) instead of this one, on
PyMySQL only (older code may not run on mysqlclient), against this checkout's yardstick;
`NAME:WxT:nometrics` serves it with METRICS_ENABLED=false. Every one is started with the
settings production would use for it (timeouts, no access log, a folder of its own for the
workers' metrics as `make serve` gives); only the process and thread counts vary.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests
from harness import ROOT, ServerDidNotStart, launch

SCRIPTS = ROOT / "scripts"
BIN = Path(sys.executable).parent
SERVICE = "app:app"
YARDSTICK = "bare_app:app"  # scripts/bare_app.py: Flask and one view, nothing else


@dataclass(frozen=True)
class Spec:
    name: str
    workers: int
    threads: int
    pythonpath: str = ""
    metrics: bool = True

    @property
    def label(self) -> str:
        base = " base" if self.pythonpath else ""
        return f"{self.name} {self.workers}x{self.threads}{base}" + (
            "" if self.metrics else " no metrics"
        )


def parse_specs(text: str) -> list[Spec]:
    specs = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*([a-z]+):(\d+)x(\d+)(:baseline)?(:nometrics)?\s*", part)
        if not match or match.group(1) not in COMMANDS:
            known = ", ".join(COMMANDS)
            raise SystemExit(f"BENCH_SERVERS: {part!r} is not NAME:WxT with NAME one of {known}")
        baseline = ""
        if match.group(4):
            baseline = os.environ.get("BENCH_BASELINE", "")
            if not baseline:
                raise SystemExit("BENCH_SERVERS: :baseline needs BENCH_BASELINE (a src folder)")
        workers, threads, metrics = int(match.group(2)), int(match.group(3)), not match.group(5)
        specs.append(Spec(match.group(1), workers, threads, baseline, metrics))
    return specs


def _executable(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise SystemExit(f"{name} is not installed in {BIN} (pip install it to compare it)")
        return found
    return str(path)


def granian(spec: Spec, target: str, port: int) -> list[str]:
    """As `make serve` runs it: the module's `rsgi`, the WSGI `app` behind BodyFirst (whose
    threads come from THREADS)."""
    from shopapi.config import Settings
    from shopapi.serving import granian_command

    module = target.partition(":")[0]
    timeout = Settings.header_timeout  # the declared default, as `make serve` uses it
    return granian_command(f"{module}:rsgi", "127.0.0.1", port, spec.workers, timeout, _executable)


def gunicorn(spec: Spec, target: str, port: int) -> list[str]:
    # gunicorn.conf.py reads the counts and the address from the environment.
    return [_executable("gunicorn"), "--config", str(SCRIPTS / "gunicorn.conf.py"), target]


def uwsgi(spec: Spec, target: str, port: int) -> list[str]:
    module, _, attribute = target.partition(":")
    return [
        _executable("uwsgi"),
        "--http11-socket",  # keep-alive, as the other servers do
        f"127.0.0.1:{port}",
        "--module",
        f"{module}:{attribute}",
        "--pythonpath",
        str(ROOT),
        "--pythonpath",
        str(SCRIPTS),
        "--master",
        "--processes",
        str(spec.workers),
        "--threads",
        str(spec.threads),
        "--lazy-apps",  # each worker builds its own app (its own database pool)
        "--need-app",
        "--die-on-term",
        "--disable-logging",  # no access log: it would print query strings
        "--harakiri",
        "30",
        "--buffer-size",
        "16384",
    ]


COMMANDS = {"granian": granian, "gunicorn": gunicorn, "uwsgi": uwsgi}


def _checkout(spec: Spec) -> Path:
    """Where the service's `app.py` is: the checkout of BENCH_BASELINE's `src` when it has
    one (its entry point goes with its code), else this one."""
    if spec.pythonpath:
        root = Path(spec.pythonpath.split(os.pathsep)[0]).resolve().parent
        if (root / "app.py").exists():
            return root
    return ROOT


class Server:
    """One server process serving `target`; `stop()` ends it and waits."""

    def __init__(self, spec: Spec, target: str, port: int, env: dict[str, str]) -> None:
        self.spec = spec
        self.metrics_dir = tempfile.mkdtemp(prefix="shopapi-bench-metrics-")
        full_env = {
            **env,
            "WEB_CONCURRENCY": str(spec.workers),
            "THREADS": str(spec.threads),
            "MAX_REQUESTS": "0",  # no worker restarts in the middle of a measurement
            "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir,
            "METRICS_ENABLED": "true" if spec.metrics else "false",
            # Another checkout's code serves the service only: the yardstick and the floors
            # stay this checkout's, the same for every server of the run.
            "PYTHONPATH": os.pathsep.join(
                p
                for p in (
                    str(SCRIPTS),
                    spec.pythonpath if target == SERVICE else "",
                    env.get("PYTHONPATH", ""),
                )
                if p
            ),
        }
        try:
            self.running = launch(
                COMMANDS[spec.name](spec, target, port),
                full_env,
                port=port,
                wait=60,
                cwd=_checkout(spec) if target == SERVICE else ROOT,
            )
        except ServerDidNotStart as error:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            raise ServerDidNotStart(f"{spec.label}, serving {target}: {error}") from None
        self.url, self.process = self.running.url, self.running.process
        try:
            self._warm()
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def _warm(self) -> None:
        """A few requests on fresh connections, so every worker has imported and connected."""
        for _ in range(4 * self.spec.workers):
            requests.get(f"{self.url}/healthz", timeout=5)

    def worker_rss_mib(self) -> list[float]:
        sizes = []
        for pid in self.running.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            kib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            sizes.append(round(kib / 1024, 1))
        return sizes

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (user + system): what a request
        costs, whatever else the machine is doing meanwhile."""
        pids = [self.process.pid, *self.running.workers()]
        ticks = 0
        for each in pids:
            try:
                fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
            except FileNotFoundError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.running.stop(grace=60)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
