#!/usr/bin/python3
"""The benchmark suite (`make bench`): runs every workload of bench/ against a Release build
and writes docs/benchmarks-suite.md (machine, commit, date, load, each command and its figures).

  /usr/bin/python3 bench/suite.py [--build build/release] [--output docs/benchmarks-suite.md]
                                  [--only NAME ...] [--list]

BENCH_SECONDS (default 10) is each measured window; BENCH_SECONDS=2 is a quick end-to-end check.
A workload that fails (non-zero exit, no RESULT line, no requests, more than 1% unexpected
answers or socket errors) stops the suite with its output and a non-zero exit; no report is written then.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = "docs/benchmarks-suite.md"
MAX_UNEXPECTED = 0.01


class WorkloadFailed(Exception):
    pass


def run(cmd, name, timeout):
    """Runs cmd from the repository root; its stdout, or WorkloadFailed with the output."""
    print(f"== {name}: {shlex.join(cmd)}", flush=True)
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise WorkloadFailed(f"{name} did not finish within {timeout}s: {shlex.join(cmd)}\n{e.stdout or ''}{e.stderr or ''}")
    sys.stdout.write(p.stdout)
    if p.returncode != 0:
        raise WorkloadFailed(f"{name} failed (exit {p.returncode}): {shlex.join(cmd)}\n"
                             f"--- stdout\n{p.stdout[-3000:]}--- stderr\n{p.stderr[-3000:]}")
    print(f"   ({time.monotonic() - start:.0f}s)", flush=True)
    return p.stdout


def kv(text):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", text)}


def parse_http(out, name):
    """RESULT lines (bench/http/result.lua, client_credentials.lua, ws_fanout_client/.py), each with the
    CPU lines that follow it (keyed by what precedes "CPU": "" for the service, "nginx", ...)."""
    rows = []
    for line in out.splitlines():
        if "RESULT " in line:
            prefix, rest = line.split("RESULT ", 1)
            rows.append({"label": prefix.strip(), "result": kv(rest), "cpu": {}})
        elif re.search(r"(^|\s)CPU ", line) and rows:
            prefix, rest = re.split(r"(?:^|\s)CPU ", line, maxsplit=1)
            who = prefix.strip()
            rows[-1]["cpu"]["nginx" if who == "nginx" else "server"] = kv(rest)
    if not rows:
        raise WorkloadFailed(f"{name}: no RESULT line in its output")
    for r in rows:
        res = r["result"]
        n = int(res.get("requests", res.get("quotes", "0")))
        if n == 0:
            raise WorkloadFailed(f"{name} {r['label']}: no requests completed: {res}")
        bad = int(res.get("unexpected_status", res.get("non2xx", "0")))
        if bad > MAX_UNEXPECTED * n:
            raise WorkloadFailed(f"{name} {r['label']}: {bad} of {n} answers were not the expected status")
        errors = int(res.get("errors", "0"))
        if errors > MAX_UNEXPECTED * n:
            raise WorkloadFailed(f"{name} {r['label']}: {errors} socket errors (connect, read, write, timeout) "
                                 f"for {n} requests")
    return rows


def parse_openssl(out):
    floors = {}
    m = re.search(r"^rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    if m:
        floors["RS256"] = (float(m.group(1)), float(m.group(2)))
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out)
    if m:
        floors["ES256"] = (float(m.group(1)), float(m.group(2)))
    m = re.search(r"EdDSA \(Ed25519\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out)
    if m:
        floors["EdDSA"] = (float(m.group(1)), float(m.group(2)))
    m = re.search(r"^hmac\(sha256\)\s+([\d.]+)k", out, re.M)
    if m:
        ops = float(m.group(1)) * 1000 / 256  # 256-byte inputs, about a JWS signing input
        floors["HS256"] = (ops, ops)
    missing = {"RS256", "ES256", "EdDSA", "HS256"} - floors.keys()
    if missing:
        raise WorkloadFailed(f"openssl speed: no figure for {sorted(missing)} in its output")
    return floors


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "memory": f"{mem_kb / 1024 / 1024:.1f} GiB", "os": distro()}


def distro():
    try:
        with open("/etc/os-release") as f:
            return dict(re.findall(r'^(\w+)="?([^"\n]*)"?', f.read(), re.M)).get("PRETTY_NAME", "")
    except OSError:
        return ""


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def fmt(v, digits=2):
    return "" if v is None else f"{float(v):.{digits}f}"


def ratio(a, b):
    """a / b to one decimal, or "?" when either is missing."""
    try:
        return f"{float(a) / float(b):.1f}"
    except (TypeError, ValueError, ZeroDivisionError):
        return "?"


def cpu_cell(cpu):
    if not cpu:
        return ""
    u, s = cpu.get("user_us_per_req", cpu.get("user_us_per_quote")), cpu.get("sys_us_per_req", cpu.get("sys_us_per_quote"))
    t = cpu.get("total_us_per_req", cpu.get("total_us_per_quote"))
    return f"{t} ({u} + {s})" if u is not None else f"{t}"


def http_table(rows, with_floor=None, nginx=False):
    head = "| workload | rps | p50 ms | p95 ms | p99 ms | server CPU µs/req (user + sys) |"
    sep = "| --- | ---: | ---: | ---: | ---: | ---: |"
    if nginx:
        head += " nginx CPU µs/req |"
        sep += " ---: |"
    if with_floor:
        head += " openssl sign/s, 1 core (floor) |"
        sep += " ---: |"
    head += " requests | unexpected / errors |"
    sep += " ---: | ---: |"
    lines = [head, sep]
    for label, r in rows:
        res = r["result"]
        cells = [label, fmt(res.get("rps"), 0), fmt(res.get("p50_ms")), fmt(res.get("p95_ms")), fmt(res.get("p99_ms")),
                 cpu_cell(r["cpu"].get("server"))]
        if nginx:
            cells.append(r["cpu"].get("nginx", {}).get("total_us_per_req", ""))
        if with_floor:
            cells.append(with_floor.get(label, ""))
        bad = res.get("unexpected_status", res.get("non2xx", "0"))
        cells += [res.get("requests", ""), f"{bad} / {res.get('errors', '0')}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ws_frontdoor_section(cmd, parsed):
    """The WebSocket fan-out straight to mt5-api and through nginx (bench/stream/ws_frontdoor.sh)."""
    o = []
    w = o.append
    w("## WebSocket fan-out directly and through nginx\n")
    w("The same stack; subscribers to every symbol at a 50 ms tick, straight to mt5-api, through nginx over ws:// "
      "and over wss:// (the client checks nginx's certificate against the stack's CA). One client process "
      "(bench/stream/ws_fanout_client) holds every subscriber. nginx CPU sums its master and workers, per "
      "delivered quote.\n")
    w("| subscribers | route | quotes/s delivered | per subscriber /s | slowest subscriber /s | mt5-api CPU µs/quote "
      "(user + sys) | nginx CPU µs/quote | client CPU % | closed early |")
    w("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in parsed:
        res = r["result"]
        nginx_cpu = r["cpu"].get("nginx", {}).get("total_us_per_quote", "") if r["label"] != "direct" else ""
        w(f"| {res['subscribers']} | {r['label']} | {res['quotes_per_s']} | {res['per_subscriber_per_s']} | "
          f"{res['min_subscriber_per_s']} | {cpu_cell(r['cpu'].get('server'))} | {nginx_cpu} | "
          f"{res['client_cpu_pct']} | {res['closed']} |")
    w(f"\nCommand: `{shlex.join(cmd)}`\n")
    return "\n".join(o)


def micro_table(results):
    lines = ["| benchmark | time | CPU | iterations | items/s |", "| --- | ---: | ---: | ---: | ---: |"]
    for b in results:
        unit = b.get("time_unit", "ns")
        ips = b.get("items_per_second")
        lines.append(f"| {b['name']} | {b['real_time']:.1f} {unit} | {b['cpu_time']:.1f} {unit} | {b['iterations']} | "
                     f"{'' if ips is None else f'{ips:,.0f}'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--output", default=OUTPUT)
    ap.add_argument("--only", nargs="*", help="run only these workloads (no report is written)")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = ap.parse_args()
    secs = int(os.environ.get("BENCH_SECONDS", "10"))
    if secs < 1:
        sys.exit("BENCH_SECONDS must be a whole number of seconds, at least 1")
    min_time = "0.5" if secs >= 10 else "0.1"
    b = args.build
    timeout = 120 + 20 * secs

    micro = sorted(p for p in glob.glob(os.path.join(ROOT, b, "bench", "*", "bench_*")) if os.access(p, os.X_OK))
    workloads = []  # (name, section, command, kind, label)
    for p in micro:
        workloads.append((os.path.basename(p), "micro", [os.path.relpath(p, ROOT), f"--benchmark_min_time={min_time}",
                                                         "--benchmark_format=json"], "micro", None))
    oss = str(max(1, secs // 3))
    workloads.append(("openssl", "openssl", ["openssl", "speed", "-seconds", oss, "rsa2048", "ecdsap256", "ed25519"],
                      "openssl", None))
    workloads.append(("openssl-hmac", "openssl", ["openssl", "speed", "-seconds", oss, "-bytes", "256", "-hmac",
                                                  "sha256"], "openssl", None))
    for alg in ("HS256", "ES256", "EdDSA", "RS256"):
        workloads.append((f"token-{alg}", "token", ["bench/http/token_issuance.sh", b, alg, "32", str(secs)], "http", alg))
    # The peer, in the same run (npm installs it on first use).
    workloads.append(("token-peer-oidc-provider", "token", ["bench/peers/oidc_provider.sh", "32", str(secs)], "http",
                      "node-oidc-provider ES256"))
    workloads += [
        ("password", "auth", ["bench/http/auth_endpoints.sh", b, "password", "2", str(secs)], "http",
         "password grant (Argon2id), 2 connections"),
        ("refresh", "auth", ["bench/http/auth_endpoints.sh", b, "refresh", "4", str(secs)], "http",
         "refresh_token grant (rotation), 4 connections"),
        ("introspect", "auth", ["bench/http/auth_endpoints.sh", b, "introspect", "32", str(secs)], "http",
         "introspection (RFC 7662), 32 connections"),
        ("trades-read", "gateway", ["bench/http/trades_read.sh", b, "64", str(secs)], "http",
         "GET /api/v1/trades, 64 connections"),
        ("account-read", "gateway", ["bench/http/account_read.sh", b, "64", str(secs)], "http",
         "GET /api/v1/account, 64 connections"),
        ("trades-write-sqlite", "gateway", ["bench/http/trades_write.sh", b, "64", str(secs), "sqlite"], "http",
         "durable POST /api/v1/trades, SQLite, 64 connections"),
        ("trades-write-postgres", "gateway", ["bench/http/trades_write.sh", b, "64", str(secs), "postgres"], "http",
         "durable POST /api/v1/trades, PostgreSQL (fsync on), 64 connections"),
        ("ws-fanout", "stream", ["bench/stream/ws_fanout.sh", b, str(secs), "50", "1", "10", "100"], "http", None),
        ("frontdoor", "frontdoor", ["bench/http/frontdoor_paths.sh", b, "32", str(secs)], "http", None),
        ("ws-frontdoor", "frontdoor", ["bench/stream/ws_frontdoor.sh", b, str(secs), "50", "100", "1000"], "http",
         None),
    ]
    if args.list:
        for w in workloads:
            print(f"{w[0]:24} {shlex.join(w[2])}")
        return 0
    if args.only:
        unknown = set(args.only) - {w[0] for w in workloads}
        if unknown:
            sys.exit(f"unknown workloads {sorted(unknown)} (--list)")
        workloads = [w for w in workloads if w[0] in args.only]
    if not micro and not args.only:
        sys.exit(f"no microbenchmarks under {b}/bench: build the release preset first (make build)")

    load_before = loadavg()
    started = datetime.datetime.now(datetime.timezone.utc)
    results = {}
    try:
        for name, section, cmd, kind, label in workloads:
            out = run(cmd, name, timeout)
            if kind == "micro":
                try:
                    data = json.loads(out)
                except json.JSONDecodeError as e:
                    raise WorkloadFailed(f"{name}: its JSON output does not parse: {e}")
                if not data.get("benchmarks"):
                    raise WorkloadFailed(f"{name}: no benchmark results")
                results[name] = (cmd, data["benchmarks"], data.get("context", {}))
            elif kind == "openssl":
                results[name] = (cmd, out)
            else:
                results[name] = (cmd, parse_http(out, name), label)
    except WorkloadFailed as e:
        print(f"\nbench suite FAILED: {e}", file=sys.stderr)
        print("no report written", file=sys.stderr)
        return 1
    if args.only:
        print("(--only: no report written)")
        return 0
    load_after = loadavg()
    floors = parse_openssl(results["openssl"][1] + results["openssl-hmac"][1])
    report = render(results, floors, secs, min_time, b, started, load_before, load_after, micro)
    path = os.path.join(ROOT, args.output)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(report)
    os.replace(tmp, path)
    print(f"\nwrote {args.output}")
    return 0


def fanout_client_name(build):
    """The client bench/stream/ws_fanout.sh runs: the C++ one when built, else the Python one."""
    if os.access(os.path.join(ROOT, build, "bench/stream/ws_fanout_client"), os.X_OK):
        return "bench/stream/ws_fanout_client: C++, Beast, one thread"
    return "bench/stream/ws_fanout.py: python3-websockets, falls behind near 1,000 subscribers"


def render(results, floors, secs, min_time, build, started, load_before, load_after, micro):
    m = machine()
    commit = git("rev-parse", "HEAD")
    subject = git("log", "-1", "--format=%s")
    subject = subject if len(subject) <= 80 else subject[:80].rsplit(" ", 1)[0] + " …"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    cores = m["cores"] or 1
    # The load before the run: the one after is mostly the suite's own (wrk and the servers
    # saturate the cores), so it cannot tell whether anyone else was using the machine.
    shared = load_before[0] > 0.5 * cores
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    cmdline = f"BENCH_SECONDS={secs} make bench" if secs != 10 else "make bench"
    o = []
    w = o.append
    w("# Benchmark suite: generated figures\n")
    w(f"Generated by `bench/suite.py` (`make bench`); do not edit by hand: regenerate with `{cmdline}` "
      "(or `BENCH_SECONDS=<s> make bench`). Narrative, history and analysis are in "
      "[benchmarks.md](benchmarks.md).\n")
    w(f"- **Run**: {started.strftime('%Y-%m-%d %H:%M UTC')}, `BENCH_SECONDS={secs}` (each measured window; "
      f"microbenchmarks `--benchmark_min_time={min_time}`), build `{build}` (Release)")
    w(f"- **Commit**: `{commit}` ({subject}){' with uncommitted changes' if dirty else ''}")
    w(f"- **Machine**: {m['cpu']}, {m['cores']} cores, {m['memory']}, Linux {m['kernel']}, {m['os']}")
    w(f"- **Load average** (1/5/15 min): {' / '.join(f'{x:.2f}' for x in load_before)} before, "
      f"{' / '.join(f'{x:.2f}' for x in load_after)} after, mostly the suite's own (`{uptime}`)")
    w("- Load generators (wrk -t2, the WebSocket fan-out client) run on the same machine as the servers, so "
      "throughput is shared with them; CPU per request is the server process's own (user + sys from "
      "/proc/PID/stat over the measured window) and moves less with the machine.")
    if shared:
        w(f"- **Shared machine**: the load average before the run was above half the {cores} cores (other work "
          "on it): throughput and latency here are lower and noisier than on an idle machine; compare CPU per "
          "request, or rerun on a quiet machine.")
    if secs < 10:
        w(f"- **Quick run** ({secs}s windows): a check that the suite works end to end; the figures are rough.")
    w("")

    w("## Token issuance (client credentials), permiso-auth\n")
    w("wrk -t2, 32 connections, POST /api/v1/auth/token (client_secret_post), beside `openssl speed`'s "
      "signatures per second on one core (HS256: HMAC-SHA256 of 256-byte inputs), the ceiling of one core "
      "signing alone.\n")
    rows, fl, cmds = [], {}, []
    for alg in ("HS256", "ES256", "EdDSA", "RS256"):
        cmd, parsed, _ = results[f"token-{alg}"]
        rows.append((alg, parsed[0]))
        fl[alg] = f"{floors[alg][0]:,.0f}"
        cmds.append(shlex.join(cmd))
    w(http_table(rows, with_floor=fl))
    peer_cmd, peer, _ = results["token-peer-oidc-provider"]
    ours = rows[1][1]  # ES256
    w("\nThe issue's peer in the same run, the same way (`" + shlex.join(peer_cmd) + "`): node-oidc-provider "
      f"issuing ES256 JWTs, one process per core: {fmt(peer[0]['result'].get('rps'), 0)} tokens/s, p99 "
      f"{fmt(peer[0]['result'].get('p99_ms'))} ms, {cpu_cell(peer[0]['cpu'].get('server'))} µs CPU per token. "
      f"permiso-auth ES256: **{ratio(ours['result'].get('rps'), peer[0]['result'].get('rps'))}× its throughput, "
      f"{ratio(peer[0]['cpu'].get('server', {}).get('total_us_per_req'), ours['cpu'].get('server', {}).get('total_us_per_req'))}"
      "× less CPU per token**.")
    w("\nopenssl speed (sign/s, verify/s, one core): " +
      ", ".join(f"{a} {floors[a][0]:,.0f} / {floors[a][1]:,.0f}" for a in ("HS256", "ES256", "EdDSA", "RS256")))
    w("\nCommands: " + "; ".join(f"`{c}`" for c in cmds + [shlex.join(results['openssl'][0]),
                                                            shlex.join(results['openssl-hmac'][0])]) + "\n")

    w("## Password login, refresh, introspection (permiso-auth, ES256)\n")
    rows, cmds = [], []
    for name in ("password", "refresh", "introspect"):
        cmd, parsed, label = results[name]
        rows.append((label, parsed[0]))
        cmds.append(shlex.join(cmd))
    w(http_table(rows))
    w("\nThe password grant runs Argon2id per request by design (a few requests per second per core is the "
      "intended cost). Each refresh rotates the token: every wrk connection follows its own chain.\n")
    w("Commands: " + "; ".join(f"`{c}`" for c in cmds) + "\n")

    w("## mt5-api (simulated broker, ES256 service tokens)\n")
    rows, cmds = [], []
    for name in ("trades-read", "account-read", "trades-write-sqlite", "trades-write-postgres"):
        cmd, parsed, label = results[name]
        rows.append((label, parsed[0]))
        cmds.append(shlex.join(cmd))
    w(http_table(rows))
    w("\nWrites are durable: idempotency record, position, order, deal and account committed before the 201 "
      "(PostgreSQL 15 with fsync and synchronous_commit on).\n")
    w("Commands: " + "; ".join(f"`{c}`" for c in cmds) + "\n")

    w("## WebSocket quote fan-out (mt5-api GET /api/v1/stream)\n")
    cmd, parsed, _ = results["ws-fanout"]
    w("Subscribers to every symbol, the simulator ticking every 50 ms; quotes delivered per second in total "
      f"and per subscriber; mt5-api CPU per delivered quote. One client process ({fanout_client_name(build)}) "
      "holds every subscriber: its CPU share shows when it, not the server, is the limit; the window is the "
      "measured one (longer than asked when the machine is too loaded to wake the client on time). "
      "The simulator's rate bounds each subscriber's (one subscriber receives every quote produced): "
      "N subscribers at N times that rate means nothing was lost, and mt5-api's CPU per quote is the "
      "fan-out's cost.\n")
    w("| subscribers | quotes/s delivered | per subscriber /s | slowest subscriber /s | mt5-api CPU µs/quote "
      "(user + sys) | client CPU % | window s | closed early |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in parsed:
        res = r["result"]
        w(f"| {res['subscribers']} | {res['quotes_per_s']} | {res['per_subscriber_per_s']} | "
          f"{res['min_subscriber_per_s']} | {cpu_cell(r['cpu'].get('server'))} | {res['client_cpu_pct']} | "
          f"{res.get('window_s', '')} | {res['closed']} |")
    w(f"\nCommand: `{shlex.join(cmd)}`\n")

    w("## Directly and through nginx\n")
    cmd, parsed, _ = results["frontdoor"]
    w("scripts/run-stack (SQLite, ES256) with nginx in front; 32 connections; nginx-https keeps connections "
      "alive (the handshake is amortised, the record layer is not). nginx CPU sums its master and workers.\n")
    names = {"token": "client credentials", "trades": "GET /api/v1/trades"}
    rows = []
    for r in parsed:
        path, route = (r["label"].split() + ["", ""])[:2]
        rows.append((f"{names.get(path, path)}, {route}", r))
    w(http_table(rows, nginx=True))
    w(f"\nCommand: `{shlex.join(cmd)}`\n")

    w(ws_frontdoor_section(*results["ws-frontdoor"][:2]))
    w("## Microbenchmarks (Google Benchmark)\n")
    w("JWS sign and verify (bench_jose), the request parsers (bench_parsers), the verified-token cache "
      "(bench_resource), the rate limiter (bench_ratelimit) and a request's metrics on one and two threads "
      "(bench_metrics), among every bench_* of the build. "
      "Time is wall-clock per iteration (per thread for the threaded ones).\n")
    for p in micro:
        name = os.path.basename(p)
        cmd, benches, _ = results[name]
        w(f"### {name}\n")
        w(micro_table(benches))
        w(f"\nCommand: `{shlex.join(cmd)}`\n")
    return "\n".join(o)


if __name__ == "__main__":
    sys.exit(main())
