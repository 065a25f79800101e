#!/usr/bin/env python3
"""Turns bench/run's raw results into the comparison table (Markdown).

Input: a TSV file, one measurement per line: run, scenario, role (corsproxy | nginx), metric, value.
Each cell shows the median over the runs and, with more than one run, the spread (min–max). The ratio is
corsproxy ÷ nginx computed within each run (A and B ran back to back), then the median and spread of those
per-run ratios. Usage: report.py RESULTS.tsv [--runs N] [--duration S]"""
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
# (kind, threshold): "ratio>=" / "ratio<=" compare the median ratio; "abs<=" compares corsproxy's median.
TARGETS = {
    ("get", "rps"): ("ratio>=", 1.0),
    ("get", "p99_ms"): ("ratio<=", 1.2),
    ("get", "upstream_conns"): ("abs<=", 64),
    ("post", "rps"): ("ratio>=", 1.0),
    ("post", "p99_ms"): ("ratio<=", 1.2),
    ("preflight", "rps"): ("ratio>=", 0.9),
    ("download", "mbps"): ("ratio>=", 1.0),
    ("download", "rss_mib"): ("abs<=", 32),
    ("upload", "mbps"): ("ratio>=", 1.0),
    ("upload", "rss_mib"): ("abs<=", 32),
    ("c1000", "rss_mib"): ("abs<=", 64),
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


def cell(metric, values):
    if not values:
        return "—"
    text = fmt(metric, statistics.median(values))
    if len(values) > 1:
        text += f" ({fmt(metric, min(values))}–{fmt(metric, max(values))})"
    return text


def main():
    path = sys.argv[1]
    data = defaultdict(dict)  # (scenario, role, metric) -> {run: value}
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5:
            continue
        run, scenario, role, metric, value = parts
        data[(scenario, role, metric)][int(run)] = float(value)

    print("| scenario | metric | corsproxy | nginx | corsproxy ÷ nginx | target |")
    print("|---|---|---|---|---|---|")
    for scenario, title in SCENARIOS:
        metrics = STREAM_METRICS if scenario in ("download", "upload") else WRK_METRICS
        if not any((scenario, "corsproxy", m) in data for m in metrics):
            continue
        first = True
        for metric in metrics:
            cp = data.get((scenario, "corsproxy", metric), {})
            ng = data.get((scenario, "nginx", metric), {})
            ratios = [cp[r] / ng[r] for r in sorted(cp) if r in ng and ng[r] > 0]
            ratio = "—"
            if ratios and metric not in ("errors", "upstream_conns"):
                ratio = f"{statistics.median(ratios):.2f}×"
                if len(ratios) > 1:
                    ratio += f" ({min(ratios):.2f}–{max(ratios):.2f})"
            target = ""
            spec = TARGETS.get((scenario, metric))
            if metric == "errors":
                spec = ("abs<=", 0)
            if spec:
                kind, threshold = spec
                if kind.startswith("ratio"):
                    got = statistics.median(ratios) if ratios else None
                    shown = f"{'≥' if kind.endswith('>=') else '≤'} {threshold:.1f}×"
                else:
                    got = statistics.median(cp.values()) if cp else None
                    unit = " MiB" if metric == "rss_mib" else ""
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
            print(f"| {label} | {LABELS[metric]} | {cell(metric, list(cp.values()))} | "
                  f"{cell(metric, list(ng.values()))} | {ratio} | {target} |")

    # The price of one log line per request, from the plain and the logging GET runs.
    notes = []
    for role, what in (("corsproxy", "corsproxy --log-level info"), ("nginx", "nginx access_log")):
        plain = data.get(("get", role, "rps"), {})
        logged = data.get(("get-log", role, "rps"), {})
        ratios = [logged[r] / plain[r] for r in logged if r in plain and plain[r] > 0]
        if ratios:
            notes.append(f"{what}: {statistics.median(ratios) * 100:.0f}% of its unlogged GET throughput")
    if notes:
        print()
        print("Logging cost — " + "; ".join(notes) + ".")

    # How busy the rest of the machine was while we measured (CPU used by processes outside the benchmark).
    loads = [v for (scenario, role, metric), runs in data.items() if metric == "other_load_pct" for v in runs.values()]
    if loads:
        print()
        print(f"Other processes' CPU use during the measurements: median {statistics.median(loads):.0f}%, "
              f"max {max(loads):.0f}% of the machine (0% = quiet; high values make the spread wide).")


if __name__ == "__main__":
    main()
