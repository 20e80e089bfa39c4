#!/usr/bin/env bash
# Run every test and print one summary line, `N passed, N failed, N skipped`,
# last. `make test` runs this after building; it can also be run by hand.
#
#  1. every GoogleTest binary $LKL_OUT/tests/*_test, one at a time, with
#     --gtest_output=xml:$LKL_RESULTS/<name>.xml and a timeout; each test case
#     counts. A binary that crashes, times out, exits non-zero or prints a
#     sanitizer report counts as (at least) one failure, XML or not. A *_test
#     that is not a GoogleTest binary (no XML) counts as one test by exit status
#     (0 pass, 4 = KSFT_SKIP skip).
#  2. the kselftest target lkl:
#     make -C $LKL_SRC/tools/testing/selftests TARGETS=lkl run_tests
#     with LKL_BUILD_DIR=$LKL_OUT; every TAP result line counts (the subtests a
#     test reports itself, when it does).
#
# Environment: LKL_OUT (default build/lkl), LKL_SRC (build/linux), LKL_RESULTS
# (build/test-results), LKL_SANITIZE=1 (sanitizer options; a report fails the
# binary), LKL_TEST_TIMEOUT (seconds per binary, 600), LKL_KSELFTEST_TIMEOUT
# (seconds for the whole kselftest run, 1800), LKL_TEST_FILTER (run only the
# binaries whose name matches this glob), LKL_SYSCALL_MODES (the syscall modes each
# GoogleTest binary runs in, one run per mode, "shadow direct"; "default" runs it once
# as built; results are named <binary>.<mode>), V=1 / LKL_VERBOSE=1 (show all output).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

out=$(realpath -m "${LKL_OUT:-$LKL_BUILD/lkl}")
src=$(realpath -m "${LKL_SRC:-$LKL_BUILD/linux}")
results=$(realpath -m "${LKL_RESULTS:-$LKL_BUILD/test-results}")
timeout_s=${LKL_TEST_TIMEOUT:-600}
kselftest_timeout_s=${LKL_KSELFTEST_TIMEOUT:-1800}
filter=${LKL_TEST_FILTER:-*}
syscall_modes=${LKL_SYSCALL_MODES:-shadow direct}
[ "${V:-0}" = 1 ] && LKL_VERBOSE=1

if [ "${LKL_SANITIZE:-0}" = 1 ]; then
	# Keep whatever the caller set, but a report must stop the test and fail it.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1:print_stacktrace=1:detect_leaks=1"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"
fi
export LKL_BUILD_DIR=$out

passed=0 failed=0 skipped=0
failures=()

rm -rf "$results"
mkdir -p "$results"

sanitizer_report='^==[0-9]+==ERROR: [A-Za-z]+Sanitizer|^SUMMARY: [A-Za-z]+Sanitizer|: runtime error: '

# Print "passed failed skipped" from a GoogleTest XML report, or "none".
gtest_counts() {
	python3 - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("none")
    sys.exit(0)
passed = failed = skipped = 0
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif (case.get("result") in ("skipped", "suppressed") or case.get("status") == "notrun"
          or case.find("skipped") is not None):
        skipped += 1
    else:
        passed += 1
print(passed, failed, skipped)
EOF
}

# Print "passed failed skipped top-level-lines" from kselftest TAP output.
tap_counts() {
	python3 - "$1" <<'EOF'
import re
import sys

result = re.compile(r"^(not )?ok \d+\b(.*)$")
directive = re.compile(r"#\s*(SKIP|TODO|XFAIL)\b", re.I)

def kind(m):
    d = directive.search(m.group(2))
    d = d.group(1).upper() if d else ""
    if d in ("SKIP", "TODO"):
        return 2
    if d == "XFAIL":
        return 0
    return 1 if m.group(1) else 0

totals = [0, 0, 0]
nested = [0, 0, 0]
top = 0
with open(sys.argv[1], errors="replace") as f:
    for line in f:
        line = line.rstrip("\n")
        m = result.match(line)
        if m:
            top += 1
            k = kind(m)
            if sum(nested):
                # The test reported its own subtests: count those, and the
                # test itself only if it failed without a failed subtest.
                for i in range(3):
                    totals[i] += nested[i]
                if k == 1 and nested[1] == 0:
                    totals[1] += 1
            else:
                totals[k] += 1
            nested = [0, 0, 0]
            continue
        if line.startswith("# "):
            m = result.match(line[2:])
            if m:
                nested[kind(m)] += 1
print(*totals, top)
EOF
}

show_log_tail() {
	if [ "$LKL_VERBOSE" != 1 ]; then
		sed -e 's/^/    | /' "$1" | tail -n 40
	fi
	echo "    (full log: $(show_path "$1"))"
}

run_gtests() {
	local bins=() t mode
	for t in "$out"/tests/*_test; do
		# shellcheck disable=SC2053 # the filter is a glob
		if [ -x "$t" ] && [[ $(basename "$t") == $filter ]]; then
			bins+=("$t")
		fi
	done
	if [ "${#bins[@]}" = 0 ]; then
		note "FAIL  no test binaries in $(show_path "$out")/tests"
		failed=$((failed + 1))
		failures+=("(no test binaries)")
		return
	fi
	for t in "${bins[@]}"; do
		for mode in $syscall_modes; do
			run_gtest "$t" "$mode"
		done
	done
}

# run_gtest <binary> <syscall mode>: one run of a GoogleTest binary.
run_gtest() {
	local t=$1 mode=$2 name xml log rc p f s counts t0 why
	name=$(basename "$t")
	[ "$mode" = default ] || name=$name.$mode
	{
		xml=$results/$name.xml
		log=$results/$name.log
		mkdir -p "$results/work/$name"
		t0=$(now_ms)
		rc=0
		# The subshell outlives the test so that "Aborted", "Segmentation
		# fault" and the like end up in the log.
		if [ "$LKL_VERBOSE" = 1 ]; then
			(cd "$results/work/$name" && LKL_SYSCALL_MODE=${mode#default} \
				timeout -k 10 "$timeout_s" "$t" --gtest_output="xml:$xml"
				exit $?) 2>&1 | tee "$log" || rc=$?
		else
			(cd "$results/work/$name" && LKL_SYSCALL_MODE=${mode#default} \
				timeout -k 10 "$timeout_s" "$t" --gtest_output="xml:$xml"
				exit $?) >"$log" 2>&1 || rc=$?
		fi
		counts=$(gtest_counts "$xml")
		why=""
		if [ "$counts" = none ]; then
			case $rc in
			0) p=1 f=0 s=0 ;;
			4) p=0 f=0 s=1 ;;
			*) p=0 f=1 s=0 ;;
			esac
		else
			read -r p f s <<<"$counts"
		fi
		case $rc in
		0 | 4) ;;
		124 | 137) why="timed out after ${timeout_s}s" ;;
		*) why="exit status $rc" ;;
		esac
		if grep -Eq "$sanitizer_report" "$log"; then
			why="${why:+$why, }sanitizer report"
		fi
		if [ -n "$why" ] && [ "$f" = 0 ]; then
			# Crashed, hung or reported after its last test: the binary failed.
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		skipped=$((skipped + s))
		if [ "$f" = 0 ]; then
			note "PASS  $name: $p passed, $s skipped ($(elapsed "$t0"))"
		else
			note "FAIL  $name: $p passed, $f failed, $s skipped${why:+ ($why)} ($(elapsed "$t0"))"
			failures+=("$name")
			show_log_tail "$log"
		fi
	}
}

run_kselftest() {
	local dir=$src/tools/testing/selftests log=$results/kselftest.log rc=0 p f s top t0 ldflags=""
	if [ ! -d "$dir/lkl" ]; then
		note "SKIP  kselftest: no $(show_path "$dir")/lkl"
		return
	fi
	if [ "${LKL_SANITIZE:-0}" = 1 ]; then
		# C programs that link the sanitized liblkl.a need the runtime too.
		ldflags="-fsanitize=address,undefined"
	fi
	t0=$(now_ms)
	# A fresh build each run: the library it links differs between modes.
	(
		unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
		make -s -C "$dir" TARGETS=lkl clean >/dev/null 2>&1 || true
		if [ "$LKL_VERBOSE" = 1 ]; then
			LDFLAGS="${LDFLAGS:-} $ldflags" timeout -k 10 "$kselftest_timeout_s" \
				make -C "$dir" TARGETS=lkl run_tests 2>&1 | tee "$log"
		else
			LDFLAGS="${LDFLAGS:-} $ldflags" timeout -k 10 "$kselftest_timeout_s" \
				make -C "$dir" TARGETS=lkl run_tests >"$log" 2>&1
		fi
	) || rc=$?
	read -r p f s top <<<"$(tap_counts "$log")"
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1 # make failed (build error, timeout) without a failed test line
	fi
	if [ "$top" = 0 ] && [ "$f" = 0 ]; then
		f=1 # ran nothing at all
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if [ "$f" = 0 ]; then
		note "PASS  kselftest lkl: $p passed, $s skipped ($(elapsed "$t0"))"
	else
		note "FAIL  kselftest lkl: $p passed, $f failed, $s skipped (make exit status $rc) ($(elapsed "$t0"))"
		failures+=("kselftest lkl")
		if [ "$LKL_VERBOSE" != 1 ]; then
			grep -E '^(not ok|ok .*# SKIP)' "$log" | sed -e 's/^/    /' || true
		fi
		show_log_tail "$log"
	fi
}

mode=""
if [ "${LKL_SANITIZE:-0}" = 1 ]; then
	mode=" (ASan+UBSan)"
fi
note "tests: $(show_path "$out")$mode, results in $(show_path "$results")"
run_gtests
run_kselftest
if [ "${#failures[@]}" != 0 ]; then
	note "failed: ${failures[*]}"
fi
summary="$passed passed, $failed failed, $skipped skipped"
printf '%s\n' "$summary" >"$results/summary"
printf '%s\n' "$summary"
[ "$failed" = 0 ]
