#!/usr/bin/env bash
# Benchmarks: TCP_RR and TCP_STREAM (both directions) with lkl-perf over every path this build
# and machine can run, in one run, printed as a table of ratios to a reference row and written
# as JSON. `make bench` runs it; not part of `make test`.
#
#   scripts/bench.sh [--quick] [--out FILE] [--rows a,b,...]
#
# Rows (each skipped, with the reason, when it cannot run here):
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
# Environment: LKL_OUT (default build/lkl: bin/lkl-perf), BENCH_RR_N (transactions, default
# 50000; --quick 2000), BENCH_BYTES (stream bytes, default 2G; --quick 64M), BENCH_WARMUP (RR
# warmup transactions, default 1000), BENCH_OUT (JSON, default $LKL_BUILD/bench/bench.json).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

out_dir=$(realpath -m "${LKL_OUT:-$LKL_BUILD/lkl}")
perf=$out_dir/bin/lkl-perf
rr_n=${BENCH_RR_N:-50000}
bytes=${BENCH_BYTES:-2G}
warmup=${BENCH_WARMUP:-1000}
json_out=${BENCH_OUT:-$LKL_BUILD/bench/bench.json}
rows=host-loopback,host-veth,lkl-loopback,lkl-tap,lkl-raw,lkl-shm

while [ $# -gt 0 ]; do
	case $1 in
	--quick) rr_n=${BENCH_RR_N:-2000} bytes=${BENCH_BYTES:-64M} ;;
	--out) json_out=$2 && shift ;;
	--rows) rows=$2 && shift ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0"
		exit 0
		;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
	shift
done
[ -x "$perf" ] || die "$(show_path "$perf") is missing: run make first"

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

# Creates namespace $ns_prefix-$1 (deleted on exit) and names it in $ns.
new_netns() {
	ns=$ns_prefix-$1
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

# Runs one row: writes $work/<row>.json (and .err), or $work/<row>.skip.
run_row() {
	local row=$1 server_pid='' line wait=()
	server=() client=() skip_reason=
	"row_$row"
	if [ -n "$skip_reason" ]; then
		echo "$skip_reason" >"$work/$row.skip"
		return
	fi
	if [ ${#server[@]} -gt 0 ]; then
		"${server[@]}" 2>"$work/$row.server.log" &
		server_pid=$!
		servers+=("$server_pid")
		# A library server boots and configures its device first: the client retries.
		wait=(--connect-wait 60)
	fi
	if ! "${client[@]}" "${tests[@]}" "${wait[@]}" --json >"$work/$row.json" 2>"$work/$row.err"; then
		# lkl-perf names each failed test on a line of its own; else its last words count.
		if grep -q '^lkl-perf: TCP_' "$work/$row.err"; then
			while IFS= read -r line; do
				warn "bench: $row failed: ${line#lkl-perf: }"
			done < <(grep '^lkl-perf: TCP_' "$work/$row.err")
		else
			warn "bench: $row failed: $(tail -n 1 "$work/$row.err")"
		fi
		if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
			warn "bench: $row server exited: $(tail -n 1 "$work/$row.server.log")"
		fi
	fi
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
}

IFS=, read -r -a row_list <<<"$rows"
for row in "${row_list[@]}"; do
	declare -F "row_$row" >/dev/null || die "unknown row $row (rows: host-loopback host-veth lkl-loopback lkl-tap lkl-raw lkl-shm)"
	note "bench: $row"
	run_row "$row"
done

mkdir -p "$(dirname "$json_out")"
python3 - "$work" "$json_out" "${row_list[@]}" <<'EOF'
import json
import os
import platform
import sys

work, out, rows = sys.argv[1], sys.argv[2], sys.argv[3:]


TESTS = ("rr", "stream", "maerts")  # the order of the client's -t list


def load(row):
    """The row's reports by test; None for a test that failed or did not report."""
    try:
        with open(os.path.join(work, f"{row}.json")) as f:
            reports = json.load(f)
    except (OSError, ValueError):
        reports = []
    if not isinstance(reports, list):
        reports = []
    return {t: r if isinstance(r, dict) and "error" not in r else None
            for t, r in zip(TESTS, reports + [None] * len(TESTS))}


results = {}
for row in rows:
    skip = os.path.join(work, f"{row}.skip")
    if os.path.exists(skip):
        results[row] = {"skipped": open(skip).read().strip()}
        continue
    results[row] = load(row)

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
    # Ratios: > 1 is better than the reference (for latency, the reference's over this row's).
    ratio = {}
    for k, v in m.items():
        rv = ref.get(k)
        if v and rv:
            ratio[k] = rv / v if k.endswith("_us") else v / rv
    r["metrics"], r["ratio_to_reference"] = m, ratio
    table.append((row, m, ratio))

report = {
    "machine": {"node": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release()},
    "reference": reference,
    "rows": results,
}
with open(out, "w") as f:
    json.dump(report, f, indent=2)

cols = [("rr_tps", "RR tx/s", "{:.0f}"), ("rr_p50_us", "p50 us", "{:.1f}"),
        ("rr_p99_us", "p99 us", "{:.1f}"), ("stream_gbit_s", "STREAM Gb/s", "{:.2f}"),
        ("maerts_gbit_s", "MAERTS Gb/s", "{:.2f}")]
print(f"reference: {reference}; ratio > 1 means better than the reference")
head = f"{'row':<14}" + "".join(f"{c[1]:>13}{'ratio':>7}" for c in cols)
print(head)
print("-" * len(head))
for row, m, ratio in table:
    if m is None:
        print(f"{row:<14}  skipped: {ratio}")
        continue
    cells = ""
    for key, _, fmt in cols:
        v = m.get(key)
        cells += f"{fmt.format(v) if v is not None else '-':>13}"
        cells += f"{ratio[key]:>7.2f}" if key in ratio else f"{'-':>7}"
    print(f"{row:<14}{cells}")
print(f"JSON: {out}")
EOF
