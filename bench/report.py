#!/usr/bin/env python3
"""Turns bench/run's raw results into the comparison table (Markdown).

Input: a TSV file, one measurement per line: run, scenario, role (corsproxy | nginx | caddy | haproxy), metric,
value. There is a column per proxy found, then one ratio column per peer: corsproxy ÷ that peer, computed within
each run (they ran back to back), then the median of those per-run ratios. Each cell shows the median over the
runs; with more than one run, corsproxy's cells and the first ratio (÷ nginx, the one the targets use) also show
their spread (min–max) — the peers' cells too when there is only one peer. Spreads for every proxy would not fit
a readable width. Usage: report.py RESULTS.tsv"""
import statistics
import sys
from collections import defaultdict

SCENARIOS = [
    ("get", "1. GET 4 KB JSON, 64 conns"),
    ("preflight", "2. preflight OPTIONS, 64 conns"),
    ("post", "3. POST 16 KiB JSON, 64 conns"),
    ("download", "4a. 50 MB download (curl)"),
    ("upload", "4b. 50 MB upload (curl)"),
    ("get-log", "GET, 64 conns, request logging on"),
    ("c1000", "5. GET, 1,000 conns"),
]

WRK_METRICS = ["rps", "p50_ms", "p99_ms", "mbps", "rss_mib", "upstream_conns", "cpu_us_per_req", "errors"]
STREAM_METRICS = ["mbps", "rss_mib", "upstream_conns", "cpu_ms_per_transfer", "errors"]
LABELS = {
    "rps": "requests/s",
    "p50_ms": "p50 latency (ms)",
    "p99_ms": "p99 latency (ms)",
    "mbps": "MB/s",
    "rss_mib": "peak RSS (MiB)",
    "upstream_conns": "upstream conns opened",
    "cpu_us_per_req": "proxy CPU per request (µs)",
    "cpu_ms_per_transfer": "proxy CPU per transfer (ms)",
    "errors": "errors",
}
# Column order, and how the heading names each proxy; a role not listed here comes last, under its own name.
ROLES = ["corsproxy", "nginx", "caddy", "haproxy"]
NAMES = {"caddy": "Caddy", "haproxy": "HAProxy"}
# What each role's logging instance or listener does, for the logging-cost line.
LOGGING = {
    "corsproxy": "corsproxy --log-level info",
    "nginx": "nginx access_log",
    "caddy": "Caddy's access log",
    "haproxy": "HAProxy's httplog",
}
# (kind, threshold): "ratio>=" / "ratio<=" compare the median ratio; "abs<=" compares corsproxy's median. The
# targets of issue 15 (halve the cost of a proxied request), against nginx in the same run.
TARGETS = {
    ("get", "rps"): ("ratio>=", 0.65),
    ("get", "p99_ms"): ("ratio<=", 1.5),
    ("get", "cpu_us_per_req"): ("abs<=", 40),
    ("get", "upstream_conns"): ("abs<=", 64),
    ("post", "rps"): ("ratio>=", 0.65),
    ("preflight", "rps"): ("ratio>=", 0.8),
    ("preflight", "cpu_us_per_req"): ("abs<=", 11),
    ("download", "mbps"): ("ratio>=", 1.0),
    ("download", "rss_mib"): ("abs<=", 32),
    ("upload", "mbps"): ("ratio>=", 1.0),
    ("upload", "rss_mib"): ("abs<=", 32),
    ("c1000", "rss_mib"): ("abs<=", 48),
}


def fmt(metric, value):
    if value is None:
        return "—"
    if metric == "rps":
        return f"{value:,.0f}"
    if metric in ("p50_ms", "p99_ms"):
        return f"{value:.2f}"
    if metric == "mbps":
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    if metric == "rss_mib":
        return f"{value:.1f}"
    if metric == "cpu_us_per_req":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def cell(metric, values, spread=True):
    if not values:
        return "—"
    text = fmt(metric, statistics.median(values))
    if spread and len(values) > 1:
        text += f" ({fmt(metric, min(values))}–{fmt(metric, max(values))})"
    return text


def ratio_cell(ratios, spread=True):
    if not ratios:
        return "—"
    text = f"{statistics.median(ratios):.2f}×"
    if spread and len(ratios) > 1:
        text += f" ({min(ratios):.2f}–{max(ratios):.2f})"
    return text


def per_run_ratios(cp, peer):
    return [cp[r] / peer[r] for r in sorted(cp) if r in peer and peer[r] > 0]


def main():
    path = sys.argv[1]
    data = defaultdict(dict)  # (scenario, role, metric) -> {run: value}
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5:
            continue
        run, scenario, role, metric, value = parts
        data[(scenario, role, metric)][int(run)] = float(value)

    found = {role for (_, role, _) in data}
    roles = [r for r in ROLES if r in found] + sorted(found - set(ROLES))
    peers = [r for r in roles if r != "corsproxy"]
    spread_roles = {"corsproxy"} | (set(peers) if len(peers) == 1 else set())
    ratio_heads = [f"{'corsproxy ' if i == 0 else ''}÷ {NAMES.get(p, p)}" for i, p in enumerate(peers)]
    heads = ["scenario", "metric"] + [NAMES.get(r, r) for r in roles] + ratio_heads + ["target"]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for scenario, title in SCENARIOS:
        metrics = STREAM_METRICS if scenario in ("download", "upload") else WRK_METRICS
        if not any((scenario, "corsproxy", m) in data for m in metrics):
            continue
        first = True
        for metric in metrics:
            cp = data.get((scenario, "corsproxy", metric), {})
            ng = data.get((scenario, "nginx", metric), {})
            ratios = per_run_ratios(cp, ng)
            ratio_cells = []
            for i, peer in enumerate(peers):
                peer_ratios = per_run_ratios(cp, data.get((scenario, peer, metric), {}))
                if metric in ("errors", "upstream_conns"):
                    peer_ratios = []
                ratio_cells.append(ratio_cell(peer_ratios, spread=i == 0))
            target = ""
            spec = TARGETS.get((scenario, metric))
            if metric == "errors":
                spec = ("abs<=", 0)
            if spec:
                kind, threshold = spec
                if kind.startswith("ratio"):
                    got = statistics.median(ratios) if ratios else None
                    shown = f"{'≥' if kind.endswith('>=') else '≤'} {threshold:g}×"
                else:
                    got = statistics.median(cp.values()) if cp else None
                    unit = {"rss_mib": " MiB", "cpu_us_per_req": " µs"}.get(metric, "")
                    shown = "= 0" if metric == "errors" else f"≤ {threshold:g}{unit}"
                if got is None:
                    verdict = "?"
                elif kind.endswith(">="):
                    verdict = "met" if got >= threshold else "**missed**"
                else:
                    verdict = "met" if got <= threshold else "**missed**"
                target = f"{shown} {verdict}"
            label = title if first else ""
            first = False
            values = [cell(metric, list(data.get((scenario, role, metric), {}).values()), role in spread_roles)
                      for role in roles]
            print("| " + " | ".join([label, LABELS[metric]] + values + ratio_cells + [target]) + " |")

    # The price of one log line per request, from the plain and the logging GET runs.
    notes = []
    for role in roles:
        what = LOGGING.get(role, role)
        plain = data.get(("get", role, "rps"), {})
        logged = data.get(("get-log", role, "rps"), {})
        ratios = [logged[r] / plain[r] for r in logged if r in plain and plain[r] > 0]
        if ratios:
            notes.append(f"{what} {statistics.median(ratios) * 100:.0f}%")
    if notes:
        print()
        print("Logging cost, as each proxy's logged GET throughput in % of its unlogged one — " + "; ".join(notes) + ".")

    # How busy the rest of the machine was while we measured (CPU used by processes outside the benchmark).
    loads = [v for (scenario, role, metric), runs in data.items() if metric == "other_load_pct" for v in runs.values()]
    if loads:
        print()
        print(f"Other processes' CPU use during the measurements: median {statistics.median(loads):.0f}%, "
              f"max {max(loads):.0f}% of the machine (0% = quiet; high values make the spread wide).")


if __name__ == "__main__":
    main()
