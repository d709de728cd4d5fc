#!/usr/bin/env bash
# Layers point one way: no two objects of lib/ (or of fsd/) call into each
# other (a symbol defined in A used by B and one defined in B used by A),
# no file there is over 700 lines and no function over 80 (from the line
# of its opening brace to that of its closing one, both at column 0, as
# the code is written). Reads the objects of $BUILD with nm.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
command -v nm >/dev/null || { echo "layers: no nm"; exit 77; }
fail=0
for dir in lib fsd; do
	# Objects of the sources there are (not of files since removed).
	objs=$(for c in "$top/$dir"/*.c; do
		o=$BUILD/$dir/$(basename "$c" .c).o
		[ -f "$o" ] && echo "$o"
	done)
	[ -n "$objs" ] || { echo "layers: no objects in $BUILD/$dir (not built)"; exit 1; }
	# Lines "D file sym" for definitions and "U file sym" for uses.
	pairs=$(for o in $objs; do
		nm "$o" | awk -v f="$(basename "$o" .o)" '
			$1 == "U" { print "U", f, $2; next }
			NF == 3 && $2 ~ /^[TDRB]$/ { print "D", f, $3 }'
	done | awk '
		$1 == "D" { def[$3] = $2; next }
		{ use[n++] = $2 " " $3 }
		END {
			for (i = 0; i < n; i++) {
				split(use[i], u, " ")
				if ((u[2] in def) && def[u[2]] != u[1])
					calls[u[1] " " def[u[2]]] = u[2]
			}
			for (k in calls) {
				split(k, ab, " ")
				r = ab[2] " " ab[1]
				if ((r in calls) && ab[1] < ab[2])
					printf "%s.c <-> %s.c (%s, %s)\n", ab[1], ab[2], calls[k], calls[r]
			}
		}')
	if [ -n "$pairs" ]; then
		echo "layers: files of $dir/ that call into each other:"; echo "$pairs"; fail=1
	fi
	for f in "$top/$dir"/*.[ch]; do
		n=$(wc -l < "$f")
		[ "$n" -le 700 ] || { echo "layers: $dir/$(basename "$f") has $n lines (700 at most)"; fail=1; }
		# A function opens with "{" alone at column 0 after its
		# signature (or at the end of a signature line at column 0)
		# and closes with "}" at column 0.
		long=$(awk -v f="$dir/$(basename "$f")" '
			start == 0 && (/^\{/ || /^[A-Za-z_].*\)[ \t]*\{[ \t]*$/) {
				start = FNR; name = /^\{/ ? prev : $0; next
			}
			start && /^\}/ {
				if (FNR - start + 1 > 80)
					printf "layers: %s:%d: %s has %d lines (80 at most)\n",
					       f, start, name, FNR - start + 1
				start = 0
			}
			{ prev = $0 }' "$f")
		[ -z "$long" ] || { echo "$long"; fail=1; }
	done
done
[ $fail = 0 ] && echo "layers: lib/ and fsd/ call one way, every file at most 700 lines, every function at most 80"
exit $fail
