#!/usr/bin/env bash
# Benchmarks: TCP_RR and TCP_STREAM (both directions) with lkl-perf over every path this build
# and machine can run, in one run, printed as a table of ratios to a reference row and written
# as JSON; then the offload ladder (TCP_STREAM both ways as the library's offloads are added one
# by one), and two charts. `make bench` runs it; not part of `make test`.
#
#   scripts/bench.sh [--quick] [--out FILE] [--rows a,b,...] [--no-ladder | --ladder-only]
#                    [--ladder-links tap,shm]
#
# Rows of the table (each skipped, with the reason, when it cannot run here):
#   host-loopback  host kernel, client and server over 127.0.0.1 in one process
#   host-veth      host kernel, server and client in two network namespaces joined by a veth
#                  pair (root); the reference of the ratios when it runs, else host-loopback
#   lkl-loopback   library kernel, client and server over its own 127.0.0.1
#   lkl-tap        library server on a TAP device <-> host client in the TAP's namespace (root,
#                  an lkl-perf with network devices)
#   lkl-raw        library server on a raw AF_PACKET socket over one end of a veth pair <-> host
#                  client on the other end in another namespace (root, network devices)
#   lkl-shm        library server <-> library client, two lkl-perf processes joined by the
#                  shared-memory link (--lkl-netdev shm:NAME, all offloads; no root, network
#                  devices)
# Adding a row: a row_<name> function that sets the arrays `server` (a command run in the
# background until the row is done; none for in-process loopback) and `client` (the lkl-perf
# invocation the test arguments are appended to), or calls skip with the reason. The client
# runs the three tests in one process (a shared-memory link joins one pair of processes, once)
# and retries its connections while the server is still starting (--connect-wait).
#
# The offload ladder: TCP_STREAM and TCP_MAERTS over the lkl-tap and lkl-shm paths (the library
# end(s) configured as below), BENCH_LADDER_BYTES per stream, the median of BENCH_LADDER_RUNS
# runs (each run goes through all steps, so that a disturbance falls on one run), five steps,
# each adding to the one before:
#   off        no device offloads (--lkl-offload 0) and GSO/GRO off in the library
#              (--lkl-features gso=off,gro=off)
#   gso-gro    GSO/GRO on (the kernel's default), still no device offloads
#   csum       + checksum offload both ways (CSUM, GUEST_CSUM)
#   tso        + large segments both ways (HOST_TSO4/6, GUEST_TSO4/6, HOST_ECN, GUEST_ECN)
#   all        + mergeable receive buffers (MRG_RXBUF): every offload, as in the table
# with the same streams over host-veth and host-loopback, measured in the same run, as the
# reference rows (ratios to host-veth, else host-loopback).
#
# Output: the two tables on stdout; $BENCH_OUT (JSON: "rows" the table, "ladder" the ladder);
# next to it ladder.png (throughput per ladder step, host veth as reference lines) and
# rr-latency.png (TCP_RR p50 latency per row of the table, p99 as error bar). The charts need
# matplotlib (Debian: python3-matplotlib, `scripts/install-deps.sh --bench`); without it they
# are skipped with a note, the rest of the run is unchanged. They can be drawn again from the
# JSON: `python3 scripts/bench-charts.py build/bench/bench.json`.
#
# Run time on a 2-core machine: about 5 minutes, 2 for the table with the default sizes and 2 to
# 3 for the ladder (3 runs of 20 streams of 512M, plus the references); --quick about 30 s.
#
# Environment: LKL_OUT (default build/lkl: bin/lkl-perf), BENCH_RR_N (transactions, default
# 50000; --quick 2000), BENCH_BYTES (stream bytes, default 2G; --quick 64M), BENCH_WARMUP (RR
# warmup transactions, default 1000), BENCH_LADDER_BYTES (ladder stream bytes, default 512M;
# --quick 64M), BENCH_LADDER_RUNS (default 3; --quick 1), BENCH_OUT (JSON, default
# $LKL_BUILD/bench/bench.json).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

out_dir=$(realpath -m "${LKL_OUT:-$LKL_BUILD/lkl}")
perf=$out_dir/bin/lkl-perf
rr_n=${BENCH_RR_N:-50000}
bytes=${BENCH_BYTES:-2G}
warmup=${BENCH_WARMUP:-1000}
ladder_bytes=${BENCH_LADDER_BYTES:-512M}
ladder_runs=${BENCH_LADDER_RUNS:-3}
json_out=${BENCH_OUT:-$LKL_BUILD/bench/bench.json}
rows=host-loopback,host-veth,lkl-loopback,lkl-tap,lkl-raw,lkl-shm
ladder_links=tap,shm
run_table=1
run_ladder=1

while [ $# -gt 0 ]; do
	case $1 in
	--quick)
		rr_n=${BENCH_RR_N:-2000} bytes=${BENCH_BYTES:-64M}
		ladder_bytes=${BENCH_LADDER_BYTES:-64M} ladder_runs=${BENCH_LADDER_RUNS:-1}
		;;
	--out) json_out=$2 && shift ;;
	--rows) rows=$2 && shift ;;
	--no-ladder) run_ladder=0 ;;
	--ladder-only) run_table=0 ;;
	--ladder-links) ladder_links=$2 && shift ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0"
		exit 0
		;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
	shift
done
[ -x "$perf" ] || die "$(show_path "$perf") is missing: run make first"
[ "$run_table" = 1 ] || [ "$run_ladder" = 1 ] || die "--no-ladder and --ladder-only leave nothing to run"
[[ $ladder_runs =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_LADDER_RUNS: expected a count of 1 or more, got \"$ladder_runs\""
start_ms=$(now_ms)

work=$(mktemp -d)
ns_prefix=lklb$$
netns=()
servers=()
cleanup() {
	local pid ns
	for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
	for ns in "${netns[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

have_netdevs() { "$perf" --help | grep -q 'in this build: yes'; }
can_netns() { [ "$(id -u)" = 0 ] && command -v ip >/dev/null; }

# Creates namespace $ns_prefix-$1<n> (deleted on exit; n counts, so that a row can run more
# than once) and names it in $ns.
new_netns() {
	ns=$ns_prefix-$1${#netns[@]}
	ip netns add "$ns"
	netns+=("$ns")
	ip -n "$ns" link set lo up
}

# Row definitions: set server/client or call skip.
skip_reason=
skip() { skip_reason=$1; }

row_host-loopback() { client=("$perf" loopback -s host); }

row_lkl-loopback() { client=("$perf" loopback -s lkl); }

row_host-veth() {
	can_netns || { skip 'needs root and iproute2' && return; }
	local a b
	new_netns srv && a=$ns
	new_netns cli && b=$ns
	ip link add "$ns_prefix-a" netns "$a" type veth peer name "$ns_prefix-b" netns "$b"
	ip -n "$a" addr add 10.77.1.1/24 dev "$ns_prefix-a" && ip -n "$a" link set "$ns_prefix-a" up
	ip -n "$b" addr add 10.77.1.2/24 dev "$ns_prefix-b" && ip -n "$b" link set "$ns_prefix-b" up
	server=(ip netns exec "$a" "$perf" server -s host -B 10.77.1.1)
	client=(ip netns exec "$b" "$perf" client -s host -H 10.77.1.1)
}

row_lkl-tap() {
	can_netns || { skip 'needs root and iproute2' && return; }
	have_netdevs || { skip 'lkl-perf built without network devices' && return; }
	new_netns tap
	ip -n "$ns" tuntap add dev lklbtap0 mode tap
	ip -n "$ns" addr add 10.77.2.1/24 dev lklbtap0 && ip -n "$ns" link set lklbtap0 up
	server=(ip netns exec "$ns" "$perf" server -s lkl --lkl-netdev tap:lklbtap0
		--lkl-ip 10.77.2.2/24 -B 10.77.2.2)
	client=(ip netns exec "$ns" "$perf" client -s host -H 10.77.2.2)
}

row_lkl-raw() {
	can_netns || { skip 'needs root and iproute2' && return; }
	have_netdevs || { skip 'lkl-perf built without network devices' && return; }
	local a b
	new_netns raw && a=$ns
	new_netns rawcli && b=$ns
	ip link add "$ns_prefix-r" netns "$a" type veth peer name "$ns_prefix-c" netns "$b"
	ip -n "$a" link set "$ns_prefix-r" up
	ip -n "$b" addr add 10.77.3.1/24 dev "$ns_prefix-c" && ip -n "$b" link set "$ns_prefix-c" up
	server=(ip netns exec "$a" "$perf" server -s lkl --lkl-netdev "raw:$ns_prefix-r"
		--lkl-ip 10.77.3.2/24 -B 10.77.3.2)
	client=(ip netns exec "$b" "$perf" client -s host -H 10.77.3.2)
}

row_lkl-shm() {
	have_netdevs || { skip 'lkl-perf built without network devices' && return; }
	# Both ends in this network namespace, where they meet on the abstract socket lkl-shm/<name>.
	local link=$ns_prefix-shm
	server=("$perf" server -s lkl --lkl-netdev "shm:$link" --lkl-ip 10.77.4.1/24 -B 10.77.4.1)
	client=("$perf" client -s lkl --lkl-netdev "shm:$link" --lkl-ip 10.77.4.2/24 -H 10.77.4.1)
}

# The three tests of a row, run by one client process: its JSON is an array of their reports, in
# this order (rr, stream, maerts).
tests=(-t TCP_RR -t TCP_STREAM -t TCP_MAERTS -n "$rr_n" -w "$warmup" -b "$bytes")

# Runs the pair of commands set in `server` and `client` (by a row function) with the test
# arguments $2...: writes $work/$1.json (and .err, .server.log).
run_pair() {
	local stem=$1 server_pid='' line wait=()
	shift
	if [ ${#server[@]} -gt 0 ]; then
		"${server[@]}" 2>"$work/$stem.server.log" &
		server_pid=$!
		servers+=("$server_pid")
		# A library server boots and configures its device first: the client retries.
		wait=(--connect-wait 60)
	fi
	if ! "${client[@]}" "$@" "${wait[@]}" --json >"$work/$stem.json" 2>"$work/$stem.err"; then
		# lkl-perf names each failed test on a line of its own; else its last words count.
		if grep -q '^lkl-perf: TCP_' "$work/$stem.err"; then
			while IFS= read -r line; do
				warn "bench: $stem failed: ${line#lkl-perf: }"
			done < <(grep '^lkl-perf: TCP_' "$work/$stem.err")
		else
			warn "bench: $stem failed: $(tail -n 1 "$work/$stem.err")"
		fi
		if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
			warn "bench: $stem server exited: $(tail -n 1 "$work/$stem.server.log")"
		fi
	fi
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
}

# Sets up row $1 (row_$1) and runs it as $work/$2 with the test arguments $3...; or writes the
# reason it cannot run to $work/$2.skip.
run_row() {
	local row=$1 stem=$2
	shift 2
	server=() client=() skip_reason=
	"row_$row"
	if [ -n "$skip_reason" ]; then
		echo "$skip_reason" >"$work/$stem.skip"
		return
	fi
	run_pair "$stem" "$@"
}

# The offload ladder. Offload bits: 1 << LKL_VIRTIO_NET_F_* (<lkl/linux/virtio_net.h>).
# CSUM, GUEST_CSUM:
off_csum=$((1 << 0 | 1 << 1))
# HOST_TSO4/6, HOST_ECN, GUEST_TSO4/6, GUEST_ECN:
off_tso=$((1 << 11 | 1 << 12 | 1 << 13 | 1 << 7 | 1 << 8 | 1 << 9))
# MRG_RXBUF:
off_mrg=$((1 << 15))
# One line per step: name, --lkl-offload mask, --lkl-features (- for none).
ladder_steps="off 0x0 gso=off,gro=off
gso-gro 0x0 -
csum $(printf '%#x' $((off_csum))) -
tso $(printf '%#x' $((off_csum | off_tso))) -
all $(printf '%#x' $((off_csum | off_tso | off_mrg))) -"
# The link of the ladder and the row it is: the library end(s) get the step's options.
declare -A ladder_row=([tap]=lkl-tap [shm]=lkl-shm)

# Runs the ladder's streams for one step over one link, run $5: $work/ladder-<link>-<step>-<run>.*
run_ladder_step() {
	local link=$1 step=$2 mask=$3 features=$4 lkl_args
	local stem=ladder-$link-$step-$5
	lkl_args=(--lkl-offload "$mask")
	[ "$features" = - ] || lkl_args+=(--lkl-features "$features")
	server=() client=() skip_reason=
	"row_${ladder_row[$link]}"
	if [ -n "$skip_reason" ]; then
		echo "$skip_reason" >"$work/$stem.skip"
		return
	fi
	# The library ends: the server always, the client too over shm (library to library).
	server+=("${lkl_args[@]}")
	[ "$link" != shm ] || client+=("${lkl_args[@]}")
	run_pair "$stem" "${ladder_tests[@]}"
}

ladder_tests=(-t TCP_STREAM -t TCP_MAERTS -b "$ladder_bytes")

row_list=()
[ "$run_table" = 0 ] || IFS=, read -r -a row_list <<<"$rows"
for row in "${row_list[@]}"; do
	declare -F "row_$row" >/dev/null || die "unknown row $row (rows: host-loopback host-veth lkl-loopback lkl-tap lkl-raw lkl-shm)"
done
link_list=()
[ "$run_ladder" = 0 ] || IFS=, read -r -a link_list <<<"$ladder_links"
for link in "${link_list[@]}"; do
	[ -n "${ladder_row[$link]:-}" ] || die "unknown ladder link $link (links: tap shm)"
done

for row in "${row_list[@]}"; do
	note "bench: $row"
	run_row "$row" "$row" "${tests[@]}"
done
table_s=$(elapsed "$start_ms")

ladder_ms=$(now_ms)
if [ "$run_ladder" = 1 ]; then
	# Each run goes through every step and the references once: what disturbs one moment of a
	# busy machine falls on one run of several measurements, and the median leaves it out.
	for ((run = 1; run <= ladder_runs; run++)); do
		for ref in host-veth host-loopback; do
			note "bench: ladder run $run/$ladder_runs: reference $ref"
			run_row "$ref" "ladder-ref-$ref-$run" "${ladder_tests[@]}"
		done
		while read -r step mask features; do
			for link in "${link_list[@]}"; do
				note "bench: ladder run $run/$ladder_runs: $link $step (offload $mask, features $features)"
				run_ladder_step "$link" "$step" "$mask" "$features" "$run"
			done
		done <<<"$ladder_steps"
	done
	printf '%s\n' "$ladder_steps" >"$work/ladder.steps"
fi
ladder_s=$(elapsed "$ladder_ms")

mkdir -p "$(dirname "$json_out")"
python3 - "$work" "$json_out" "$ladder_bytes" "$ladder_runs" "${link_list[*]}" "$table_s" \
	"$ladder_s" "${row_list[@]}" <<'EOF'
import json
import os
import platform
import statistics
import sys

work, out, ladder_bytes, ladder_runs, links, table_s, ladder_s = sys.argv[1:8]
rows, links, ladder_runs = sys.argv[8:], links.split(), int(ladder_runs)


def load(stem, tests):
    """The reports of $work/<stem>.json by test (tests: the order of the client's -t list); None
    for a test that failed or did not report."""
    try:
        with open(os.path.join(work, f"{stem}.json")) as f:
            reports = json.load(f)
    except (OSError, ValueError):
        reports = []
    if not isinstance(reports, list):
        reports = []
    return {t: r if isinstance(r, dict) and "error" not in r else None
            for t, r in zip(tests, reports + [None] * len(tests))}


def skipped(stem):
    """The reason $work/<stem> did not run, or None."""
    path = os.path.join(work, f"{stem}.skip")
    return open(path).read().strip() if os.path.exists(path) else None


def ratios(m, ref):
    """> 1 is better than the reference (for latency, the reference's over this one's)."""
    return {k: (ref[k] / v if k.endswith("_us") else v / ref[k])
            for k, v in m.items() if v and ref.get(k)}


def cell(v, fmt, width):
    return f"{fmt.format(v) if v is not None else '-':>{width}}"


# The table: RR, STREAM and MAERTS per row.
results = {}
for row in rows:
    reason = skipped(row)
    results[row] = {"skipped": reason} if reason else load(row, ("rr", "stream", "maerts"))

ran = [r for r in rows if "skipped" not in results[r]]
reference = next((r for r in ("host-veth", "host-loopback") if r in ran), ran[0] if ran else None)


def metrics(r):
    rr, st, ma = r.get("rr"), r.get("stream"), r.get("maerts")
    return {
        "rr_tps": rr and rr["transactions_per_s"],
        "rr_p50_us": rr and rr["latency_us"]["p50"],
        "rr_p99_us": rr and rr["latency_us"]["p99"],
        "stream_gbit_s": st and st["throughput_gbit_s"],
        "maerts_gbit_s": ma and ma["throughput_gbit_s"],
    }


ref = metrics(results[reference]) if reference else {}
table = []
for row in rows:
    r = results[row]
    if "skipped" in r:
        table.append((row, None, r["skipped"]))
        continue
    m = metrics(r)
    r["metrics"], r["ratio_to_reference"] = m, ratios(m, ref)
    table.append((row, m, r["ratio_to_reference"]))

# The ladder: STREAM and MAERTS per step and link, and per reference row.
STREAMS = ("stream", "maerts")


def median(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def streams(stem):
    """STREAM and MAERTS of the runs $work/<stem>-<run>: the median of each, and every run."""
    reason = skipped(f"{stem}-1")
    if reason:
        return {"skipped": reason}
    runs, reports = [], []
    for run in range(1, ladder_runs + 1):
        got = load(f"{stem}-{run}", STREAMS)
        runs.append({f"{t}_gbit_s": got[t] and got[t]["throughput_gbit_s"] for t in STREAMS})
        reports += [got[t] for t in STREAMS]
    return {**{k: median(r[k] for r in runs) for k in runs[0]}, "runs": runs, "reports": reports}


ladder = None
if os.path.exists(os.path.join(work, "ladder.steps")):
    refs = {r: streams(f"ladder-ref-{r}") for r in ("host-veth", "host-loopback")}
    ladder_ref = next((r for r in refs if "skipped" not in refs[r]), None)
    lref = {k: v for k, v in refs[ladder_ref].items() if k.endswith("_s")} if ladder_ref else {}
    steps = []
    for line in open(os.path.join(work, "ladder.steps")):
        name, mask, features = line.split()
        step = {"step": name, "offload": mask,
                "lkl_features": None if features == "-" else features}
        for link in links:
            r = streams(f"ladder-{link}-{name}")
            if "skipped" not in r:
                r["ratio_to_reference"] = ratios(
                    {k: v for k, v in r.items() if k.endswith("_s")}, lref)
                # What the library's device had in effect, from a library client's report.
                stacks = [x["stack"] for x in r["reports"] if x and "features" in x["stack"]]
                if stacks:
                    r["device_features"] = stacks[0]["features"]
            step[link] = r
        steps.append(step)
    ladder = {"bytes_per_stream": ladder_bytes, "runs": ladder_runs, "links": links,
              "reference": ladder_ref, "references": refs, "steps": steps}

report = {
    "machine": {"node": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release()},
    "reference": reference,
    "rows": results,
}
if ladder:
    report["ladder"] = ladder
report["elapsed"] = {"table": table_s, "ladder": ladder_s}
with open(out, "w") as f:
    json.dump(report, f, indent=2)

if rows:
    cols = [("rr_tps", "RR tx/s", "{:.0f}"), ("rr_p50_us", "p50 us", "{:.1f}"),
            ("rr_p99_us", "p99 us", "{:.1f}"), ("stream_gbit_s", "STREAM Gb/s", "{:.2f}"),
            ("maerts_gbit_s", "MAERTS Gb/s", "{:.2f}")]
    print(f"reference: {reference}; ratio > 1 means better than the reference ({table_s})")
    head = f"{'row':<14}" + "".join(f"{c[1]:>13}{'ratio':>7}" for c in cols)
    print(head)
    print("-" * len(head))
    for row, m, ratio in table:
        if m is None:
            print(f"{row:<14}  skipped: {ratio}")
            continue
        cells = ""
        for key, _, fmt in cols:
            cells += cell(m.get(key), fmt, 13)
            cells += f"{ratio[key]:>7.2f}" if key in ratio else f"{'-':>7}"
        print(f"{row:<14}{cells}")

if ladder:
    if rows:
        print()
    print(f"offload ladder: TCP_STREAM Gb/s, {ladder_bytes} per stream, median of {ladder_runs} "
          f"run(s); ratio to {ladder_ref} ({ladder_s})")
    print("  tap: library server on TAP, host client: STREAM host->library, MAERTS library->host")
    print("  shm: library client -> library server over the shared-memory link")
    head = f"{'step':<14}{'offload':>8}  {'features':<16}" + "".join(
        f"{link + ' ' + t.upper():>13}{'ratio':>7}" for link in links for t in STREAMS)
    print(head)
    print("-" * len(head))
    for r in ("host-veth", "host-loopback"):
        x = refs[r]
        if "skipped" in x:
            print(f"{r:<14}  skipped: {x['skipped']}")
            continue
        cells = "".join(cell(x[f"{t}_gbit_s"], "{:.2f}", 13) + f"{'':>7}"
                        for _ in links for t in STREAMS)
        print(f"{r:<14}{'host':>8}  {'':<16}{cells}")
    notes = {}  # each reason a link was skipped, once
    for step in steps:
        cells = ""
        for link in links:
            r = step[link]
            if "skipped" in r:
                notes.setdefault(f"{link} skipped: {r['skipped']}", None)
            for t in STREAMS:
                v, rt = r.get(f"{t}_gbit_s"), r.get("ratio_to_reference", {}).get(f"{t}_gbit_s")
                cells += cell(v, "{:.2f}", 13) + (f"{rt:>7.2f}" if rt else f"{'-':>7}")
        print(f"{step['step']:<14}{step['offload']:>8}  {step['lkl_features'] or '-':<16}{cells}")
    for n in notes:
        print(f"  {n}")
print(f"JSON: {out}")
EOF

# The charts, when matplotlib is there (Debian's is for the system's python3, which another one
# on PATH may hide); never a reason to fail the run.
chart_python=
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import matplotlib' 2>/dev/null; then
		chart_python=$py
		break
	fi
done
if [ -n "$chart_python" ]; then
	"$chart_python" "$LKL_ROOT/scripts/bench-charts.py" "$json_out" ||
		warn "bench: the charts failed (the tables and the JSON are complete)"
else
	note "charts skipped: matplotlib is missing (Debian: apt-get install python3-matplotlib," \
		"or scripts/install-deps.sh --bench)"
fi
note "bench: done in $(elapsed "$start_ms")"
