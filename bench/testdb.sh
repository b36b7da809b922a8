#!/usr/bin/env bash
# Times `go run mage.go testDB` as a whole command with warm caches: one major (14, the default)
# against all five (14-18) proved in parallel, interleaved round by round so both see the same
# machine; prints each run, the medians and the ratio. Needs the test environment:
#   bash build/testenv/setup.sh && source build/testenv/env.sh && bash bench/testdb.sh [rounds]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}

run() { # prints the wall time of one run in milliseconds; fails if testDB fails
	local start end
	start=$(date +%s%3N)
	go run mage.go testDB "$@" >/dev/null 2>&1 || {
		echo "bench: go run mage.go testDB $* failed; run it alone to see why" >&2
		return 1
	}
	end=$(date +%s%3N)
	echo $((end - start))
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

go run mage.go testDB >/dev/null 2>&1 || true # warm: mage's and the suites' build caches
one=() all=()
for ((i = 1; i <= rounds; i++)); do
	one+=("$(run)")
	all+=("$(run -postgres=all)")
	echo "round ${i}: testDB ${one[-1]} ms, testDB -postgres=all ${all[-1]} ms"
done
m1=$(printf '%s\n' "${one[@]}" | median)
m5=$(printf '%s\n' "${all[@]}" | median)
echo "median: testDB (14) ${m1} ms; testDB -postgres=all (14-18) ${m5} ms; ratio $(awk -v a="$m5" -v b="$m1" 'BEGIN {printf "%.2f", a / b}') (target <= 1.5)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
