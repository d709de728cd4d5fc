# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# bench_lib.sh - what the benchmark drivers (run_bcast.sh, run_payload.sh)
# share; sourced, not run. Needs bash.
#
#   bench_setup NAME "$@"   parse BUILD_DIR [RESULTS_DIR], read the common
#                           environment, set up the results, the log and a
#                           temporary directory (removed at exit)
#   bench_note_load WHAT    warn when the machine is busy; log the setting
#   bench_need_contender PREFIX SYS...   exit unless one PREFIXSYS is built
#   bench_cmd SYS N BIN ARG...   the command line of one run, in cmd
#   bench_run OUT KEY FIELD...   run it and record the row
#   bench_awk_jnum          awk function jnum(line, key): a number of a
#                           JSON line
#   bench_awk_table         awk functions table_add() and table_print():
#                           the rows grouped for the table of results
#
# Globals set by bench_setup (and used by the drivers): build_dir,
# results_dir, bin_dir, scale (BENCH_SCALE, default 1), run_timeout
# (BENCH_TIMEOUT, default 300), readers_list (BENCH_READERS, default
# "1 3"), mpirun (MPIRUN, default mpirun), mpi_extra (BENCH_MPI_ARGS split
# on spaces), jsonl and log (RESULTS_DIR/NAME.jsonl and NAME.log, emptied),
# tmp (a temporary directory), rows (an empty file in it, one row a run:
# tab-separated fields, then OK|FAILED|SKIPPED, then the JSON line or the
# reason), ncpus, bench_name (NAME), and load (by bench_note_load).

# shellcheck disable=SC2034 # the globals are for the drivers

bench_usage() {
	echo "usage: $0 BUILD_DIR [RESULTS_DIR]" >&2
	exit 2
}

# bench_setup NAME BUILD_DIR [RESULTS_DIR]
bench_setup() {
	bench_name=$1
	shift
	if [ $# -lt 1 ] || [ $# -gt 2 ]; then
		bench_usage
	fi
	build_dir=$1
	results_dir=${2:-results}
	bin_dir=$build_dir/bench
	scale=${BENCH_SCALE:-1}
	run_timeout=${BENCH_TIMEOUT:-300}
	readers_list=${BENCH_READERS:-1 3}
	mpirun=${MPIRUN:-mpirun}
	read -r -a mpi_extra <<<"${BENCH_MPI_ARGS:-}"

	[ -d "$bin_dir" ] || { echo "$0: no directory $bin_dir" >&2; exit 2; }
	if ! awk -v s="$scale" 'BEGIN { exit !(s + 0 > 0) }'; then
		echo "$0: BENCH_SCALE must be a positive number, not '$scale'" >&2
		exit 2
	fi
	mkdir -p "$results_dir" || exit 1
	jsonl=$results_dir/$bench_name.jsonl
	log=$results_dir/$bench_name.log
	# The table the script prints, kept beside the raw results and
	# replaced on every run, so that no older table lies there.
	table=$results_dir/$bench_name.txt
	: >"$jsonl" || exit 1
	: >"$log" || exit 1
	: >"$table" || exit 1

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/run_$bench_name.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT
	rows=$tmp/rows
	: >"$rows"

	ncpus=$(nproc 2>/dev/null || echo 1)
}

# bench_note_load WHAT: other work on the machine shows up as noise in the
# results: warn (NAME: warning: ... expect noisy WHAT) when the load
# average is 0.5 or more; log the CPUs, the load and BENCH_SCALE.
bench_note_load() {
	load=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo 0)
	if awk -v l="$load" 'BEGIN { exit !(l + 0 >= 0.5) }'; then
		echo "$bench_name: warning: load average $load before the run; expect noisy $1" >&2
	fi
	echo "== $ncpus CPUs, load average $load, BENCH_SCALE=$scale" >>"$log"
}

# bench_need_contender PREFIX SYS...: exit 1 unless $bin_dir/PREFIXSYS is
# an executable for one SYS.
bench_need_contender() {
	local prefix=$1 sys
	shift
	for sys in "$@"; do
		[ -x "$bin_dir/$prefix$sys" ] && return 0
	done
	echo "$0: no ${prefix}* contender in $bin_dir" >&2
	exit 1
}

# bench_cmd SYS N BIN ARG...: set the array cmd to the command that runs
# BIN ARG... with N readers: under mpirun with N + 1 ranks for SYS mpi.
# With --pin among the ARGs, mpirun binds each rank to a core (what Open
# MPI does by default) and the contender leaves its pinning to it.
bench_cmd() {
	local sys=$1 n=$2 bin=$3 yield=0 bind=none a
	shift 3
	for a in "$@"; do
		[ "$a" = --pin ] && bind=core:overload-allowed
	done
	if [ "$sys" = mpi ]; then
		# Open MPI busy-polls; with more ranks than CPUs it must yield or
		# it collapses (it would guess so itself; say it).
		[ $((n + 1)) -gt "$ncpus" ] && yield=1
		cmd=(env OMPI_MCA_mpi_yield_when_idle="$yield" BENCH_PINNED_BY_LAUNCHER=1
			"$mpirun" --allow-run-as-root --oversubscribe --bind-to "$bind"
			-np $((n + 1)) --mca pml ob1 --mca btl "self,vader"
			"${mpi_extra[@]}" "$bin" "$@")
	else
		cmd=("$bin" "$@")
	fi
}

# bench_row FIELD...: append the fields, tab-separated, as a row.
bench_row() {
	local IFS=$'\t'
	printf '%s\n' "$*" >>"$rows"
}

# bench_run OUT KEY FIELD...: run "${cmd[@]}" (logged, output to the log,
# killed after BENCH_TIMEOUT). If it succeeded and wrote one line with
# "KEY": to OUT: add the row FIELD... OK <that line>, say ok and return 0.
# Else: add the row FIELD... FAILED <reason>, say so and return 1.
bench_run() {
	local out=$1 key=$2 rc lines=0 reason
	shift 2
	echo "== ${cmd[*]}" >>"$log"
	timeout -k 5 "$run_timeout" "${cmd[@]}" </dev/null >>"$log" 2>&1
	rc=$?
	[ -f "$out" ] && lines=$(wc -l <"$out")
	if [ "$rc" -eq 0 ] && [ "$lines" -eq 1 ] && grep -q "\"$key\":" "$out"; then
		bench_row "$@" OK "$(cat "$out")"
		echo ok >&2
		return 0
	fi
	reason="exit status $rc"
	[ "$rc" -eq 124 ] && reason="timed out after ${run_timeout}s"
	[ "$rc" -eq 0 ] && reason="no result line"
	echo "== FAILED: $reason" >>"$log"
	bench_row "$@" FAILED "$reason"
	echo "FAILED ($reason; see $log)" >&2
	return 1
}

# For the awk table programs: jnum(line, key) is the number after "key":
# in the JSON line, "" if none.
bench_awk_jnum='
function jnum(line, key,    m) {
	if (!match(line, "\"" key "\":[-0-9.eE+]+"))
		return ""
	m = substr(line, RSTART, RLENGTH)
	sub(/^[^:]*:/, "", m)
	return m + 0
}'

# The table of run_bcast.sh and run_paced.sh: their rows grouped by the
# first three fields (size or gap, readers, pinned), groups in the order
# first seen, a blank line between two groups. table_add() files the
# current input line and returns its group; table_print() prints a failed
# run itself (the driver's fmt has nine columns) and calls the driver's
# print_row(k, f, pinned) for every other row (k: its group, f: its
# fields, pinned: "yes" or "no").
bench_awk_table='
function table_add(    k) {
	k = $1 SUBSEP $2 SUBSEP $3
	if (!(k in seen)) {
		seen[k] = 1
		order[++ngroups] = k
	}
	nrow[k]++
	row[k, nrow[k]] = $0
	return k
}
function table_print(    g, i, k, f, pinned) {
	for (g = 1; g <= ngroups; g++) {
		k = order[g]
		if (g > 1)
			print ""
		for (i = 1; i <= nrow[k]; i++) {
			split(row[k, i], f, "\t")
			pinned = f[3] == 1 ? "yes" : "no"
			if (f[5] != "OK")
				printf fmt, f[4], f[1], f[2], pinned, "FAILED", "-", "-", "-", "-"
			else
				print_row(k, f, pinned)
		}
	}
}'
