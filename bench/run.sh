#!/usr/bin/env bash
# Benchmarks internal/db's migration driver against golang-migrate's stock pgx/v5 driver on a
# throwaway local PostgreSQL 15, then prints a benchstat comparison and the ours/stock ratios.
#
#   bash bench/run.sh                          # about 3 minutes on an idle 2-core machine
#   ROUNDS=1 bash bench/run.sh                 # a quick smoke run
#   BENCH_OUT=/tmp/bench.txt bash bench/run.sh # also keep the raw go test output
#
# The server runs with PostgreSQL's durable defaults: fsync=on, synchronous_commit=on,
# full_page_writes=on (set explicitly below), so every commit waits for a WAL flush to disk, as it
# does in production. autovacuum is off so that no worker's transactions land in the benchmark
# databases' commit counts. The server listens on 127.0.0.1 only, on a free port, with a random
# password, and is stopped and deleted on exit.
set -euo pipefail

cd "$(dirname "$0")/.."

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
ROUNDS=${ROUNDS:-8}                 # samples per benchmark, for benchstat (it wants 6 or more)
BENCH_TIME=${BENCH_TIME:-1x}        # runs per sample; each run gets a fresh database
BENCH_REGEX=${BENCH_REGEX:-.}
BENCH_USER=visiona-bench

# median(key): the median of the values val[key, 1..cnt[key]], for the awk reports below.
awk_median='
	function median(key,    n, i, j, v, a) {
		n = cnt[key]
		for (i = 1; i <= n; i++) a[i] = val[key, i]
		for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j+1] = a[j]; a[j+1] = v }
		return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
'
log() { printf '==> %s\n' "$*" >&2; }

if [[ ! -x $PGBIN/postgres ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "PostgreSQL 15 server binaries not found in $PGBIN; install postgresql-15 (as root: apt-get install postgresql-15) or set PGBIN" >&2
		exit 1
	fi
	log "installing postgresql-15"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15
fi

# PostgreSQL refuses to run as root: run it as $BENCH_USER, created if needed.
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
	if ! id "$BENCH_USER" >/dev/null 2>&1; then
		log "creating system user $BENCH_USER"
		useradd --system --no-create-home --shell /usr/sbin/nologin "$BENCH_USER"
	fi
	as_pg=(runuser -u "$BENCH_USER" --)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/visiona-bench.XXXXXX")
pgdata=$work/data
started=false
cleanup() {
	local rc=$?
	if $started; then
		"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"
if [[ ${#as_pg[@]} -gt 0 ]]; then chown "$BENCH_USER" "$work"; fi

password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$work/pwfile"
if [[ ${#as_pg[@]} -gt 0 ]]; then chown "$BENCH_USER" "$work/pwfile"; fi
chmod 600 "$work/pwfile"

log "initdb in $pgdata"
"${as_pg[@]}" "$PGBIN/initdb" -D "$pgdata" -U postgres --pwfile="$work/pwfile" \
	--auth-host=scram-sha-256 --auth-local=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 ||
	{ cat "$work/initdb.log" >&2; exit 1; }
rm -f "$work/pwfile"

server_opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories='$work'"
server_opts+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on -c wal_sync_method=fdatasync"
server_opts+=" -c autovacuum=off -c max_connections=20"

# A free port: the first in a random walk that nothing answers on and the server then binds.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 20); do
	port=$((20000 + RANDOM % 40000))
	port_free "$port" || continue
	if "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -l "$work/server.log" -w -t 60 start -o "$server_opts -c port=$port" >/dev/null; then
		started=true
		break
	fi
	tail -n 5 "$work/server.log" >&2 || true
done
$started || { echo "could not start PostgreSQL on a free port" >&2; exit 1; }
log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync=on, synchronous_commit=on, autovacuum=off), data in $pgdata"

export VISIONA_BENCH_POSTGRES_URL="postgres://postgres:$password@127.0.0.1:$port/postgres?sslmode=disable"
out=$work/bench.txt

# One test binary, run ROUNDS times with -count=1: each round runs every sub-benchmark once, ours
# and stock back to back, so load that drifts over minutes (other jobs on a shared machine) is
# spread over both drivers instead of landing on whichever -count=N happened to run then.
log "building the benchmark"
go test -c -o "$work/bench.test" ./bench
log "running $ROUNDS rounds of: go test ./bench -run '^\$' -bench '$BENCH_REGEX' -benchtime=$BENCH_TIME -count=1"
for round in $(seq 1 "$ROUNDS"); do
	log "round $round/$ROUNDS"
	(cd bench && "$work/bench.test" -test.run '^$' -test.bench "$BENCH_REGEX" -test.benchtime="$BENCH_TIME" -test.count=1 -test.timeout=30m) | tee -a "$out"
done
if [[ -n ${BENCH_OUT:-} ]]; then cp "$out" "$BENCH_OUT"; fi

benchstat=()
if command -v benchstat >/dev/null 2>&1; then
	benchstat=(benchstat)
elif GOBIN="$work/bin" go install golang.org/x/perf/cmd/benchstat@latest 2>"$work/benchstat.log"; then
	benchstat=("$work/bin/benchstat")
fi
# The round-trip benchmark compares modes (the proof against a plain up + down), not drivers.
if grep -q '^BenchmarkRoundTrip/' "$out"; then
	if [[ ${#benchstat[@]} -gt 0 ]]; then
		echo
		log "benchstat, the round-trip proof against a plain up-all + down-all (columns: mode)"
		"${benchstat[@]}" -col /mode -filter '.name:RoundTrip' "$out"
	fi
	echo
	log "proof / plain up-all + down-all, medians of $ROUNDS samples"
	awk "$awk_median"'
	/^BenchmarkRoundTrip\// {
		name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkRoundTrip\//, "", name)
		mode = name; sub(/.*\/mode=/, "", mode); sub(/\/mode=.*/, "", name)
		if (!(name in seen)) { seen[name] = 1; order[++nh] = name }
		for (i = 3; i < NF; i++) if ($(i+1) == "ns/op") val[name SUBSEP mode, ++cnt[name SUBSEP mode]] = $i
	}
	END {
		for (h = 1; h <= nh; h++) {
			p = median(order[h] SUBSEP "plain-up-down"); r = median(order[h] SUBSEP "roundtrip")
			printf "%-28s plain %6.2f s   proof %6.2f s   proof/plain %.2f\n", order[h], p / 1e9, r / 1e9, r / p
		}
	}' "$out"
fi
if ! grep -q '^Benchmark\(Up\|Down\)/' "$out"; then
	exit 0
fi
if [[ ${#benchstat[@]} -gt 0 ]]; then
	echo
	log "benchstat, visiona against stock-pgx5 (columns: driver; stock's delta is relative to ours)"
	"${benchstat[@]}" -col /driver "$out"
else
	log "benchstat not available (go install golang.org/x/perf/cmd/benchstat@latest failed: see below): skipping the comparison table"
	cat "$work/benchstat.log" >&2
fi

# Median sec/op (as benchstat reports it) and commits/migration per driver at n=1000, and the ratio.
echo
log "ours (visiona) / stock (stock-pgx5) at n=1000, medians of $ROUNDS samples"
awk "$awk_median"'
	/^Benchmark(Up|Down)\/n=1000\/driver=/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		split(name, p, "/"); key = substr(p[1], 10) SUBSEP substr(p[3], 8)
		for (i = 3; i < NF; i++) {
			if ($(i+1) == "ns/op") val[key, ++cnt[key]] = $i
			if ($(i+1) == "commits/migration") cm[key] = $i
		}
	}
	END {
		bad = 0
		for (k = 1; k <= 2; k++) {
			op = (k == 1) ? "Up" : "Down"; ours = op SUBSEP "visiona"; stock = op SUBSEP "stock-pgx5"
			if (!cnt[ours] || !cnt[stock]) { printf "%-4s missing results\n", op; bad = 1; continue }
			o = median(ours); s = median(stock)
			printf "%-4s visiona %6.3f s (%.3f commits/migration)   stock-pgx5 %6.3f s (%.3f commits/migration)   ours/stock %.2f\n",
				op, o / 1e9, cm[ours], s / 1e9, cm[stock], o / s
		}
		exit bad
	}' "$out"
