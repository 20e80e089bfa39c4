#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs every GoogleTest binary in $LKL_BUILD_DIR/tests as one TAP subtest.
# Optional (LKL_SELFTEST_GTEST=1 in the Makefile): the project's own test
# runner already runs these binaries.

DIR=$(dirname "$(readlink -f "$0")")
# shellcheck source=../kselftest/ktap_helpers.sh
. "$DIR/../kselftest/ktap_helpers.sh" || exit 1

ktap_print_header

if [ -z "$LKL_BUILD_DIR" ] || [ ! -d "$LKL_BUILD_DIR/tests" ]; then
	ktap_skip_all "LKL_BUILD_DIR is not set to the build/lkl directory"
	exit "$KSFT_SKIP"
fi

tests=()
for t in "$LKL_BUILD_DIR"/tests/*_test; do
	[ -x "$t" ] && tests+=("$t")
done
if [ ${#tests[@]} -eq 0 ]; then
	ktap_skip_all "no *_test binaries in $LKL_BUILD_DIR/tests"
	exit "$KSFT_SKIP"
fi

ktap_set_plan ${#tests[@]}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for t in "${tests[@]}"; do
	name=$(basename "$t")
	timeout "${LKL_GTEST_TIMEOUT:-600}" "$t" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		ktap_print_msg "$name: $(grep -c '^\[       OK \]' "$out") tests passed"
		ktap_test_pass "$name"
	else
		ktap_print_msg "$name exited with $rc; failures:"
		grep -E '^\[  FAILED  \]|Failure|WATCHDOG|FAIL:' "$out" |
			head -n 40 | sed -e 's/^/# /'
		ktap_test_fail "$name"
	fi
done

ktap_finished
