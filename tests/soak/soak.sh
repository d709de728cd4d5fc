#!/bin/bash
# tests/soak/soak.sh [SECONDS] - the soak (make soak DURATION=SECONDS):
# build/tests/soak_driver mounts its own ipcfsd on a temporary mount point with
# its own state directory (lib.sh makes both and removes them), runs
# SOAK_CYCLES (default 10000) join/leave cycles, then traffic with member
# and daemon kills until SECONDS are spent, and prints its summary line.
# The daemon's log is shown on failure. Exit 0: no violation.
. "$(dirname "$0")/../shell/lib.sh"

SECS=${1:-60}
SOAK=$BUILD/tests/soak_driver
[ -x "$SOAK" ] || fail "$SOAK is not built"
# A sanitizer build's daemon keeps freed memory in quarantine (ASan: up to
# 256 MiB): its resident memory says nothing about leaks there; the
# descriptor count still must be flat.
RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-$([ -n "${SAN:-}" ] && echo 262144 || echo 2048)}
# The driver leads its own process group: whatever it started (members,
# the daemon) goes with it if this script is interrupted.
SPID=
trap 'rc_=$?; [ -n "$SPID" ] && kill -9 -- -"$SPID" 2>/dev/null; (exit $rc_); cleanup' EXIT
setsid "$SOAK" ${SOAK_VERBOSE:+-v} -d "$SECS" -c "${SOAK_CYCLES:-10000}" -s "${SOAK_SLACK_MS:-2000}" \
	-r "$RSS_SLACK_KB" -l "$LOG" \
	"$IPCFSD" "$MNT" "$STATE" &
SPID=$!
rc=0
wait $SPID || rc=$?
SPID=
[ $rc = 0 ] || fail "soak found violations (exit $rc)"
ok "soak of $SECS s"
