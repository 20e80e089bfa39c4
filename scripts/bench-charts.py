#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The charts of scripts/bench.sh, drawn from its JSON (build/bench/bench.json or syscall.json).

    python3 scripts/bench-charts.py [BENCH_JSON [OUT_DIR]]

Writes, next to the JSON unless OUT_DIR is given, from bench.json:
  ladder.png      TCP_STREAM throughput per step of the offload ladder, both directions over
                  the TAP and shared-memory paths, with host veth as reference lines
  rr-latency.png  TCP_RR latency per row of the table: p50 as the bar, up to p99 as the error bar
  rr-ladder.png   the RR ladder: 1-byte TCP_RR library to library over the shared-memory link
                  per step (shadow, shadow+pin, direct, direct+busy, direct+busy+irq,
                  direct+busy_read): p50 as the bar with its ratio to host veth, up to p99 as
                  the error bar, host veth (and host loopback) p50 as lines
and from syscall.json (the system-call table, told apart by its "kernels"):
  syscall.png     GETPID, PIPE_READ and TCP_RR per row (host, shadow, pinned, direct...): time
                  per call on a log scale, the ratio to the host on each bar, the runs' range
                  as the error bar
A chart whose data is missing (no ladder or RR ladder in the JSON, no row with TCP_RR) is left
out with a note. Needs matplotlib (Debian: python3-matplotlib); exit status 1 without it.
"""
import json
import os
import sys

try:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("bench-charts: matplotlib is missing (Debian: apt-get install python3-matplotlib)")

STEP_LABELS = {
    "off": "all off\n(no GSO/GRO)",
    "gso-gro": "GSO/GRO",
    "csum": "+ checksum\n(CSUM)",
    "tso": "+ large segments\n(TSO, ECN)",
    "all": "+ MRG_RXBUF\n(all)",
}
LINK_LABELS = {
    "tap": ("TAP host\u2192lkl (STREAM)", "TAP lkl\u2192host (MAERTS)"),
    "shm": ("shm lkl\u2192lkl (STREAM)", "shm lkl\u2192lkl (MAERTS)"),
}
COLORS = {"tap": ("#1f77b4", "#aec7e8"), "shm": ("#d62728", "#ff9896")}


def ladder_chart(ladder, machine, path):
    steps = ladder["steps"]
    series = []  # (label, color, medians, (below, above): the runs' spread around them)
    for link in ladder["links"]:
        for i, test in enumerate(("stream", "maerts")):
            key = f"{test}_gbit_s"
            values = [s.get(link, {}).get(key) for s in steps]
            if all(v is None for v in values):
                continue
            spread = ([], [])
            for s, v in zip(steps, values):
                runs = [r[key] for r in s.get(link, {}).get("runs", []) if r.get(key) is not None]
                spread[0].append(v - min(runs) if v is not None and runs else 0)
                spread[1].append(max(runs) - v if v is not None and runs else 0)
            series.append((LINK_LABELS.get(link, (link, link))[i],
                           COLORS.get(link, ("grey", "lightgrey"))[i], values, spread))
    if not series:
        return "no ladder step ran"

    fig, ax = plt.subplots(figsize=(10, 5.5))
    width = 0.8 / len(series)
    runs = ladder.get("runs", 1)
    for i, (label, color, values, spread) in enumerate(series):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(steps))]
        ax.bar(xs, [v or 0 for v in values], width, label=label, color=color,
               yerr=spread if runs > 1 else None, capsize=2, error_kw={"elinewidth": 0.8})
        # The value above the bar, and above its error bar when it has one.
        tops = [(v or 0) + (above if runs > 1 else 0) for v, above in zip(values, spread[1])]
        for x, v, top in zip(xs, values, tops):
            ax.annotate("-" if v is None else f"{v:.1f}", (x, top), ha="center", va="bottom",
                        fontsize=7, xytext=(0, 2), textcoords="offset points")
    refs = ladder.get("references", {})
    for name, style in (("host-veth", "--"), ("host-loopback", ":")):
        ref = refs.get(name, {})
        for test, arrow, lw in (("stream", "\u2192", 1.2), ("maerts", "\u2190", 0.8)):
            v = ref.get(f"{test}_gbit_s")
            if v:
                ax.axhline(v, color="black" if name == "host-veth" else "grey", linestyle=style,
                           linewidth=lw, label=f"{name.replace('-', ' ')} {arrow} ({v:.1f})")
    ax.set_xticks(range(len(steps)))
    ax.set_xticklabels([STEP_LABELS.get(s["step"], s["step"]) for s in steps], fontsize=9)
    ax.set_ylabel("TCP_STREAM throughput (Gbit/s)")
    each = f"median of {runs} runs, error bars min to max" if runs > 1 else "one run"
    ax.set_title(f"Offload ladder of the library kernel: {ladder.get('bytes_per_stream')} per "
                 f"stream, {each} ({machine.get('cpus')} CPUs, host {machine.get('kernel')})",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    ax.grid(axis="y", alpha=0.3)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.15)  # room for the legend above the bars
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


def rr_chart(rows, machine, path):
    names, p50, p99, sizes = [], [], [], set()
    for name, r in rows.items():
        if isinstance(r.get("rr"), dict):
            sizes.add(f"{r['rr'].get('request_size')}/{r['rr'].get('response_size')}-byte")
        m = r.get("metrics") or {}
        if m.get("rr_p50_us") is not None:
            names.append(name)
            p50.append(m["rr_p50_us"])
            p99.append(m.get("rr_p99_us") or m["rr_p50_us"])
    if not names:
        return "no row of the table has a TCP_RR result"

    fig, ax = plt.subplots(figsize=(9, 5))
    colors = ["#7f7f7f" if n.startswith("host") else "#1f77b4" for n in names]
    ax.bar(range(len(names)), p50, 0.6, color=colors,
           yerr=[[0] * len(names), [max(h - m, 0) for m, h in zip(p50, p99)]], capsize=5,
           error_kw={"elinewidth": 1})
    for x, (m, h) in enumerate(zip(p50, p99)):
        ax.annotate(f"p50 {m:.1f}", (x, m), ha="right", va="bottom", fontsize=8, xytext=(-3, 2),
                    textcoords="offset points")
        ax.annotate(f"p99 {h:.1f}", (x, h), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 3), textcoords="offset points", color="dimgrey")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, fontsize=9)
    ax.set_ylabel("TCP_RR latency (\u00b5s, log scale): p50, error bar to p99")
    ax.set_title(f"TCP_RR {', '.join(sorted(sizes)) or ''} request/response latency "
                 f"({machine.get('cpus')} CPUs, host {machine.get('kernel')})", fontsize=10)
    # Log scale: the library's latencies are an order of magnitude above the host's.
    ax.set_yscale("log")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.set_ylim(min(p50) / 2, max(p99) * 2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


RR_STEP_LABELS = {
    "shadow": "shadow",
    "shadow+pin": "shadow\n+ pinned",
    "direct": "direct",
    "direct+busy": "direct\n+ busy poll",
    "direct+busy+irq": "direct\n+ busy poll\n+ direct IRQ",
    "direct+busy_read": "direct\n+ socket\nbusy poll",
}
RR_STEP_COLORS = {"shadow": "#1f77b4", "shadow+pin": "#6baed6", "direct": "#d62728",
                  "direct+busy": "#ff7f0e", "direct+busy+irq": "#2ca02c",
                  "direct+busy_read": "#9467bd"}


def rr_ladder_chart(rr, machine, path):
    steps = [s for s in rr.get("steps", []) if s.get("p50_us") is not None]
    if not steps:
        return "no step of the RR ladder has a result"
    p50 = [s["p50_us"] for s in steps]
    p99 = [max(s.get("p99_us") or s["p50_us"], s["p50_us"]) for s in steps]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    xs = range(len(steps))
    ax.bar(xs, p50, 0.6, color=[RR_STEP_COLORS.get(s["step"], "lightgrey") for s in steps],
           edgecolor="black", linewidth=0.4,
           yerr=[[0] * len(steps), [h - m for m, h in zip(p50, p99)]], capsize=5,
           error_kw={"elinewidth": 1}, label="p50, error bar to p99")
    for x, s, m, h in zip(xs, steps, p50, p99):
        ratio = s.get("p50_ratio_to_reference")
        ax.annotate(f"{m:.1f} \u00b5s" + (f"\n{ratio:.2f}\u00d7" if ratio is not None else ""),
                    (x, m), ha="center", va="top", fontsize=8, xytext=(0, -3),
                    textcoords="offset points", color="white", fontweight="bold")
        ax.annotate(f"p99 {h:.0f}", (x, h), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 3), textcoords="offset points", color="dimgrey")
    refs, lows = rr.get("references", {}), []
    for name, style, color in (("host-veth", "--", "black"), ("host-loopback", ":", "grey")):
        v = refs.get(name, {}).get("p50_us")
        if v:
            lows.append(v)
            ax.axhline(v, color=color, linestyle=style, linewidth=1.2,
                       label=f"{name.replace('-', ' ')} p50 ({v:.1f} \u00b5s)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([RR_STEP_LABELS.get(s["step"], s["step"]) for s in steps], fontsize=9)
    # Log scale: the steps can be an order of magnitude apart, and above the host's.
    ax.set_yscale("log")
    ax.set_ylim(min(lows + p50) / 2, max(p99) * 2.5)
    ax.set_ylabel("TCP_RR latency (\u00b5s, log scale); on each bar: times host veth's p50")
    runs = rr.get("runs", 1)
    target = rr.get("target") or {}
    title = (f"RR ladder: 1-byte TCP_RR library\u2194library over the shared-memory link, "
             f"median of {runs} run{'s' if runs != 1 else ''} of {rr.get('seconds_per_run')} s"
             f"\n({machine.get('cpus')} CPUs, host {machine.get('kernel')})")
    if target:
        title += (f"; target {target.get('text')}: {target.get('ratio'):.2f}\u00d7 "
                  f"{'met' if target.get('met') else 'missed'}")
    if rr.get("direct_irq_known") is False:
        title += "; lkl.direct_irq unknown to this kernel"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


SYSCALL_TESTS = (("getpid_ns", "GETPID"), ("pipe_read_ns", "PIPE_READ\n(1-byte read)"),
                 ("tcp_rr_ns", "TCP_RR\n(loopback transaction)"))
ROW_COLORS = {"host": "#7f7f7f", "shadow": "#1f77b4", "shadow+pin": "#6baed6",
              "shadow+pin+app": "#c6dbef", "direct": "#d62728", "direct+pin": "#ff9896"}


def syscall_chart(report, path):
    rows = {name: r for name, r in report.get("rows", {}).items() if r.get("median")}
    if not rows:
        return "no row of the system-call table ran"
    machine, kernels = report.get("machine", {}), report.get("kernels", [])
    fig, ax = plt.subplots(figsize=(10, 5.5))
    width = 0.8 / len(rows)
    tops = []
    for i, (name, r) in enumerate(rows.items()):
        xs = [x + (i - (len(rows) - 1) / 2) * width for x in range(len(SYSCALL_TESTS))]
        values = [r["median"].get(key) for key, _ in SYSCALL_TESTS]
        spread = ([], [])
        for (key, _), v in zip(SYSCALL_TESTS, values):
            runs = [run[key] for run in r.get("runs", []) if run.get(key) is not None]
            spread[0].append(v - min(runs) if v is not None and runs else 0)
            spread[1].append(max(runs) - v if v is not None and runs else 0)
        ax.bar(xs, [v or 0 for v in values], width, label=name,
               color=ROW_COLORS.get(name, "lightgrey"), edgecolor="black", linewidth=0.4,
               yerr=spread if report.get("runs", 1) > 1 else None, capsize=2,
               error_kw={"elinewidth": 0.7})
        ratios = r.get("ratio_to_host", {})
        for x, (key, _), v, above in zip(xs, SYSCALL_TESTS, values, spread[1]):
            if v is None:
                continue
            tops.append(v + above)
            ratio = ratios.get(key)
            ax.annotate(f"{ratio:.1f}\u00d7" if ratio is not None else "", (x, v + above),
                        ha="center", va="bottom", fontsize=7, rotation=90, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_yscale("log")
    ax.set_ylim(min(v for v in tops if v > 0) / 3 if tops else 1, max(tops, default=10) * 5)
    ax.set_xticks(range(len(SYSCALL_TESTS)))
    ax.set_xticklabels([label for _, label in SYSCALL_TESTS], fontsize=9)
    ax.set_ylabel("ns per call (log scale); on each bar: times the host kernel's")
    tick = ", ".join(f"{k.get('tick_mode')} HZ={k.get('hz')}" for k in kernels[:1])
    ax.set_title(f"System calls: the library against the host kernel, median of "
                 f"{report.get('runs')} runs ({machine.get('cpus')} CPUs {machine.get('model')}, "
                 f"host {machine.get('host_kernel')}, library {tick})", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", ncol=3)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


def main(argv):
    src = argv[1] if len(argv) > 1 else "build/bench/bench.json"
    out_dir = argv[2] if len(argv) > 2 else os.path.dirname(os.path.abspath(src))
    with open(src) as f:
        report = json.load(f)
    machine = report.get("machine", {})
    if "kernels" in report:  # syscall.json: its one chart; bench.json's are left alone
        charts = [("syscall.png", lambda p: syscall_chart(report, p))]
    else:
        charts = [("ladder.png", lambda p: ladder_chart(report["ladder"], machine, p)
                   if report.get("ladder") else "no ladder in the JSON"),
                  ("rr-latency.png", lambda p: rr_chart(report.get("rows", {}), machine, p)),
                  ("rr-ladder.png", lambda p: rr_ladder_chart(report["rr_ladder"], machine, p)
                   if report.get("rr_ladder") else "no RR ladder in the JSON")]
    for name, draw in charts:
        path = os.path.join(out_dir, name)
        missing = draw(path)
        if missing is None:
            print(f"chart: {path}")
        else:
            print(f"chart {name} left out: {missing}")
            if os.path.exists(path):
                os.remove(path)  # an earlier run's, which this JSON does not describe
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
