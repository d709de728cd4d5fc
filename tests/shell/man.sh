#!/usr/bin/env bash
# Every man page is well formed (mandoc -T lint), and every function the
# public header declares has its page.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v mandoc >/dev/null || { echo "man: mandoc not installed"; exit 77; }
fail=0
for page in "$top"/man/*.[1-8]; do
	out=$(mandoc -T lint -W warning "$page" 2>&1)
	if [ -n "$out" ]; then
		echo "man: $(basename "$page"):"; echo "$out"; fail=1
	fi
done
for fn in $(grep -oE '^[a-z][^(]*\bipcfs_[a-z_]+\(' "$top/lib/ipcfs.h" | grep -oE 'ipcfs_[a-z_]+' | sort -u); do
	[ -f "$top/man/$fn.3" ] || { echo "man: no page for $fn"; fail=1; }
done
[ $fail = 0 ] && echo "man: $(ls "$top"/man/*.[1-8] | wc -l) pages, all well formed"
exit $fail
