#!/bin/bash
# The state directory of a root daemon lies in a world-writable place
# (/dev/shm): it is used only when it and every directory above it are
# safe (owned by root or the daemon's uid, not writable by others unless
# sticky, no symbolic link), else the daemon refuses to start with a clear
# message. Inside a safe directory no symbolic link is ever followed: a
# planted state file, temporary file or segment name is never written
# through.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (directories owned by another uid)"
id nobody >/dev/null 2>&1 || skip "no user nobody"

EVIL=$(mktemp -d /dev/shm/ipcfs-test-evil.XXXXXX)
STATE_SAVE=$STATE
CLEANUP_HOOK='rm -rf "$EVIL" "$STATE_SAVE"'
VICTIM=$TMP/victim
echo precious > "$VICTIM"
chmod 644 "$VICTIM"

# refuse DIR WHAT: the daemon started on statedir DIR exits non-zero
# without mounting, its message contains WHAT; if it mounted after all,
# create a group (to show what it writes), unmount and fail.
refuse() {
	: > "$TMP/err"
	"$IPCFSD" -f -o statedir="$1" "$MNT" 2>"$TMP/err" &
	local p=$!
	wait_until 5 'is_mounted || ! kill -0 $p 2>/dev/null'
	if is_mounted; then
		mkdir "$MNT/groups/g" 2>/dev/null
		fusermount3 -u "$MNT"
		wait $p
		fail "statedir $1 ($2): the daemon used it"
	fi
	wait $p && fail "statedir $1: exit status 0"
	grep -q -- "$2" "$TMP/err" || fail "statedir $1: message '$(cat "$TMP/err")' lacks '$2'"
}

untouched() {
	expect_eq "$(cat "$VICTIM")" precious "the symlink target $VICTIM"
	[ ! -e "$TMP/victim2" ] || fail "a file was created through the .lock symlink"
}

# 1. Made in advance by another user, with symlinks for the state file and
#    the lock: refused, nothing written through the links.
D=$EVIL/owned
mkdir "$D"
ln -s "$VICTIM" "$D/g.state"
ln -s "$VICTIM" "$D/g.state.new"
ln -s "$TMP/victim2" "$D/.lock"
chown -h nobody "$D" "$D/g.state" "$D/g.state.new" "$D/.lock"
chmod 711 "$D"
refuse "$D" "owned by uid 65534"
untouched
ok "a state directory of another uid is refused"

# 2. Ours but writable by others (not sticky): refused.
D=$EVIL/open
mkdir -m 777 "$D"
chmod 777 "$D"
refuse "$D" "writable by group or others"
ok "a state directory writable by others is refused"

# 3. The state directory itself is a symbolic link (to a good directory).
mkdir -m 711 "$EVIL/real"
ln -s "$EVIL/real" "$EVIL/link"
chown -h nobody "$EVIL/link"
refuse "$EVIL/link" "symbolic link"
ok "a state directory that is a symbolic link is refused"

# 4. Missing, in a directory another user owns (who could swap it later).
P=$EVIL/parent
mkdir -m 755 "$P"
chown nobody "$P"
refuse "$P/sub" "owned by uid 65534"
[ ! -e "$P/sub" ] || fail "the daemon created $P/sub"
ok "a state directory under another uid's directory is refused"

# 5. Missing under a sticky world-writable directory of root: created,
#    ours, mode 0711.
S=$EVIL/fresh
STATE=$S
start_daemon
STATE=$STATE_SAVE
expect_eq "$(stat -c '%u %a' "$S")" "0 711" "created state directory"
stop_daemon
ok "a missing state directory is created 0711"

# 6. In a good directory, planted links are never followed: a state file
#    that is a link is not adopted, a temporary name that is a link is
#    replaced, not written through.
ln -s "$VICTIM" "$STATE/h.state"
ln -s "$VICTIM" "$STATE/g.state.new"
ln -s "$VICTIM" "$STATE/g.seg.new"
start_daemon
[ ! -e "$MNT/groups/h" ] || fail "a state file that is a symlink was adopted"
mkdir "$MNT/groups/g" || fail "mkdir g"
expect_write "$MNT/groups/g/ctl" "reset-stat" OK
untouched
[ -f "$STATE/g.state" ] && [ ! -L "$STATE/g.state" ] || fail "g.state is not a plain file"
[ -f "$STATE/g.seg" ] && [ ! -L "$STATE/g.seg" ] || fail "g.seg is not a plain file"
rmdir "$MNT/groups/g" || fail "rmdir g"
stop_daemon
untouched
grep -q "h.state.*symbolic link" "$LOG" || fail "no log line for the linked state file"
ok "links inside the state directory are not followed"
