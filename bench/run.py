"""`make bench`: greeter against bare actix-web, FastAPI on uvicorn and aiohttp, in one run.

Every server gets the same number of workers and is started afresh for each measurement; the
servers alternate within each repetition so that drift of the machine hits all of them alike.
Load comes from oha. Server CPU time and memory are read from /proc for the server's whole
process tree. Writes bench/results/<date>.json, and latest.md and latest.png beside it.

    python bench/run.py --greeter BIN --bare BIN --oha BIN [--smoke] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV_BIN = BENCH / ".venv" / "bin"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Scenario:
    name: str
    delay_ms: int
    connections: int
    seconds: int
    about: str


FULL = [
    Scenario("overhead", 0, 64, 10, "no I/O wait, 64 connections, 10 s"),
    Scenario("waiting", 1000, 1000, 15, "1 s wait, 1,000 connections, 15 s"),
    Scenario("crowd", 1000, 10_000, 20, "1 s wait, 10,000 connections, 20 s"),
]
SMOKE = [
    Scenario("overhead", 0, 8, 2, "no I/O wait, 8 connections, 2 s"),
    Scenario("waiting", 200, 50, 2, "0.2 s wait, 50 connections, 2 s"),
    Scenario("crowd", 200, 200, 2, "0.2 s wait, 200 connections, 2 s"),
]


@dataclass
class Connections:
    """Per-connection memory: `count` connections opened, then each sends one request that waits
    `delay_ms`; RSS is read idle, while the requests wait, and after the answers."""
    count: int
    delay_ms: int


CONNECTIONS_FULL = Connections(5000, 5000)
CONNECTIONS_SMOKE = Connections(100, 1000)

# Fan-out: 3 upstream greeters that answer after the wait; each aggregator calls all three per
# request; the floor is the load sent straight to one upstream.
FAN_OUT_FULL = Scenario("fan-out", 1000, 1000, 15, "3 upstreams answering after 1 s, 1,000 clients, 15 s")
FAN_OUT_SMOKE = Scenario("fan-out", 200, 50, 2, "3 upstreams answering after 0.2 s, 50 clients, 2 s")
UPSTREAMS = 3
FLOOR = "floor (straight to one upstream)"


def aggregators(args: argparse.Namespace, workers: int, port: int, urls: list[str]) -> list[Server]:
    """The fan-out aggregators under test, each calling every URL in `urls` per request."""
    joined = ",".join(urls)
    upstream_flags = [flag for i, url in enumerate(urls) for flag in ("--upstream", f"u{i + 1}={url}")]
    return [
        Server("greeter", [args.greeter, "--port", str(port), "--workers", str(workers),
                           "--io-delay", "0ms", *upstream_flags], env={"RUST_LOG": "info"}),
        Server("FastAPI/httpx", [str(VENV_BIN / "uvicorn"), "fanout_fastapi:app", "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", str(workers)],
               cwd=BENCH / "python", env={"UPSTREAMS": joined}),
        Server("aiohttp", [str(VENV_BIN / "python"), "fanout_aiohttp.py", str(port)],
               cwd=BENCH / "python", processes=workers, env={"UPSTREAMS": joined}),
    ]


def passive_opens() -> int:
    """TCP connections this machine has accepted so far (all of them, loopback included)."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Tcp:")]
    return int(lines[1][lines[0].index("PassiveOpens")])


def answered_lines(logs: list[Path]) -> int:
    """Access lines of `200` answers in the upstreams' logs so far."""
    return sum(path.read_text(errors="replace").count('HTTP/1.1" 200 ') for path in logs if path.exists())


def fan_out(args: argparse.Namespace, scenario: Scenario, repeats: int, log_dir: Path) -> dict:
    """The fan-out scenario: per aggregator (and the floor), req/s, latency, errors, CPU per
    aggregate, peak RSS, upstream connections opened and upstream calls answered per aggregate."""
    names = [FLOOR] + [s.name for s in aggregators(args, args.workers, 0, [])]
    names = [n for n in names if not args.servers or n in args.servers or n == FLOOR]
    raw: dict = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names:
            upstreams, urls, logs = [], [], []
            for i in range(UPSTREAMS):
                port = free_port()
                upstream = Server(f"upstream-{i + 1}", [args.greeter, "--port", str(port), "--workers", "1",
                                                        "--io-delay", f"{scenario.delay_ms}ms"],
                                  env={"RUST_LOG": "info"})
                upstreams.append(Running(upstream, port, log_dir))
                urls.append(f"http://127.0.0.1:{port}/")
                logs.append(log_dir / f"upstream-{i + 1}.log")
            running, port, path = None, None, "/aggregate"
            try:
                if name == FLOOR:
                    running, port, path = upstreams[0], upstreams[0].port, "/"
                else:
                    port = free_port()
                    server = next(s for s in aggregators(args, args.workers, port, urls) if s.name == name)
                    running = Running(server, port, log_dir)
                time.sleep(0.5)
                answered_before, opens_before = answered_lines(logs), passive_opens()
                result = load(args.oha, port, scenario, running, path)
                opens = passive_opens() - opens_before
                time.sleep(0.3)  # the upstreams' logs reach their files within 100 ms
                answered = answered_lines(logs) - answered_before
            finally:
                if running is not None and name != FLOOR:
                    running.stop()
                for upstream in upstreams:
                    upstream.stop()
            # oha's own connections to the aggregator are among the accepted ones.
            result["upstream_connections"] = opens if name == FLOOR else max(0, opens - scenario.connections)
            result["upstream_calls_per_ok"] = answered / result["ok"] if result["ok"] else None
            raw[name].append(result)
            print(f"[{repeat + 1}/{repeats}] fan-out  {name:16} {result['rps']:10.0f} req/s  p99 "
                  f"{result['p99_ms']:8.1f} ms  errors {result['errors']:6}  cpu/aggregate "
                  f"{(result['cpu_us_per_request'] or 0):8.1f} µs  upstream conns {result['upstream_connections']}",
                  flush=True)
    medians = {name: {key: median(runs, key) for key in runs[0]} for name, runs in raw.items()}
    return {"about": scenario.about, "medians": medians, "runs": raw}


# Fan-out to real HTTPS upstreams: three nginx servers (one nginx, echo module) that answer after
# the wait with echo_sleep, certificates from a private CA made here with openssl. "https": HTTP/1.1
# over TLS, the floor, greeter and the Python aggregators; "h2": the same upstreams offering h2,
# greeter over HTTP/2 and over HTTP/1.1 (http = "1.1"); "h2 scale": 10,000 clients, so 30,000
# upstream calls in flight: more sockets than one process may hold over HTTP/1.1.
TLS_FULL = [
    Scenario("https", 1000, 1000, 15, "3 nginx HTTPS upstreams answering after 1 s, 1,000 clients, 15 s"),
    Scenario("h2", 1000, 1000, 15, "the same upstreams over HTTP/2, 1,000 clients, 15 s"),
    Scenario("h2 scale", 1000, 10_000, 20, "the same over HTTP/2, 10,000 clients, 20 s"),
]
TLS_SMOKE = [
    Scenario("https", 200, 50, 2, "3 nginx HTTPS upstreams answering after 0.2 s, 50 clients, 2 s"),
    Scenario("h2", 200, 50, 2, "the same over HTTP/2, 50 clients, 2 s"),
    Scenario("h2 scale", 200, 200, 2, "the same over HTTP/2, 200 clients, 2 s"),
]
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
GREETER_H1 = "greeter (HTTP/1.1)"


def certificates(directory: Path) -> dict[str, Path]:
    """A private CA and a certificate it signs for localhost and 127.0.0.1, made with openssl."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=greeter bench CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    (directory / "leaf.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                        "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    return {name: directory / f"{name}.pem" for name in ("ca", "leaf")} | {"key": directory / "leaf.key"}


class Nginx:
    """nginx serving `ports` over TLS (and h2 when asked), each answering `{"Hello":"World"}` after
    `delay_ms`; its access log names each request's connection and whether its TLS session was
    resumed."""

    def __init__(self, ports: list[int], certs: dict[str, Path], delay_ms: int, h2: bool, log_dir: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="greeter-bench-nginx-", dir=log_dir))
        servers = "".join(
            f"  server {{ listen 127.0.0.1:{port} ssl{' http2' if h2 else ''}; "
            f"ssl_certificate {certs['leaf']}; ssl_certificate_key {certs['key']};\n"
            f"    location / {{ default_type application/json; echo_sleep {delay_ms / 1000}; "
            f"echo '{{\"Hello\":\"World\"}}'; }} }}\n"
            for port in ports)
        d = self.dir
        (d / "nginx.conf").write_text(
            f"load_module {ECHO_MODULE};\ndaemon off;\nworker_processes 2;\nworker_rlimit_nofile 20000;\n"
            f"pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 10000; }}\n"
            f"http {{\n  log_format bench '$connection $ssl_session_reused $server_protocol $status';\n"
            f"  access_log {d}/access.log bench buffer=256k flush=1s;\n  keepalive_requests 1000000;\n"
            f"  keepalive_timeout 60s;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n"
            f"  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n"
            f"{servers}}}\n")
        self.proc = subprocess.Popen(["nginx", "-c", str(d / "nginx.conf"), "-p", str(d)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.perf_counter() + 10
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.perf_counter() > deadline or self.proc.poll() is not None:
                        raise RuntimeError(f"nginx did not start: {(d / 'error.log').read_text()}")
                    time.sleep(0.02)

    def pids(self) -> list[int]:
        return process_tree([self.proc.pid])

    def stop(self) -> dict:
        """Stops it; returns its connections, TLS handshakes (full and resumed) and requests."""
        os.killpg(self.proc.pid, signal.SIGQUIT)  # graceful: the log buffer is written out
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        first: dict[str, str] = {}
        requests = 0
        for line in (self.dir / "access.log").read_text(errors="replace").splitlines():
            connection, reused, *_ = line.split(" ")
            first.setdefault(connection, reused)
            requests += 1
        resumed = sum(1 for reused in first.values() if reused == "r")
        return {"connections": len(first), "full_handshakes": len(first) - resumed,
                "resumed_handshakes": resumed, "requests": requests}


def tls_aggregators(args: argparse.Namespace, port: int, urls: list[str], ca: Path, log_dir: Path) -> list[Server]:
    """The aggregators over TLS: greeter (HTTP/2 when the upstreams offer it), greeter held to
    HTTP/1.1 (`http = "1.1"` in a configuration file), FastAPI/httpx and aiohttp."""
    config = log_dir / f"greeter-h1-{port}.toml"
    config.write_text("".join(f'[[upstreams]]\nname = "u{i + 1}"\nurl = "{url}"\nhttp = "1.1"\n\n'
                              for i, url in enumerate(urls)))
    common = [args.greeter, "--port", str(port), "--workers", str(args.workers), "--io-delay", "0ms",
              "--upstream-ca-file", str(ca)]
    upstream_flags = [flag for i, url in enumerate(urls) for flag in ("--upstream", f"u{i + 1}={url}")]
    joined = ",".join(urls)
    return [
        Server("greeter", [*common, *upstream_flags], env={"RUST_LOG": "info"}),
        Server(GREETER_H1, [*common, "--config", str(config)], env={"RUST_LOG": "info"}),
        Server("FastAPI/httpx", [str(VENV_BIN / "uvicorn"), "fanout_fastapi:app", "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", str(args.workers)],
               cwd=BENCH / "python", env={"UPSTREAMS": joined, "UPSTREAM_CA": str(ca)}),
        Server("aiohttp", [str(VENV_BIN / "python"), "fanout_aiohttp.py", str(port)],
               cwd=BENCH / "python", processes=args.workers, env={"UPSTREAMS": joined, "UPSTREAM_CA": str(ca)}),
    ]


def tls_fan_out(args: argparse.Namespace, scenario: Scenario, repeats: int, log_dir: Path) -> dict:
    """One TLS scenario: per aggregator (and the floor, oha straight to one upstream), req/s,
    latency, errors, CPU per aggregate, and at the upstreams connections, handshakes and requests."""
    h2 = scenario.name.startswith("h2")
    if scenario.name == "https":
        names = [FLOOR, "greeter", "FastAPI/httpx", "aiohttp"]
    elif scenario.name == "h2":
        names = [FLOOR, "greeter", GREETER_H1]
    else:
        names = [FLOOR, "greeter"]
    names = [n for n in names if not args.servers or n in args.servers or n == FLOOR]
    certs = certificates(Path(tempfile.mkdtemp(prefix="greeter-bench-tls-", dir=log_dir)))
    raw: dict = {name: [] for name in names}
    for repeat in range(repeats):
        for name in rotated(names, repeat):
            ports = [free_port() for _ in range(UPSTREAMS)]
            urls = [f"https://localhost:{port}/" for port in ports]
            nginx = Nginx(ports, certs, scenario.delay_ms, h2, log_dir)
            running = None
            try:
                if name == FLOOR:
                    extra = ["--cacert", str(certs["ca"]), *(["--http2"] if h2 else [])]
                    result = load(args.oha, ports[0], scenario, nginx, url=urls[0], extra=extra)
                else:
                    port = free_port()
                    server = next(s for s in tls_aggregators(args, port, urls, certs["ca"], log_dir)
                                  if s.name == name)
                    running = Running(server, port, log_dir)
                    time.sleep(0.5)
                    result = load(args.oha, port, scenario, running, "/aggregate")
            finally:
                if running is not None:
                    running.stop()
                upstream = nginx.stop()
            result.update({f"upstream_{key}": value for key, value in upstream.items()})
            raw[name].append(result)
            print(f"[{repeat + 1}/{repeats}] {scenario.name:8} {name:18} {result['rps']:9.0f} req/s  p99 "
                  f"{result['p99_ms']:8.1f} ms  errors {result['errors']:6}  cpu/aggregate "
                  f"{(result['cpu_us_per_request'] or 0):8.1f} µs  upstream conns {upstream['connections']} "
                  f"(full handshakes {upstream['full_handshakes']})", flush=True)
    medians = {name: {key: median(runs, key) for key in runs[0]} for name, runs in raw.items()}
    return {"about": scenario.about, "medians": medians, "runs": raw}



@dataclass
class Server:
    name: str
    command: list[str]
    cwd: Path | None = None
    processes: int = 1
    env: dict[str, str] = field(default_factory=dict)


# greeter without its metrics (`--metrics-path off`), for the cost of metrics: overhead scenario only.
METRICS_OFF = "greeter (metrics off)"


def servers(args: argparse.Namespace, workers: int, delay_ms: int, port: int) -> list[Server]:
    delay_s = str(delay_ms / 1000)
    return [
        Server("greeter", [args.greeter, "--port", str(port), "--workers", str(workers),
                           "--io-delay", f"{delay_ms}ms"], env={"RUST_LOG": "info"}),
        Server(METRICS_OFF, [args.greeter, "--port", str(port), "--workers", str(workers),
                             "--io-delay", f"{delay_ms}ms", "--metrics-path", "off"],
               env={"RUST_LOG": "info"}),
        Server("bare actix-web", [args.bare, str(port), str(workers), str(delay_ms)]),
        Server("FastAPI/uvicorn", [str(VENV_BIN / "uvicorn"), "fastapi_app:app", "--host", "127.0.0.1",
                                   "--port", str(port), "--workers", str(workers)],
               cwd=BENCH / "python", env={"DELAY": delay_s}),
        Server("aiohttp", [str(VENV_BIN / "python"), "aiohttp_app.py", str(port)],
               cwd=BENCH / "python", processes=workers, env={"DELAY": delay_s}),
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree(roots: list[int]) -> list[int]:
    """The pids of `roots` and all their descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_times(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds of `pids` so far."""
    user = system = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user, system = user + int(fields[11]), system + int(fields[12])  # utime, stime
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_times(pids))


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KIB
        except OSError:
            continue
    return total


class Running:
    """A server started afresh, with what it took to answer its first 200."""

    def __init__(self, server: Server, port: int, log_dir: Path):
        self.port = port
        self.log = open(log_dir / f"{server.name.split()[0].split('/')[0]}.log", "ab")
        env = {**os.environ, **server.env}
        started = time.perf_counter()
        self.procs = [
            subprocess.Popen(server.command, cwd=server.cwd, env=env, stdout=self.log,
                             stderr=self.log, start_new_session=True)
            for _ in range(server.processes)
        ]
        self.first_200_s = self._wait_for_200(started)

    def _wait_for_200(self, started: float) -> float:
        deadline = started + 30
        while time.perf_counter() < deadline:
            try:
                # The first answer waits the scenario's delay: allow for it.
                remaining = max(1.0, deadline - time.perf_counter())
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=remaining) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.002)
        raise RuntimeError(f"no 200 within 30 s; see {self.log.name}")

    def pids(self) -> list[int]:
        return process_tree([p.pid for p in self.procs])

    def stop(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.log.close()


def load(oha: str, port: int, scenario: Scenario, running: Running, path: str = "/",
         url: str | None = None, extra: list[str] | None = None) -> dict:
    """Runs oha against `path` on the server (or `url`, with oha's `extra` flags), sampling its
    memory; returns the measurements."""
    # The process tree is fixed once the server answers; reading it once keeps the sampler light.
    pids = running.pids()
    peak = [rss_kib(pids)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], rss_kib(pids))

    sampler = threading.Thread(target=sample)
    sampler.start()
    # With a wait, every request is stored, to tell the first request of each connection (its
    # latency includes oha's connect) from the rest.
    db = Path(tempfile.mkdtemp(prefix="greeter-oha-")) / "requests.db" if scenario.delay_ms else None
    user_before, system_before = cpu_times(pids)
    out = subprocess.run(
        [oha, "-z", f"{scenario.seconds}s", "-w", "-c", str(scenario.connections), "--no-tui",
         "--output-format", "json", *(["--db-url", str(db)] if db else []), *(extra or []),
         url or f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    )
    user_after, system_after = cpu_times(pids)
    user, system = user_after - user_before, system_after - system_before
    cpu = user + system
    done.set()
    sampler.join()
    report = json.loads(out.stdout)
    statuses = report.get("statusCodeDistribution") or {}
    ok = int(statuses.get("200", 0))
    errors = sum(int(n) for n in (report.get("errorDistribution") or {}).values())
    errors += sum(int(n) for status, n in statuses.items() if status != "200")
    elapsed = report["summary"]["total"]
    percentiles = report["latencyPercentiles"]
    return {
        "rps": ok / elapsed if elapsed else 0.0,
        "p50_ms": (percentiles.get("p50") or 0) * 1000,
        "p99_ms": (percentiles.get("p99") or 0) * 1000,
        "p99_connected_ms": p99_after_first_requests(db, scenario.connections) if db else None,
        "errors": errors,
        "ok": ok,
        "cpu_us_per_request": cpu / ok * 1e6 if ok else None,
        "cpu_system_us_per_request": system / ok * 1e6 if ok else None,
        "peak_rss_mib": peak[0] / 1024,
    }


def p99_after_first_requests(db: Path, connections: int) -> float | None:
    """p99 in ms of the requests oha stored in `db`, leaving out the first `connections` to start:
    each connection's first request, whose latency includes setting up the connection. (oha
    starts them all at once, so with a wait longer than the connecting they are the first to
    start.)"""
    import sqlite3

    with sqlite3.connect(db) as conn:
        durations = [row[0] for row in conn.execute("SELECT duration FROM oha ORDER BY start")]
    later = sorted(durations[connections:])
    db.unlink()
    db.parent.rmdir()
    return later[min(len(later) - 1, int(0.99 * len(later)))] * 1000 if later else None


def connection_memory(port: int, plan: Connections, running: Running) -> dict:
    """Bytes of server RSS per open idle connection, per waiting request and per connection once
    answered, from `plan.count` real connections."""
    import asyncio

    pids = running.pids()
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"

    async def measure() -> dict:
        base = rss_kib(pids)
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(plan.count)]
        await asyncio.sleep(1.0)
        idle = rss_kib(pids)
        for _, writer in conns:
            writer.write(request)
        await asyncio.gather(*(writer.drain() for _, writer in conns))
        await asyncio.sleep(min(2.0, plan.delay_ms / 2000))
        waiting = rss_kib(pids)
        heads = await asyncio.gather(*(reader.readuntil(b"\r\n\r\n") for reader, _ in conns))
        await asyncio.sleep(0.5)
        answered = rss_kib(pids)
        for _, writer in conns:
            writer.close()
        per = lambda kib: kib * 1024 / plan.count  # noqa: E731
        return {
            "idle_connection_bytes": per(idle - base),
            "waiting_request_bytes": per(waiting - idle),
            "answered_connection_bytes": per(answered - base),
            "ok": sum(head.startswith(b"HTTP/1.1 200") for head in heads),
        }

    return asyncio.run(measure())


def median(runs: list[dict], key: str):
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(memory_kib / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version()}


def rotated(names: list[str], by: int) -> list[str]:
    """`names` starting at a different one each round, so that no server always runs first,
    right after the previous scenario's load (greeter, always first before, measured 0.86x bare
    actix-web in `make bench` and 0.95x-0.97x alternating with it in
    bench/overhead-by-feature.sh on the same binary)."""
    start = by % len(names)
    return names[start:] + names[:start]


def run(args: argparse.Namespace) -> dict:
    scenarios = [s for s in (SMOKE if args.smoke else FULL) if not args.only or s.name in args.only]
    repeats = 1 if args.smoke else args.repeats
    workers = args.workers
    log_dir = Path(tempfile.mkdtemp(prefix="greeter-bench-"))
    every = [s.name for s in servers(args, workers, 0, 0) if not args.servers or s.name in args.servers]
    names = [name for name in every if name != METRICS_OFF]
    per_scenario = {scenario.name: every if scenario.name == "overhead" else names for scenario in scenarios}
    raw: dict = {scenario.name: {name: [] for name in per_scenario[scenario.name]} for scenario in scenarios}
    raw["footprint"] = {name: [] for name in names}
    plan = CONNECTIONS_SMOKE if args.smoke else CONNECTIONS_FULL
    with_connections = not args.only or "connections" in args.only
    if with_connections:
        raw["connections"] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names:
            port = free_port()
            server = next(s for s in servers(args, workers, 0, port) if s.name == name)
            running = Running(server, port, log_dir)
            time.sleep(0.5)
            raw["footprint"][name].append({"first_200_ms": running.first_200_s * 1000,
                                           "idle_rss_mib": rss_kib(running.pids()) / 1024})
            running.stop()
        for name in names if with_connections else []:
            port = free_port()
            server = next(s for s in servers(args, workers, plan.delay_ms, port) if s.name == name)
            running = Running(server, port, log_dir)
            try:
                result = connection_memory(port, plan, running)
            finally:
                running.stop()
            raw["connections"][name].append(result)
            print(f"[{repeat + 1}/{repeats}] connections {name:16} idle "
                  f"{result['idle_connection_bytes']:7.0f} B/conn  waiting request "
                  f"{result['waiting_request_bytes']:7.0f} B  answered {result['answered_connection_bytes']:7.0f} B/conn",
                  flush=True)
        for scenario in scenarios:
            for name in rotated(per_scenario[scenario.name], repeat):
                port = free_port()
                server = next(s for s in servers(args, workers, scenario.delay_ms, port) if s.name == name)
                running = Running(server, port, log_dir)
                try:
                    result = load(args.oha, port, scenario, running)
                finally:
                    running.stop()
                raw[scenario.name][name].append(result)
                print(f"[{repeat + 1}/{repeats}] {scenario.name:8} {name:16} "
                      f"{result['rps']:10.0f} req/s  p99 {result['p99_ms']:8.1f} ms  "
                      f"errors {result['errors']:6}  cpu/req "
                      f"{(result['cpu_us_per_request'] or 0):7.1f} µs  peak {result['peak_rss_mib']:6.1f} MiB",
                      flush=True)
    fan_out_results = None
    if not args.only or "fan-out" in args.only:
        fan_out_results = fan_out(args, FAN_OUT_SMOKE if args.smoke else FAN_OUT_FULL, repeats, log_dir)
    tls_results = {}
    for scenario in TLS_SMOKE if args.smoke else TLS_FULL:
        if not args.only or scenario.name in args.only:
            tls_results[scenario.name] = tls_fan_out(args, scenario, repeats, log_dir)
    medians = {
        scenario: {name: {key: median(runs, key) for key in runs[0]} for name, runs in by_server.items()}
        for scenario, by_server in raw.items()
    }
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "workers": workers,
        "repeats": repeats,
        "smoke": args.smoke,
        "scenarios": {s.name: s.about for s in scenarios},
        "connections": {"count": plan.count, "delay_ms": plan.delay_ms} if with_connections else None,
        "medians": medians,
        "runs": raw,
        "fan_out": fan_out_results,
        "tls_fan_out": tls_results,
    }


def table(results: dict) -> str:
    def fmt(value, digits=0):
        return "-" if value is None else f"{value:,.{digits}f}"

    m = results["machine"]
    medians = results["medians"]
    lines = [
        f"Measured {results['date']} on {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}; oha on the same machine; {results['workers']} workers per server; "
        f"medians of {results['repeats']} runs (`make bench`). p99 connected: the p99 without each "
        "connection's first request, whose latency includes oha's connecting.",
        "",
        "| scenario | server | req/s | p50 ms | p99 ms | p99 connected ms | errors | CPU µs/req "
        "| peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, about in results["scenarios"].items():
        for name, r in medians[scenario].items():
            lines.append(f"| {scenario} ({about}) | {name} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 1)} | "
                         f"{fmt(r['p99_ms'], 1)} | {fmt(r.get('p99_connected_ms'), 1)} | "
                         f"{fmt(r['errors'])} | {fmt(r['cpu_us_per_request'], 1)} | "
                         f"{fmt(r['peak_rss_mib'], 1)} |")
    lines += ["", "| footprint | idle RSS MiB | first 200 after start, ms |", "|---|---:|---:|"]
    for name, r in medians["footprint"].items():
        lines.append(f"| {name} | {fmt(r['idle_rss_mib'], 1)} | {fmt(r['first_200_ms'], 1)} |")
    if results.get("connections"):
        plan = results["connections"]
        lines += ["", f"| memory per connection ({plan['count']:,} connections, requests waiting "
                  f"{plan['delay_ms'] / 1000:g} s) | open, idle: bytes | + a waiting request: bytes "
                  "| answered, idle again: bytes |", "|---|---:|---:|---:|"]
        for name, r in medians["connections"].items():
            lines.append(f"| {name} | {fmt(r['idle_connection_bytes'])} | "
                         f"{fmt(r['waiting_request_bytes'])} | {fmt(r['answered_connection_bytes'])} |")
    if results.get("fan_out"):
        fan = results["fan_out"]
        lines += ["", f"| fan-out ({fan['about']}) | req/s | p50 ms | p99 ms | p99 connected ms | errors "
                  "| CPU µs/aggregate (of it system) | peak RSS MiB | upstream connections opened "
                  "| upstream 200s per aggregate |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in fan["medians"].items():
            # The floor's CPU is its upstream's per plain request served: what one request costs.
            cpu = f"{fmt(r['cpu_us_per_request'], 1)} ({fmt(r.get('cpu_system_us_per_request'), 1)})"
            if name == FLOOR:
                cpu += " per request"
            rss = "-" if name == FLOOR else fmt(r["peak_rss_mib"], 1)
            lines.append(f"| {name} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 1)} | {fmt(r['p99_ms'], 1)} | "
                         f"{fmt(r.get('p99_connected_ms'), 1)} | {fmt(r['errors'])} | {cpu} | {rss} | "
                         f"{fmt(r['upstream_connections'])} | {fmt(r['upstream_calls_per_ok'], 2)} |")
        if {"greeter", FLOOR} <= set(fan["medians"]):
            g, f = fan["medians"]["greeter"], fan["medians"][FLOOR]
            lines += ["", f"greeter's fan-out against the floor in the same run: req/s "
                      f"{g['rps'] / f['rps']:.3f}x, p99 connected {fmt(g.get('p99_connected_ms'), 1)} ms, "
                      f"CPU per aggregate {fmt(g['cpu_us_per_request'], 1)} µs (system "
                      f"{fmt(g.get('cpu_system_us_per_request'), 1)} µs), "
                      f"{g['cpu_us_per_request'] / f['cpu_us_per_request']:.1f} plain requests' worth (the "
                      f"floor's upstream: {fmt(f['cpu_us_per_request'], 1)} µs per request, system "
                      f"{fmt(f.get('cpu_system_us_per_request'), 1)} µs), upstream connections "
                      f"opened {fmt(g['upstream_connections'])} for at most "
                      f"{fmt(UPSTREAMS * f['upstream_connections'])} calls at once "
                      f"({UPSTREAMS} upstreams x {fmt(f['upstream_connections'])} clients)."]
    for scenario, fan in (results.get("tls_fan_out") or {}).items():
        lines += ["", f"| {scenario} ({fan['about']}) | req/s | p50 ms | p99 ms | p99 connected ms | errors "
                  "| CPU µs/aggregate | peak RSS MiB | upstream connections | full TLS handshakes "
                  "| upstream requests per connection |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in fan["medians"].items():
            cpu = fmt(r["cpu_us_per_request"], 1) + (" (nginx, per request)" if name == FLOOR else "")
            per_connection = (r["upstream_requests"] / r["upstream_connections"]
                              if r.get("upstream_connections") else None)
            lines.append(f"| {name} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 1)} | {fmt(r['p99_ms'], 1)} | "
                         f"{fmt(r.get('p99_connected_ms'), 1)} | {fmt(r['errors'])} | {cpu} | "
                         f"{'-' if name == FLOOR else fmt(r['peak_rss_mib'], 1)} | "
                         f"{fmt(r['upstream_connections'])} | {fmt(r['upstream_full_handshakes'])} | "
                         f"{fmt(per_connection, 1)} |")
        if {"greeter", FLOOR} <= set(fan["medians"]):
            g, f = fan["medians"]["greeter"], fan["medians"][FLOOR]
            lines += ["", f"{scenario}: greeter against the floor, req/s {g['rps'] / f['rps']:.3f}x, p99 "
                      f"connected {fmt(g.get('p99_connected_ms'), 1)} ms."]
        if {"greeter", GREETER_H1} <= set(fan["medians"]):
            g, h = fan["medians"]["greeter"], fan["medians"][GREETER_H1]
            lines += ["", f"{scenario}: greeter over HTTP/2 against over HTTP/1.1, CPU per aggregate "
                      f"{g['cpu_us_per_request'] / h['cpu_us_per_request']:.2f}x, upstream connections "
                      f"{fmt(g['upstream_connections'])} against {fmt(h['upstream_connections'])}."]
    if "overhead" in medians and {"greeter", METRICS_OFF} <= set(medians["overhead"]):
        on, off = medians["overhead"]["greeter"], medians["overhead"][METRICS_OFF]
        lines += ["", "greeter's metrics, on against off (`--metrics-path off`) in the overhead scenario of "
                  f"the same run: req/s {on['rps'] / off['rps']:.3f}x, CPU per request "
                  f"{on['cpu_us_per_request'] / off['cpu_us_per_request']:.3f}x."]
    if all(s in medians and {"greeter", "bare actix-web"} <= set(medians[s]) for s in ("overhead", "crowd")):
        g, b = medians["overhead"]["greeter"], medians["overhead"]["bare actix-web"]
        gc, bc = medians["crowd"]["greeter"], medians["crowd"]["bare actix-web"]
        ratio = lambda x, y: "-" if not x or not y else f"{x / y:.2f}x"  # noqa: E731
        lines += ["", "greeter against bare actix-web in the same run: "
                  f"overhead req/s {ratio(g['rps'], b['rps'])}, CPU per request "
                  f"{ratio(g['cpu_us_per_request'], b['cpu_us_per_request'])}; crowd req/s "
                  f"{ratio(gc['rps'], bc['rps'])}, peak RSS {ratio(gc['peak_rss_mib'], bc['peak_rss_mib'])}, "
                  f"p99 {fmt(gc['p99_ms'])} ms (bare {fmt(bc['p99_ms'])} ms), p99 connected "
                  f"{fmt(gc.get('p99_connected_ms'))} ms (bare {fmt(bc.get('p99_connected_ms'))} ms)."]
    return "\n".join(lines) + "\n"


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = list(results["scenarios"])
    if not scenarios:
        return  # a fan-out-only run has no scenario to chart
    # The servers measured in every scenario (greeter without metrics runs in the overhead one only).
    names = [n for n in results["medians"][scenarios[0]] if all(n in results["medians"][s] for s in scenarios)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(names)
    for axis, key, title in [(axes[0], "rps", "throughput (req/s, higher is better)"),
                             (axes[1], "p99_ms", "p99 latency (ms, lower is better)")]:
        for i, name in enumerate(names):
            values = [results["medians"][s][name][key] or 0 for s in scenarios]
            axis.bar([x + i * width for x in range(len(scenarios))], values, width, label=name)
        axis.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(scenarios))],
                        [s + "\n" + "\n".join(results["scenarios"][s].split(", ")[:2]) for s in scenarios],
                        fontsize=8)
        axis.set_yscale("log")
        axis.set_title(title)
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"greeter vs bare actix-web, FastAPI/uvicorn, aiohttp ({results['machine']['cpus']} CPUs, "
                 f"{results['workers']} workers each)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--greeter", required=True)
    parser.add_argument("--bare", required=True)
    parser.add_argument("--oha", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a few seconds of small loads")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--only", type=lambda v: v.split(","),
                        help="scenarios, e.g. overhead,crowd,connections (footprint always runs)")
    parser.add_argument("--servers", type=lambda v: v.split(","), help='e.g. "greeter,bare actix-web"')
    args = parser.parse_args()

    # oha and each server hold one file per connection: allow each as many as the hard limit does.
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    most = max(s.connections for s in (SMOKE if args.smoke else FULL))
    if hard != resource.RLIM_INFINITY and hard < most + 1024:
        sys.exit(f"the hard limit on open files ({hard}) is below the {most + 1024} the largest "
                 "scenario needs: raise it (ulimit -Hn, or LimitNOFILE for a service)")

    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = results["date"][:10]
    (args.out / f"{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "latest.md").write_text(table(results))
    chart(results, args.out / "latest.png")
    print(table(results))
    if args.smoke:
        broken = [f"{s}/{n}" for s, by_server in results["medians"].items() if s != "footprint"
                  for n, r in by_server.items() if not r["ok"]]
        broken += [f"{s}/{n}" for s, fan in (results.get("tls_fan_out") or {}).items()
                   for n, r in fan["medians"].items() if not r["ok"]]
        if broken:
            sys.exit(f"bench-smoke: no successful request for {', '.join(broken)}")
        print("bench-smoke: every server answered in every scenario")


if __name__ == "__main__":
    main()
