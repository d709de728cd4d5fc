#!/bin/bash
# Segments are shared mappings of files in the state directory: on a file
# system with a disk behind it, the pages messages dirty are written back
# to the disk. The daemon starts there all the same (it works), but says so
# in one warning that names the way out (tmpfs, /dev/shm); on tmpfs it
# says nothing of the kind.
. "$(dirname "$0")/lib.sh"

# A directory on a disk file system: under the build tree, or /var/tmp.
fstype() { stat -f -c %T "$1" 2>/dev/null; }
DISK=
for d in "$BUILD" /var/tmp /tmp; do
	case $(fstype "$d") in tmpfs | ramfs | hugetlbfs | '') ;; *) DISK=$d && break ;; esac
done
[ -n "$DISK" ] || skip "no directory on a disk file system here"
DSTATE=$(mktemp -d "$DISK/ipcfs-test-state.XXXXXX")
CLEANUP_HOOK='rm -rf "$DSTATE"'
chmod 711 "$DSTATE"

# 1. On tmpfs (the tests' usual /dev/shm directory): no warning.
[ "$(fstype "$STATE")" = tmpfs ] || skip "$STATE is not on tmpfs"
start_daemon
stop_daemon
grep -q "not on tmpfs" "$LOG" && fail "a warning for a state directory on tmpfs: $(cat "$LOG")"
ok "a state directory on tmpfs draws no warning"

# 2. On a disk: the daemon serves, and warns once, naming the directory.
SAVE=$STATE
STATE=$DSTATE
: > "$LOG"
start_daemon
mkdir "$MNT/groups/g" || fail "mkdir g with the state on $(fstype "$DSTATE")"
[ -f "$DSTATE/g.seg" ] || fail "no segment in $DSTATE"
rmdir "$MNT/groups/g" || fail "rmdir g"
stop_daemon
STATE=$SAVE
expect_eq "$(grep -c "statedir $DSTATE is not on tmpfs.*/dev/shm" "$LOG")" 1 \
	"warnings for a state directory on $(fstype "$DSTATE")"
ok "a state directory on $(fstype "$DSTATE") works and draws one warning"
