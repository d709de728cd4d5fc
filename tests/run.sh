#!/usr/bin/env bash
# tests/run.sh TEST... - run test programs and shell tests, one after the
# other; exit status 77 means skipped. Prints a summary line and exits
# non-zero if any test failed.
set -u
pass=0 fail=0 skip=0
failed=()
BUILD=${BUILD:-build}
export BUILD
# Sanitizer builds are several times slower: shorten the long tests.
if [ -n "${SAN:-}" ] && [ -z "${IPCFS_TEST_SCALE:-}" ]; then
	export IPCFS_TEST_SCALE=0.2
fi
for t in "$@"; do
	name=$(basename "$t")
	start=$(date +%s.%N)
	case "$t" in
	*.sh) bash "$t" ;;
	*) "$t" ;;
	esac
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS: $name (${secs}s)"
	elif [ "$rc" -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP: $name"
	else
		fail=$((fail + 1)); failed+=("$name"); echo "FAIL: $name (exit $rc, ${secs}s)"
	fi
done
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
