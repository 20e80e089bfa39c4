#!/usr/bin/env bash
# Entry point for a fresh Debian 12 machine: installs what the build needs
# (apt, as root or through sudo), then runs make with the given targets.
#   ./make.sh run     build everything, boot an instance, measure, halt
#   ./make.sh test    build everything and run every test
set -euo pipefail
cd "$(dirname "$0")"
if ! scripts/install-deps.sh --check >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		scripts/install-deps.sh
	elif command -v sudo >/dev/null 2>&1; then
		sudo scripts/install-deps.sh
	else
		echo "error: packages are missing; run scripts/install-deps.sh as root" >&2
		exit 1
	fi
fi
exec make "$@"
