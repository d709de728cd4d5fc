#!/bin/bash
# The ipcfs command itself: help of every subcommand, --version against the
# mount's version file, unknown commands and missing ones (exit 2).
. "$(dirname "$0")/lib.sh"
IPCFS=$BUILD/ipcfs
[ -x "$IPCFS" ] || fail "$IPCFS is not built"

run "$IPCFS" --help
[ "$RC" = 0 ] || fail "--help: exit $RC"
cp "$TMP/out" "$TMP/help"
for c in stat top send recv bench; do
	grep -Eq "^  $c " "$TMP/help" || fail "--help does not list $c"
	run "$IPCFS" $c --help
	expect_eq "$RC $(head -n1 "$TMP/out" | cut -d' ' -f1-3)" "0 usage: ipcfs $c" "$c --help"
	grep -q "^Exit status: 0" "$TMP/out" || fail "$c --help does not give the exit status"
	run "$IPCFS" help $c
	expect_eq "$RC $(head -n1 "$TMP/out" | cut -d' ' -f1-3)" "0 usage: ipcfs $c" "help $c"
	grep -q "^\.SS $c\$\|^\.SS \"$c" "$(dirname "$0")/../../man/ipcfs.1" || fail "$c not in man/ipcfs.1"
done
start_daemon
run "$IPCFS" --version
expect_eq "$(cat "$TMP/out")" "$(cat "$MNT/version")" "--version"
stop_daemon
for a in "" bogus "help bogus"; do
	run "$IPCFS" $a
	[ "$RC" = 2 ] || fail "'ipcfs $a': exit $RC, want 2"
	[ "$(wc -l < "$TMP/err")" = 1 ] || fail "'ipcfs $a': stderr: $(cat "$TMP/err")"
	[ -s "$TMP/out" ] && fail "'ipcfs $a' wrote to stdout"
done
grep -q "ipcfs: unknown command 'bogus'" "$TMP/err" 2>/dev/null || run "$IPCFS" bogus
grep -q "ipcfs: unknown command 'bogus'" "$TMP/err" || fail "unknown command message: $(cat "$TMP/err")"
ok "help, version, usage"
