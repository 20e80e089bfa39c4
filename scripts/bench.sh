#!/usr/bin/env bash
# Benchmarks: TCP_RR and TCP_STREAM (both directions) with lkl-perf over every path this build
# and machine can run, in one run, printed as a table of ratios to a reference row and written
# as JSON; then the offload ladder (TCP_STREAM both ways as the library's offloads are added one
# by one), and two charts; then the system-call table (below); then the RR ladder (TCP_RR
# latency library to library as the ways into the kernel are added, below). `make bench` runs
# it; not part of `make test`.
#
#   scripts/bench.sh [--quick] [--out FILE] [--rows a,b,...] [--no-ladder | --ladder-only]
#                    [--ladder-links tap,shm] [--no-syscall | --syscall] [--tick]
#                    [--no-rr-ladder | --rr-ladder]
#
# Sections: the table, the ladder, the system-call table and the RR ladder by default;
# --ladder-only, --syscall (the system-call table only), --tick (the system-call table and the
# tick modes) and --rr-ladder run only the sections they name (several may be given);
# --no-ladder, --no-syscall and --no-rr-ladder leave one out.
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
# The system-call table: GETPID, PIPE_READ and TCP_RR over the library's own loopback (lkl-perf
# loopback -t GETPID,PIPE_READ,TCP_RR -l BENCH_SYSCALL_SECONDS), the median of BENCH_SYSCALL_RUNS
# runs (each run goes through every row), ratios to the host kernel, in these rows:
#   host            the host kernel (host loopback)
#   shadow          --lkl-syscall shadow --lkl-pin off: each call is handed to a kernel thread
#   shadow+pin      and --lkl-pin auto: the library's threads on the last CPU of this process
#   shadow+pin+app  and the whole benchmark on that CPU too (taskset)
#   direct          --lkl-syscall direct --lkl-pin off: the calling thread runs the call
#   direct+pin      and --lkl-pin auto
# Kernels without lkl.syscall= or lkl.pin_cpu= ignore them: their rows then repeat shadow's.
# Output: $BENCH_SYSCALL_OUT (JSON, with the machine: CPUs, model, host kernel, load averages,
# HZ and tick mode of each kernel) and syscall.png next to it (grouped bars, log scale, the
# ratio to the host on each bar).
#
# The RR ladder: 1-byte TCP_RR, library to library over the shared-memory link (the lkl-shm row:
# two lkl-perf processes in this network namespace), for BENCH_RR_LADDER_SECONDS per run, the
# median of BENCH_RR_LADDER_RUNS runs (each run goes through the references and every step), in
# six steps, both ends configured alike:
#   shadow           --lkl-syscall shadow --lkl-pin off, boot parameter lkl.direct_irq=0
#   shadow+pin       --lkl-syscall shadow, the server's library threads pinned to the first CPU
#                    this process may use, the client's to the last (--lkl-pin N; one CPU: both
#                    on it), lkl.direct_irq=0
#   direct           --lkl-syscall direct --lkl-pin off, lkl.direct_irq=0
#   direct+busy      and --lkl-busy-poll BENCH_RR_LADDER_BUSY_US (default 50) on both devices
#   direct+busy+irq  and lkl.direct_irq=1 (the kernel's default: the device thread runs the
#                    interrupt and the NAPI poll itself when the library's CPU is free)
#   direct+busy_read --lkl-syscall direct, lkl.direct_irq=1, no device busy polling, and the
#                    kernel's socket busy polling instead: net.core.busy_read
#                    BENCH_RR_LADDER_BUSY_READ_US (default 200): a recv() with nothing to read
#                    polls the device's NAPI context itself (the calling thread, with the CPU)
#                    for up to that long before it sleeps; in every round cpu_relax() (the
#                    relax host operation) takes frames from the backend on that thread when
#                    the device thread is not at it, or else offers the host CPU
# with host-veth and host-loopback TCP_RR, measured in the same run, as the references. Printed
# as a table (p50, p99, transactions/s, p50 over host veth's) with the target "p50 <= 1.0x host
# veth p50" for the two busy-polling steps (a warning when missed, not a failure); in $BENCH_OUT as
# "rr_ladder" (--rr-ladder alone: replaced in the $BENCH_OUT there is, the other sections left
# as they were), and rr-ladder.png next to it (p50 bars, p99 error bars, host veth as a line).
# A kernel without lkl.direct_irq ignores it (the report's stack.observed.boot_params shows null
# for it and the table says so): its steps then differ by the other options only.
#
# --tick: the same kernel built with the other tick mode (defconfig's NO_HZ_IDLE or
# HZ_PERIODIC; `make host FRAGMENT=hz-periodic` or nohz-idle into build/lkl-<fragment>, built
# here when missing or stale, with LKL_JOBS jobs) against the default one, each in shadow and
# direct mode: the idle cost (-t IDLE for BENCH_TICK_IDLE_SECONDS: the library's timer
# interrupts per second, host context switches per second, the process's CPU time) and the
# wake-up cost (nanosleep(100 us) lateness, GETPID, TCP_RR); in the JSON's "tick" and a table.
#
# Run time on a 2-core machine: about 5 minutes, 2 for the table with the default sizes and 2 to
# 3 for the ladder (3 runs of 20 streams of 512M, plus the references), about 1 for the
# system-call table, 1.5 for the RR ladder (3 runs of 8 rows of 3 s); --quick about 1 minute;
# --tick 2 more minutes (plus the build of the second kernel the first time: a few minutes,
# less with ccache).
#
# Environment: LKL_OUT (default build/lkl: bin/lkl-perf), BENCH_RR_N (transactions, default
# 50000; --quick 2000), BENCH_BYTES (stream bytes, default 2G; --quick 64M), BENCH_WARMUP (RR
# warmup transactions, default 1000), BENCH_LADDER_BYTES (ladder stream bytes, default 512M;
# --quick 64M), BENCH_LADDER_RUNS (default 3; --quick 1), BENCH_OUT (JSON, default
# $LKL_BUILD/bench/bench.json), BENCH_SYSCALL_RUNS (default 3; --quick 1),
# BENCH_SYSCALL_SECONDS (per test and run, default 1; --quick 0.3), BENCH_SYSCALL_OUT (default
# syscall.json next to BENCH_OUT), BENCH_TICK_IDLE_SECONDS (default 10; --quick 2),
# BENCH_RR_LADDER_RUNS (default 3; --quick 1), BENCH_RR_LADDER_SECONDS (TCP_RR per row and run,
# after BENCH_WARMUP transactions, default 3; --quick 1), BENCH_RR_LADDER_BUSY_US (default 50),
# LKL_JOBS (build jobs for --tick's kernel; make bench passes JOBS).
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
syscall_runs=${BENCH_SYSCALL_RUNS:-3}
syscall_s=${BENCH_SYSCALL_SECONDS:-1}
idle_s=${BENCH_TICK_IDLE_SECONDS:-10}
rrl_runs=${BENCH_RR_LADDER_RUNS:-3}
rrl_s=${BENCH_RR_LADDER_SECONDS:-3}
rrl_busy=${BENCH_RR_LADDER_BUSY_US:-50}
rrl_busy_read=${BENCH_RR_LADDER_BUSY_READ_US:-200}
rows=host-loopback,host-veth,lkl-loopback,lkl-tap,lkl-raw,lkl-shm
ladder_links=tap,shm
only=() # the sections named by --ladder-only, --syscall, --tick
no_ladder=0 no_syscall=0 no_rr_ladder=0

while [ $# -gt 0 ]; do
	case $1 in
	--quick)
		rr_n=${BENCH_RR_N:-2000} bytes=${BENCH_BYTES:-64M}
		ladder_bytes=${BENCH_LADDER_BYTES:-64M} ladder_runs=${BENCH_LADDER_RUNS:-1}
		syscall_runs=${BENCH_SYSCALL_RUNS:-1} syscall_s=${BENCH_SYSCALL_SECONDS:-0.3}
		idle_s=${BENCH_TICK_IDLE_SECONDS:-2}
		rrl_runs=${BENCH_RR_LADDER_RUNS:-1} rrl_s=${BENCH_RR_LADDER_SECONDS:-1}
		;;
	--out) json_out=$2 && shift ;;
	--rows) rows=$2 && shift ;;
	--no-ladder) no_ladder=1 ;;
	--ladder-only) only+=(ladder) ;;
	--ladder-links) ladder_links=$2 && shift ;;
	--no-syscall) no_syscall=1 ;;
	--syscall) only+=(syscall) ;;
	--tick) only+=(syscall tick) ;;
	--rr-ladder) only+=(rr_ladder) ;;
	--no-rr-ladder) no_rr_ladder=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0"
		exit 0
		;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
	shift
done
[ -x "$perf" ] || die "$(show_path "$perf") is missing: run make first"
run_table=1 run_ladder=1 run_syscall=1 run_tick=0 run_rr_ladder=1
if [ ${#only[@]} -gt 0 ]; then
	run_table=0 run_ladder=0 run_syscall=0 run_rr_ladder=0
	for section in "${only[@]}"; do printf -v "run_$section" 1; done
fi
[ "$no_ladder" = 0 ] || run_ladder=0
[ "$no_syscall" = 0 ] || run_syscall=0 run_tick=0
[ "$no_rr_ladder" = 0 ] || run_rr_ladder=0
[ "$run_table$run_ladder$run_syscall$run_rr_ladder" != 0000 ] ||
	die "the options given leave nothing to run"
[[ $ladder_runs =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_LADDER_RUNS: expected a count of 1 or more, got \"$ladder_runs\""
[[ $syscall_runs =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_SYSCALL_RUNS: expected a count of 1 or more, got \"$syscall_runs\""
[[ $rrl_runs =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_RR_LADDER_RUNS: expected a count of 1 or more, got \"$rrl_runs\""
[[ $rrl_busy =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_RR_LADDER_BUSY_US: expected microseconds above 0, got \"$rrl_busy\""
[[ $rrl_busy_read =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_RR_LADDER_BUSY_READ_US: expected microseconds above 0, got \"$rrl_busy_read\""
positive_seconds() { [[ $1 =~ ^[0-9]*\.?[0-9]+$ && ! $1 =~ ^[0.]*$ ]]; }
positive_seconds "$syscall_s" ||
	die "BENCH_SYSCALL_SECONDS: expected seconds above 0, got \"$syscall_s\""
positive_seconds "$idle_s" ||
	die "BENCH_TICK_IDLE_SECONDS: expected seconds above 0, got \"$idle_s\""
positive_seconds "$rrl_s" ||
	die "BENCH_RR_LADDER_SECONDS: expected seconds above 0, got \"$rrl_s\""
syscall_out=${BENCH_SYSCALL_OUT:-$(dirname "$json_out")/syscall.json}
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

# The charts of a JSON of this script, when matplotlib is there (Debian's is for the system's
# python3, which another one on PATH may hide); never a reason to fail the run.
chart_python=
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import matplotlib' 2>/dev/null; then
		chart_python=$py
		break
	fi
done
draw_charts() {
	if [ -n "$chart_python" ]; then
		"$chart_python" "$LKL_ROOT/scripts/bench-charts.py" "$1" ||
			warn "bench: the charts failed (the tables and the JSON are complete)"
	else
		note "charts skipped: matplotlib is missing (Debian: apt-get install python3-matplotlib," \
			"or scripts/install-deps.sh --bench)"
	fi
}

if [ "$run_table$run_ladder" != 00 ]; then
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
	# With the RR ladder to come, its section adds to the JSON and draws the charts.
	[ "$run_rr_ladder" = 1 ] || draw_charts "$json_out"
fi

# The system-call table, then (--tick) the two tick modes.
if [ "$run_syscall" = 1 ]; then
	syscall_ms=$(now_ms)
	# The last CPU this process may run on: where --lkl-pin auto puts the library's threads.
	last_cpu=$(python3 -c 'import os; print(max(os.sched_getaffinity(0)))')
	# One process per row and run, three tests each, each for the same time.
	syscall_tests=(-t GETPID -t PIPE_READ -t TCP_RR -l "$syscall_s")
	syscall_rows=(host shadow shadow+pin shadow+pin+app direct direct+pin)

	# The lkl-perf command of a row (in `cmd`), before its test arguments; or a skip reason.
	syscall_cmd() {
		local perf=$2
		cmd=("$perf" loopback -s lkl) skip_reason=
		case $1 in
		host) cmd=("$perf" loopback -s host) ;;
		shadow) cmd+=(--lkl-syscall shadow --lkl-pin off) ;;
		shadow+pin) cmd+=(--lkl-syscall shadow --lkl-pin auto) ;;
		shadow+pin+app)
			if command -v taskset >/dev/null; then
				cmd=(taskset -c "$last_cpu" "${cmd[@]}" --lkl-syscall shadow --lkl-pin "$last_cpu")
			else
				skip 'needs taskset (util-linux)'
			fi
			;;
		direct) cmd+=(--lkl-syscall direct --lkl-pin off) ;;
		direct+pin) cmd+=(--lkl-syscall direct --lkl-pin auto) ;;
		esac
	}

	# Runs an lkl-perf command ($2...) with --json into $work/$1.json, or says why it failed.
	run_perf() {
		local stem=$1
		shift
		if ! "$@" --json >"$work/$stem.json" 2>"$work/$stem.err"; then
			warn "bench: $stem failed: $(grep '^lkl-perf: ' "$work/$stem.err" | tail -n 1 ||
				tail -n 1 "$work/$stem.err")"
		fi
	}

	loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
	loadavg >"$work/sys-loadavg-before"
	for ((run = 1; run <= syscall_runs; run++)); do
		loadavg >"$work/sys-run$run-loadavg-before"
		for row in "${syscall_rows[@]}"; do
			note "bench: system calls run $run/$syscall_runs: $row"
			syscall_cmd "$row" "$perf"
			if [ -n "$skip_reason" ]; then
				echo "$skip_reason" >"$work/sys-$row.skip"
				continue
			fi
			run_perf "sys-$row-$run" "${cmd[@]}" "${syscall_tests[@]}"
		done
		loadavg >"$work/sys-run$run-loadavg-after"
	done

	# The kernels: this build's, and with --tick the same tree with the other tick mode.
	# Their object dir holds their .config: build/lkl[-asan][-variant] -> build/kobj[-variant].
	kobj_of() {
		local name variant
		name=$(basename "$(dirname "$(dirname "$1")")")
		variant=${name#lkl}
		variant=${variant#-asan}
		printf '%s\n' "$LKL_BUILD/kobj$variant"
	}
	tick_mode() {
		if grep -qx 'CONFIG_HZ_PERIODIC=y' "$1/.config" 2>/dev/null; then
			echo periodic
		elif grep -qx 'CONFIG_NO_HZ_IDLE=y' "$1/.config" 2>/dev/null; then
			echo nohz-idle
		elif grep -qx 'CONFIG_NO_HZ_FULL=y' "$1/.config" 2>/dev/null; then
			echo nohz-full
		else
			echo unknown
		fi
	}
	kernels=("$perf")
	kernel_kobjs=("$(kobj_of "$perf")")
	if [ "$run_tick" = 1 ]; then
		case $(tick_mode "${kernel_kobjs[0]}") in
		periodic) fragment=nohz-idle ;;
		*) fragment=hz-periodic ;;
		esac
		note "bench: tick modes: building the kernel with $fragment.config (make host FRAGMENT=$fragment)"
		# A make of its own: not the one that may have started this script.
		MAKEFLAGS='' make -C "$LKL_ROOT" BUILD="$LKL_BUILD" FRAGMENT="$fragment" \
			${LKL_JOBS:+JOBS="$LKL_JOBS"} host || die "the $fragment kernel did not build"
		kernels+=("$LKL_BUILD/lkl-$fragment/bin/lkl-perf")
		kernel_kobjs+=("$LKL_BUILD/kobj-$fragment")
		tick_tests=(-t SLEEP -t GETPID -t TCP_RR -l "$syscall_s" --sleep-us 100)
		for ((run = 1; run <= syscall_runs; run++)); do
			loadavg >"$work/tick-run$run-loadavg-before"
			run_perf "tick-host-$run" "$perf" loopback -s host "${tick_tests[@]}"
			for k in "${!kernels[@]}"; do
				note "bench: tick modes run $run/$syscall_runs: $(tick_mode "${kernel_kobjs[$k]}") kernel: idle ${idle_s}s, shadow, direct"
				run_perf "tick-k$k-idle-$run" "${kernels[$k]}" loopback -s lkl -t IDLE -l "$idle_s"
				for mode in shadow direct; do
					run_perf "tick-k$k-$mode-$run" "${kernels[$k]}" loopback -s lkl \
						--lkl-syscall "$mode" --lkl-pin off "${tick_tests[@]}"
				done
			done
			loadavg >"$work/tick-run$run-loadavg-after"
		done
	fi
	loadavg >"$work/sys-loadavg-after"
	for k in "${!kernels[@]}"; do
		kobj=${kernel_kobjs[$k]}
		printf '%s\t%s\t%s\t%s\n' "$(show_path "${kernels[$k]}")" "$(tick_mode "$kobj")" \
			"$(sed -n 's/^CONFIG_HZ=//p' "$kobj/.config" 2>/dev/null)" "$(show_path "$kobj")"
	done >"$work/kernels.tsv"

	mkdir -p "$(dirname "$syscall_out")"
	python3 - "$work" "$syscall_out" "$syscall_runs" "$syscall_s" "$idle_s" "$run_tick" \
		"$last_cpu" "$(elapsed "$syscall_ms")" "${syscall_rows[@]}" <<'EOF'
import json
import os
import platform
import statistics
import sys

work, out, runs, seconds, idle_s, tick, last_cpu, elapsed = sys.argv[1:9]
rows, runs = sys.argv[9:], int(runs)
TESTS = ("GETPID", "PIPE_READ", "TCP_RR")


def read(name):
    path = os.path.join(work, name)
    return open(path).read().strip() if os.path.exists(path) else None


def reports(stem):
    """The reports of $work/<stem>.json by test name (failed ones left out)."""
    try:
        with open(os.path.join(work, f"{stem}.json")) as f:
            got = json.load(f)
    except (OSError, ValueError):
        return {}
    got = got if isinstance(got, list) else [got]
    return {r["test"]: r for r in got if isinstance(r, dict) and "error" not in r}


def figures(r):
    """The figures of a row or kernel from one run's reports: ns per call (TCP_RR: per
    transaction, and transactions/s), p99s, host context switches per call."""
    f = {}
    for test, key in (("GETPID", "getpid"), ("PIPE_READ", "pipe_read")):
        if test in r:
            f[f"{key}_ns"] = r[test]["ns_per_call"]["mean"]
            f[f"{key}_p99_ns"] = r[test]["ns_per_call"]["p99"]
            f[f"{key}_switches"] = r[test].get("host_switches_per_call")
    if "TCP_RR" in r:
        f["tcp_rr_ns"] = r["TCP_RR"]["latency_us"]["mean"] * 1000
        f["tcp_rr_p99_ns"] = r["TCP_RR"]["latency_us"]["p99"] * 1000
        f["tcp_rr_tps"] = r["TCP_RR"]["transactions_per_s"]
    if "SLEEP" in r:
        late = r["SLEEP"]["lateness_us"]
        f.update(sleep_late_p50_us=late["p50"], sleep_late_p99_us=late["p99"],
                 sleep_late_mean_us=late["mean"])
    if "IDLE" in r:
        i = r["IDLE"]
        f.update(idle_timer_irqs_per_s=i.get("timer_interrupts_per_s"),
                 idle_switches_per_s=i.get("host_switches_per_s"),
                 idle_cpu_percent=i.get("cpu_percent"))
    return f


def median_of(stems):
    """Per figure, the median over the runs that have it; and every run's figures."""
    per_run = [figures(reports(s)) for s in stems]
    keys = sorted({k for f in per_run for k in f})
    med = {}
    for k in keys:
        v = [f[k] for f in per_run if f.get(k) is not None]
        med[k] = statistics.median(v) if v else None
    return med, per_run


def stack_of(stem):
    """What lkl-perf said of the stack (mode and pinning asked for, what was observed)."""
    for r in reports(stem).values():
        return r.get("stack")
    return None


def loadavgs(prefix):
    return [{"run": n, "before": read(f"{prefix}-run{n}-loadavg-before"),
             "after": read(f"{prefix}-run{n}-loadavg-after")} for n in range(1, runs + 1)]


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


kernels = []
for line in (read("kernels.tsv") or "").splitlines():
    perf, mode, hz, kobj = line.split("\t")
    kernels.append({"lkl_perf": perf, "tick_mode": mode, "hz": int(hz) if hz else None,
                    "config": f"{kobj}/.config"})

table = {}
for row in rows:
    reason = read(f"sys-{row}.skip")
    if reason:
        table[row] = {"skipped": reason}
        continue
    med, per_run = median_of([f"sys-{row}-{n}" for n in range(1, runs + 1)])
    table[row] = {"median": med, "runs": per_run, "stack": stack_of(f"sys-{row}-1")}
host = table.get("host", {}).get("median", {})
shadow = table.get("shadow", {}).get("median", {})
COLS = ("getpid_ns", "pipe_read_ns", "tcp_rr_ns")
for row, t in table.items():
    m = t.get("median")
    if m is None:
        continue
    t["ratio_to_host"] = {k: m[k] / host[k] for k in COLS if m.get(k) and host.get(k)}
    t["speedup_over_shadow"] = {k: shadow[k] / m[k] for k in COLS
                                if m.get(k) and shadow.get(k)}

report = {
    "machine": {
        "node": platform.node(), "cpus": os.cpu_count(),
        "cpus_allowed": sorted(os.sched_getaffinity(0)), "model": cpu_model(),
        "host_kernel": platform.release(), "pin_cpu_auto": int(last_cpu),
        "loadavg_before": read("sys-loadavg-before"), "loadavg_after": read("sys-loadavg-after"),
    },
    "kernels": kernels,
    "runs": runs,
    "seconds_per_test": float(seconds),
    "rows": table,
    "loadavg_per_run": loadavgs("sys"),
}

tick_report = None
if tick == "1":
    tick_report = {"idle_seconds": float(idle_s), "kernels": [], "loadavg_per_run": loadavgs("tick")}
    tick_report["host"] = dict(zip(("median", "runs"),
                                   median_of([f"tick-host-{n}" for n in range(1, runs + 1)])))
    for k, kernel in enumerate(kernels):
        entry = {**kernel}
        entry["idle"] = dict(zip(("median", "runs"), median_of(
            [f"tick-k{k}-idle-{n}" for n in range(1, runs + 1)])))
        for mode in ("shadow", "direct"):
            entry[mode] = dict(zip(("median", "runs"), median_of(
                [f"tick-k{k}-{mode}-{n}" for n in range(1, runs + 1)])))
        tick_report["kernels"].append(entry)
    report["tick"] = tick_report
report["elapsed"] = elapsed

with open(out, "w") as f:
    json.dump(report, f, indent=2)


def cell(v, fmt, width):
    return f"{fmt.format(v) if v is not None else '-':>{width}}"


m = report["machine"]
print(f"\nsystem calls: {m['cpus']} CPUs ({m['model']}), host {m['host_kernel']}, load "
      f"{m['loadavg_before']} -> {m['loadavg_after']}; library: "
      + ", ".join(f"{k['tick_mode']} HZ={k['hz']}" for k in kernels[:1])
      + f"; median of {runs} run(s) of {seconds} s per test ({elapsed})")
print("  ns per call (TCP_RR: us per transaction over the library's loopback; host: host's);"
      " xhost: times the host's; /sh: shadow's over this row's (> 1: faster than shadow);"
      " sw/getpid: host context switches per getpid")
head = (f"{'row':<16}" + "".join(f"{n:>14}{'xhost':>7}{'/sh':>8}" for n in
                                 ("GETPID ns", "PIPE_READ ns", "TCP_RR us"))
        + f"{'RR tx/s':>9}{'sw/getpid':>10}")
print(head)
print("-" * len(head))
for row, t in table.items():
    if "skipped" in t:
        print(f"{row:<16}  skipped: {t['skipped']}")
        continue
    med, ratio, speed = t["median"], t["ratio_to_host"], t["speedup_over_shadow"]
    cells = ""
    for k, scale, fmt in (("getpid_ns", 1, "{:.0f}"), ("pipe_read_ns", 1, "{:.0f}"),
                          ("tcp_rr_ns", 1000, "{:.1f}")):
        v = med.get(k)
        cells += cell(v / scale if v is not None else None, fmt, 14)
        cells += cell(ratio.get(k), "{:.1f}", 7)
        cells += cell(speed.get(k) if row not in ("host", "shadow") else None, "{:.2f}", 8)
    cells += cell(med.get("tcp_rr_tps"), "{:.0f}", 9)
    cells += cell(med.get("getpid_switches"), "{:.1f}", 10)
    print(f"{row:<16}{cells}")
# The targets of the design (warnings, not failures).
direct = table.get("direct", {}).get("ratio_to_host", {}).get("getpid_ns")
if direct is not None:
    print(f"  target direct GETPID <= 1.0x host: {direct:.2f}x "
          f"{'met' if direct <= 1.0 else 'MISSED'}")
pinned = table.get("shadow+pin", {}).get("speedup_over_shadow", {}).get("getpid_ns")
if pinned is not None:
    print(f"  target shadow+pin >= 2x faster than shadow (GETPID): {pinned:.2f}x "
          f"{'met' if pinned >= 2.0 else 'MISSED'}")
notes = {n for t in table.values() for n in
         ((t.get("stack") or {}).get("observed") or {}).get("kernel_notes", [])}
if not notes:
    print("  (the kernel logged nothing about lkl.syscall= or lkl.pin_cpu=: see each row's"
          " stack.observed in the JSON for the threads' CPUs)")

if tick_report:
    print(f"\ntick modes: idle {idle_s} s, then SLEEP (nanosleep 100 us), GETPID, TCP_RR for "
          f"{seconds} s each; median of {runs} run(s); idle figures per kernel")
    head = (f"{'kernel':<22}{'mode':<8}{'idle irq/s':>11}{'wakeups/s':>10}{'CPU %':>7}"
            f"{'late p50':>9}{'p99 us':>8}{'GETPID ns':>10}{'TCP_RR us':>10}{'sw/getpid':>10}")
    print(head)
    print("-" * len(head))
    hm = tick_report["host"]["median"]
    print(f"{'host':<22}{'':<8}{'':>11}{'':>10}{'':>7}"
          + cell(hm.get("sleep_late_p50_us"), "{:.1f}", 9)
          + cell(hm.get("sleep_late_p99_us"), "{:.1f}", 8)
          + cell(hm.get("getpid_ns"), "{:.0f}", 10)
          + cell(hm["tcp_rr_ns"] / 1000 if hm.get("tcp_rr_ns") else None, "{:.1f}", 10)
          + cell(hm.get("getpid_switches"), "{:.1f}", 10))
    for k in tick_report["kernels"]:
        idle = k["idle"]["median"]
        for mode in ("shadow", "direct"):
            m = k[mode]["median"]
            print(f"{k['tick_mode'] + ' HZ=' + str(k['hz']):<22}{mode:<8}"
                  + cell(idle.get("idle_timer_irqs_per_s"), "{:.1f}", 11)
                  + cell(idle.get("idle_switches_per_s"), "{:.1f}", 10)
                  + cell(idle.get("idle_cpu_percent"), "{:.2f}", 7)
                  + cell(m.get("sleep_late_p50_us"), "{:.1f}", 9)
                  + cell(m.get("sleep_late_p99_us"), "{:.1f}", 8)
                  + cell(m.get("getpid_ns"), "{:.0f}", 10)
                  + cell(m["tcp_rr_ns"] / 1000 if m.get("tcp_rr_ns") else None, "{:.1f}", 10)
                  + cell(m.get("getpid_switches"), "{:.1f}", 10))
    print("  idle irq/s: the library's timer interrupts; wakeups/s: host context switches of the"
          " process;\n  CPU %: of one CPU; late: nanosleep(100 us) returned this much later (us)")
print(f"JSON: {out}")
EOF
	draw_charts "$syscall_out"
fi
# The RR ladder: TCP_RR library to library over the shared-memory link, step by step.
if [ "$run_rr_ladder" = 1 ]; then
	rrl_ms=$(now_ms)
	rrl_tests=(-t TCP_RR -r 1 -R 1 -w "$warmup" -l "$rrl_s")
	# shadow+pin: the two processes' library threads on two CPUs (both ends would pick the same
	# one with --lkl-pin auto): the first and the last this process may use.
	read -r rrl_cpu_a rrl_cpu_b < <(python3 -c \
		'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
	# One line per step: name, --lkl-syscall, --lkl-pin of server,client, lkl.direct_irq,
	# --lkl-busy-poll, net.core.busy_read (0: none).
	rrl_steps="shadow shadow off,off 0 0 0
shadow+pin shadow $rrl_cpu_a,$rrl_cpu_b 0 0 0
direct direct off,off 0 0 0
direct+busy direct off,off 0 $rrl_busy 0
direct+busy+irq direct off,off 1 $rrl_busy 0
direct+busy_read direct off,off 1 0 $rrl_busy_read"
	rrl_skip=
	# (All of the help read: grep -q would leave lkl-perf a closed pipe, a failure to pipefail.)
	case $("$perf" --help) in
	*--lkl-boot-param*) ;;
	*) rrl_skip="$(show_path "$perf") has no --lkl-boot-param: rebuild it (make)" ;;
	esac

	# Runs step $1 (--lkl-syscall $2, --lkl-pin server,client $3, lkl.direct_irq=$4,
	# --lkl-busy-poll $5, net.core.busy_read $6) over the lkl-shm row, run $7:
	# $work/rrl-<step>-<run>.*
	run_rr_step() {
		local stem=rrl-$1-$7 both
		server=() client=() skip_reason=
		row_lkl-shm
		[ -z "$rrl_skip" ] || skip_reason=$rrl_skip
		if [ -n "$skip_reason" ]; then
			echo "$skip_reason" >"$work/$stem.skip"
			return
		fi
		both=(--lkl-syscall "$2" --lkl-boot-param "lkl.direct_irq=$4")
		[ "$5" = 0 ] || both+=(--lkl-busy-poll "$5")
		[ "$6" = 0 ] || both+=(--lkl-sysctl "net.core.busy_read=$6")
		server+=("${both[@]}" --lkl-pin "${3%,*}")
		client+=("${both[@]}" --lkl-pin "${3#*,}")
		run_pair "$stem" "${rrl_tests[@]}"
	}

	# Each run goes through the references and every step, as the offload ladder's.
	for ((run = 1; run <= rrl_runs; run++)); do
		for ref in host-veth host-loopback; do
			note "bench: RR ladder run $run/$rrl_runs: reference $ref"
			run_row "$ref" "rrl-ref-$ref-$run" "${rrl_tests[@]}"
		done
		while read -r step mode pins irq busy busy_read; do
			note "bench: RR ladder run $run/$rrl_runs: $step (syscall $mode, pin $pins, direct_irq $irq, busy poll $busy us, busy_read $busy_read us)"
			run_rr_step "$step" "$mode" "$pins" "$irq" "$busy" "$busy_read" "$run"
		done <<<"$rrl_steps"
	done
	printf '%s\n' "$rrl_steps" >"$work/rrl.steps"

	# Into the JSON of this run's table and offload ladder; with --rr-ladder alone, into the one
	# there is, whose other sections stay as an earlier run left them.
	mkdir -p "$(dirname "$json_out")"
	python3 - "$work" "$json_out" "$rrl_runs" "$rrl_s" "$warmup" "$(elapsed "$rrl_ms")" <<'EOF'
import json
import os
import platform
import statistics
import sys
import time

work, out, runs, seconds, warmup, elapsed = sys.argv[1:7]
runs = int(runs)
TARGET_STEPS, TARGET_RATIO = ("direct+busy+irq", "direct+busy_read"), 1.0


def skipped(stem):
    path = os.path.join(work, f"{stem}.skip")
    return open(path).read().strip() if os.path.exists(path) else None


def report(stem):
    """The TCP_RR report of $work/<stem>.json (one test: one object), or None."""
    try:
        with open(os.path.join(work, f"{stem}.json")) as f:
            r = json.load(f)
    except (OSError, ValueError):
        return None
    r = r[0] if isinstance(r, list) and r else r
    return r if isinstance(r, dict) and "error" not in r and "latency_us" in r else None


def median(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def summary(stem):
    """Median p50, p99 and transactions/s of the runs $work/<stem>-<run>, each run's, and the
    stack the first run's client reported."""
    reason = skipped(f"{stem}-1")
    if reason:
        return {"skipped": reason}
    per_run, stack = [], None
    for n in range(1, runs + 1):
        r = report(f"{stem}-{n}")
        per_run.append({"p50_us": r and r["latency_us"]["p50"],
                        "p99_us": r and r["latency_us"]["p99"],
                        "mean_us": r and r["latency_us"]["mean"],
                        "tps": r and r["transactions_per_s"],
                        "transactions": r and r.get("transactions")})
        if r and stack is None:
            stack = r.get("stack")
    s = {k: median(x[k] for x in per_run) for k in ("p50_us", "p99_us", "tps")}
    return {**s, "runs": per_run, "stack": stack}


refs = {r: summary(f"rrl-ref-{r}") for r in ("host-veth", "host-loopback")}
reference = next((r for r in refs if refs[r].get("p50_us")), None)
ref_p50 = refs[reference]["p50_us"] if reference else None
for r in refs.values():
    r.pop("stack", None)  # the host's: nothing to say
    if r.get("p50_us") and ref_p50:
        r["p50_ratio_to_reference"] = r["p50_us"] / ref_p50

steps, known = [], set()
for line in open(os.path.join(work, "rrl.steps")):
    name, mode, pins, irq, busy, busy_read = line.split()
    pin_server, pin_client = pins.split(",")
    step = {"step": name, "syscall": mode, "pin": {"server": pin_server, "client": pin_client},
            "direct_irq": int(irq), "busy_poll_us": int(busy), "busy_read_us": int(busy_read),
            **summary(f"rrl-{name}")}
    if step.get("p50_us") and ref_p50:
        step["p50_ratio_to_reference"] = step["p50_us"] / ref_p50
    # What the client's kernel shows of lkl.direct_irq ("Y"/"N"; None: it does not know it).
    seen = ((step.get("stack") or {}).get("observed") or {}).get("boot_params") or {}
    if "lkl.direct_irq" in seen:
        step["direct_irq_seen"] = seen["lkl.direct_irq"]
        known.add(seen["lkl.direct_irq"] is not None)
    steps.append(step)

targets = []
for name in TARGET_STEPS:
    t = next((s for s in steps if s["step"] == name), {})
    if t.get("p50_ratio_to_reference") is not None:
        targets.append({"step": name, "text": f"{name} p50 <= {TARGET_RATIO:.1f}x {reference} p50",
                        "ratio": t["p50_ratio_to_reference"],
                        "met": t["p50_ratio_to_reference"] <= TARGET_RATIO})
# "target": the better of the busy-polling steps.
target = min(targets, key=lambda t: t["ratio"]) if targets else None

rr_ladder = {
    "test": "TCP_RR, 1-byte request and response, library to library over the shared-memory"
            " link (lkl-shm)",
    "seconds_per_run": float(seconds), "warmup_transactions": int(warmup), "runs": runs,
    "reference": reference, "references": refs, "steps": steps, "target": target,
    "targets": targets,
    "direct_irq_known": (True if known == {True} else False if known == {False}
                         else None),
    "elapsed": elapsed, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
}

try:
    with open(out) as f:
        doc = json.load(f)
except (OSError, ValueError):
    doc = {}
if not isinstance(doc, dict) or "kernels" in doc:  # not a bench.json (a syscall.json)
    doc = {}
doc.setdefault("machine", {"node": platform.node(), "cpus": os.cpu_count(),
                           "kernel": platform.release()})
doc["rr_ladder"] = rr_ladder
doc.setdefault("elapsed", {})["rr_ladder"] = elapsed
with open(out, "w") as f:
    json.dump(doc, f, indent=2)


def cell(v, fmt, width):
    return f"{fmt.format(v) if v is not None else '-':>{width}}"


print(f"\nRR ladder: 1-byte TCP_RR library <-> library over the shared-memory link, {seconds} s"
      f" per run, median of {runs} run(s); x{reference or 'ref'}: p50 over {reference}'s"
      f" ({elapsed})")
head = (f"{'step':<17}{'syscall':<8}{'pin srv,cli':>12}{'direct_irq':>11}{'busy us':>8}"
        f"{'read us':>8}{'p50 us':>9}{'p99 us':>9}{'tx/s':>8}{'xveth' if reference == 'host-veth' else 'xref':>7}")
print(head)
print("-" * len(head))
for name, r in refs.items():
    if "skipped" in r:
        print(f"{name:<17}  skipped: {r['skipped']}")
        continue
    print(f"{name:<17}{'host':<8}{'':>12}{'':>11}{'':>8}{'':>8}" + cell(r["p50_us"], "{:.1f}", 9)
          + cell(r["p99_us"], "{:.1f}", 9) + cell(r["tps"], "{:.0f}", 8)
          + cell(r.get("p50_ratio_to_reference"), "{:.2f}", 7))
for s in steps:
    if "skipped" in s:
        print(f"{s['step']:<17}  skipped: {s['skipped']}")
        continue
    irq = str(s["direct_irq"])
    if s.get("direct_irq_seen") is None and "direct_irq_seen" in s:
        irq += "?"  # the kernel does not know it
    print(f"{s['step']:<17}{s['syscall']:<8}"
          f"{s['pin']['server'] + ',' + s['pin']['client']:>12}{irq:>11}"
          f"{s['busy_poll_us'] or '-':>8}{s['busy_read_us'] or '-':>8}"
          + cell(s["p50_us"], "{:.1f}", 9)
          + cell(s["p99_us"], "{:.1f}", 9) + cell(s["tps"], "{:.0f}", 8)
          + cell(s.get("p50_ratio_to_reference"), "{:.2f}", 7))
if rr_ladder["direct_irq_known"] is False:
    print("  direct_irq ?: this kernel does not know lkl.direct_irq (no"
          " /sys/module/lkl/parameters/direct_irq), so it ignored it: its steps differ only by"
          " the other options")
print("  busy us: the device thread's receive busy polling; read us: net.core.busy_read (the"
      " caller polls)")
for t in targets:
    line = f"target {t['text']}: {t['ratio']:.2f}x {'met' if t['met'] else 'MISSED'}"
    print(f"  {line}" if t["met"] else f"warning: {line}")
print(f"JSON: {out} (\"rr_ladder\")")
EOF
	draw_charts "$json_out"
fi
note "bench: done in $(elapsed "$start_ms")"
