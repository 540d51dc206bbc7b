"""Issue 18's receiver benchmark: `tap-webhook serve` against the bare floor, in the same run.

    python bench/webhookbench.py                      # 10 s per measurement, 1 round
    python bench/webhookbench.py --seconds 20 --rounds 3
    python bench/webhookbench.py --impl h11-asyncio   # Uvicorn's pure-Python stack instead of httptools/uvloop

Each side is started as a subprocess on loopback with a fresh SQLite spool in bench/.data/webhook/
(WAL, synchronous=FULL: every acknowledgement follows an fsync), then measured twice:

1. **throughput** with `wrk` (closed loop): 32 keep-alive connections, GitHub-signed 1 KB bodies
   (512 distinct bodies with their X-Hub-Signature-256, pre-signed in the Lua script since wrk's Lua
   has no HMAC) and a distinct X-GitHub-Delivery per request, so every request is a new delivery;
   wrk's own latency figures are printed too;
2. **latency at a fixed rate** (default 5,000/s) with bench/tools/webhook_rate.py: wrk 4 has no fixed
   rate mode, so an open-loop asyncio generator (uvloop) sends request i at ``start + i/rate`` over
   32 connections and charges each request from its *scheduled* time, queueing for a connection
   included (wrk2's correction for coordinated omission).

Sides: **receiver** (the real thing: settings, content type and size checks, provider verifier,
kept headers, group-commit spool writer, metrics) and **floor** (bench/tools/webhook_floor.py: a
bare Starlette handler doing only the HMAC check and a grouped SQLite commit). The ratio
receiver/floor is the figure that survives a loaded machine; /proc/loadavg is printed before and
after each measurement. After each side, the spool is checked: rows >= acknowledged deliveries.

Goals (issue 18): >= 8,000 deliveries/s; p99 <= 25 ms at 5,000/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "tools"))

from webhook_rate import bodies  # noqa: E402

DATA = ROOT / "bench" / ".data" / "webhook"
SECRET = "bench-secret-9f2c"
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
IMPLS = {"httptools-uvloop": ("httptools", "uvloop"), "h11-asyncio": ("h11", "asyncio")}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lua_script(path: Path) -> None:
    """wrk's request generator: pre-signed bodies, a distinct delivery id per request."""
    entries = ",\n".join(f'{{[==[{body.decode()}]==], "{sig}"}}' for body, sig in bodies(SECRET.encode()))
    path.write_text(f"""
local signed = {{
{entries}
}}
local n = #signed
local threads = 0
counter = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  run_id = args[1]
end
function request()
  counter = counter + 1
  local s = signed[(counter % n) + 1]
  return wrk.format("POST", "/hooks/gh", {{
    ["Content-Type"] = "application/json", ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = run_id .. "-" .. tid .. "-" .. counter, ["X-Hub-Signature-256"] = s[2]}}, s[1])
end
""")


def start(side: str, workdir: Path, impl: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    db = workdir / f"{side}.db"
    http, loop = IMPLS[impl]
    if side == "floor":
        argv = [PY, str(ROOT / "bench" / "tools" / "webhook_floor.py"), str(db), SECRET, str(port), http, loop]
    else:
        config = workdir / "receiver.json"
        config.write_text(json.dumps({"spool": {"path": str(db)}, "server": {"port": port},
                                      "sources": {"gh": {"provider": "github", "secrets": [SECRET]}}}))
        code = ("import sys; from protocol import load_config; from protocol._logs import setup_logging; "
                "from taps.webhook.serve import run, NAME; from taps.webhook.settings import SETTINGS; "
                "setup_logging('WARNING'); "
                f"run(load_config([sys.argv[1]], connector_name=NAME, settings_schema=SETTINGS), "
                f"http={http!r}, loop={loop!r})")
        argv = [PY, "-c", code, str(config)]
    log = (workdir / f"{side}.log").open("wb")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{side} exited at start; see {workdir / (side + '.log')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            time.sleep(0.3)
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{side} did not listen within 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_wrk(port: int, script: Path, seconds: float, connections: int, threads: int) -> dict[str, Any]:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--latency", "-s", str(script),
            f"http://127.0.0.1:{port}", "--", uuid.uuid4().hex[:12]]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result: dict[str, Any] = {"rate": float(rate.group(1)) if rate else 0.0}
    for pct in ("50", "90", "99"):
        found = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if found:
            value = float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
            result[f"p{pct}_ms"] = round(value, 2)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result["requests"] = int(total.group(1)) if total else 0
    result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    result["socket_errors"] = errors.group(1) if errors else "none"
    return result


def run_rate(port: int, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    argv = [PY, str(ROOT / "bench" / "tools" / "webhook_rate.py"), str(port), SECRET, str(rate), str(seconds),
            str(connections), uuid.uuid4().hex[:12]]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def spooled(workdir: Path, side: str) -> int:
    with sqlite3.connect(workdir / f"{side}.db") as conn:
        return int(conn.execute("SELECT count(*) FROM deliveries").fetchone()[0])


class Side:
    """One server under test, kept running through a round; what it acknowledged is tallied."""

    def __init__(self, name: str, args: argparse.Namespace, workdir: Path) -> None:
        self.name = name
        self.args = args
        self.workdir = workdir
        self.script = workdir / "gen.lua"
        lua_script(self.script)
        self.proc, self.port = start(name, workdir, args.impl)
        self.acked = 0
        self.points: dict[str, dict[str, Any]] = {}

    def throughput(self) -> dict[str, Any]:
        a = self.args
        warm = run_wrk(self.port, self.script, 2, a.connections, a.threads)
        before, cpu = loadavg(), cpu_seconds(self.proc.pid)
        wrk = run_wrk(self.port, self.script, a.seconds, a.connections, a.threads)
        wrk["cpu_us_per_delivery"] = round((cpu_seconds(self.proc.pid) - cpu) / max(1, wrk["requests"]) * 1e6, 1)
        wrk["load"] = f"{before} -> {loadavg()}"
        self.acked += sum(r["requests"] - r["non_2xx"] for r in (warm, wrk))
        return wrk

    def at_rate(self, label: str, rate: float) -> dict[str, Any]:
        before = loadavg()
        point = run_rate(self.port, rate, self.args.seconds, self.args.connections)
        point["load"] = f"{before} -> {loadavg()}"
        self.acked += int(point["statuses"].get("200", 0))
        self.points[label] = point
        return point

    def finish(self) -> str:
        stop(self.proc)
        rows = spooled(self.workdir, self.name)
        verdict = "ok" if rows >= self.acked else "ERROR: acknowledged deliveries missing from the spool"
        return f"spool rows {rows} >= acknowledged {self.acked}: {verdict}"


def show_wrk(rnd: int, side: str, w: dict[str, Any]) -> None:
    print(f"round {rnd} {side:8} wrk: {w['rate']:8.0f}/s  p50 {w.get('p50_ms')} p99 {w.get('p99_ms')} ms  "
          f"non-2xx {w['non_2xx']} socket errors {w['socket_errors']}  cpu {w['cpu_us_per_delivery']} us/delivery  "
          f"load {w['load']}")


def show_rate(rnd: int, side: str, rate: float, f: dict[str, Any]) -> None:
    late = "  (the rate is above this machine's capacity now: queueing)" if f["rate"] < 0.95 * rate else ""
    print(f"round {rnd} {side:8} at {rate:6.0f}/s: p50 {f['p50_ms']} p90 {f['p90_ms']} p99 {f['p99_ms']} "
          f"max {f['max_ms']} ms  achieved {f['rate']}/s  statuses {f['statuses']}  load {f['load']}{late}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rate", type=float, default=5000, help="the fixed rate of the latency point")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the machine has 2 cores)")
    parser.add_argument("--impl", choices=sorted(IMPLS), default="httptools-uvloop")
    parser.add_argument("--only", choices=["receiver", "floor"])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package 'wrk')")
    names = [args.only] if args.only else ["floor", "receiver"]
    print(f"webhookbench: {args.seconds:g} s per measurement, {args.connections} connections, wrk -t{args.threads}, "
          f"impl {args.impl}, fixed rate {args.rate:g}/s; cpus {os.cpu_count()}; load {loadavg()}")
    for rnd in range(1, args.rounds + 1):
        order = names if rnd % 2 else names[::-1]  # alternate which side goes first
        sides: dict[str, Side] = {}
        try:
            for name in order:
                workdir = DATA / f"round{rnd}-{name}"
                shutil.rmtree(workdir, ignore_errors=True)
                workdir.mkdir(parents=True)
                sides[name] = Side(name, args, workdir)
            wrk = {}
            for name in order:
                wrk[name] = sides[name].throughput()
                show_wrk(rnd, name, wrk[name])
            # the goal's point, and (on a machine too loaded to reach it) half the slowest side's
            # throughput, so that both sides are compared below saturation in the same run
            rates = {"fixed": args.rate}
            slowest = min(w["rate"] for w in wrk.values())
            if slowest < 1.25 * args.rate:
                rates["scaled"] = round(slowest / 2, -1)
            for label, rate in rates.items():
                for name in order:
                    show_rate(rnd, name, rate, sides[name].at_rate(label, rate))
        finally:
            for name, side in sides.items():
                print(f"round {rnd} {name:8} {side.finish()}")
        if len(sides) == 2:
            rec, flo = wrk["receiver"], wrk["floor"]
            line = (f"round {rnd} receiver/floor: throughput {rec['rate'] / flo['rate']:.2f}, "
                    f"cpu per delivery {rec['cpu_us_per_delivery'] / flo['cpu_us_per_delivery']:.2f}")
            for label, rate in rates.items():
                r, f = sides["receiver"].points[label], sides["floor"].points[label]
                line += f", p99 at {rate:g}/s {r['p99_ms']} vs {f['p99_ms']} ms"
            print(line + "  (goals: >= 8000/s; p99 <= 25 ms at 5000/s)")


if __name__ == "__main__":
    main()
