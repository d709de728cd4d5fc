#!/usr/bin/env bash
# fsd_gpu_emu.sh - the GPU communicator's rendezvous through a mount: the
# records go through ctl (register/unregister) into gpu/NAME/RANK, the
# group's algo attribute forces the algorithm, stat shows the counters,
# and destroy leaves gpu/ empty. Ranks: tests/emu/gpu_ranks.c over the
# CPU stand-in of libipcfs_cuda.so (see gpu_emu.sh).
. "$(dirname "$0")/lib.sh"
RANKS=$BUILD/tests/gpu_ranks
export IPCFS_CUDA_LIB=$BUILD/tests/libipcfs_cuda_emu.so IPCFS_ONESHOT_MAX=4096
[ -x "$RANKS" ] && [ -e "$IPCFS_CUDA_LIB" ] || fail "gpu_ranks or the emulator is not built"

start_daemon
G=$MNT/groups/tp0
mkdir "$G" || fail "mkdir"
echo 3 > "$G/ranks" || fail "ranks"
echo twoshot > "$G/algo" || fail "algo"

# While the ranks run, their records are in gpu/; watch for them.
out=$TMP/ranks.out
bg timeout 120 "$RANKS" -w 3 -a twoshot -i 1 "$G" mixed
ranks=$BG
seen=0
while kill -0 "$ranks" 2>/dev/null; do
	# A record may go between the look and the read (its rank is done).
	if [ "$seen" = 0 ] && rec=$(head -c 8 "$G/gpu/emu/2" 2>/dev/null) && [ -n "$rec" ]; then
		case $rec in 49504752*) seen=1 ;; *) fail "gpu/emu/2 is not a record: $rec" ;; esac
	fi
	sleep 0.01
done
wait "$ranks" || fail "ranks failed on the mount (algo twoshot)"
[ "$seen" = 1 ] || echo "# the records came and went between two looks (not an error)"
[ "$(kv "$G/stat" allreduce_twoshot)" -gt 0 ] || fail "stat: no two-shot calls counted"
expect_eq "$(kv "$G/stat" allreduce_oneshot)" 0 "stat: one-shot calls with algo twoshot"
[ "$(kv "$G/stat" allreduce_bytes)" -gt 0 ] || fail "stat: no bytes counted"
# Odd sizes need NCCL, which one device refuses: counted as errors.
[ "$(kv "$G/stat" allreduce_errors)" -gt 0 ] || fail "stat: the refused calls were not counted"
expect_eq "$(ls "$G/gpu")" "" "gpu/ after every rank destroyed its communicator"
ok "algo twoshot through the mount, counters in stat, records removed"

# Graph buffers (records gpu/emu.g0 and .g1 through ctl) and registered
# buffers on the mount, in a fresh group.
G=$MNT/groups/tp1
mkdir "$G" && echo 3 > "$G/ranks" || fail "mkdir tp1"
timeout 120 "$RANKS" -w 3 "$G" graph >"$out" 2>&1 || { cat "$out"; fail "graph on the mount"; }
timeout 120 "$RANKS" -w 3 "$G" registered >"$out" 2>&1 || { cat "$out"; fail "registered on the mount"; }
expect_eq "$(ls "$G/gpu")" "" "gpu/ after the graph and registered runs"
if grep -q 'unregister' "$G/error_log"; then
	cat "$G/error_log" >&2
	fail "unregister of a record that was not there"
fi
ok "graph and registered buffers through the mount"

stop_daemon
ok "daemon exited 0"
