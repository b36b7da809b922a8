#!/usr/bin/env bash
# Entrypoint of the local PostgreSQL test image. Written from the contract of the official
# postgres image's entrypoint, as far as testcontainers-go's postgres module relies on it:
#
#   POSTGRES_PASSWORD   superuser password (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER       superuser name (default postgres)
#   POSTGRES_DB         database created at initialisation (default: POSTGRES_USER)
#   PGDATA              data directory (default /var/lib/postgresql/data; may be a tmpfs)
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256)
#   /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz run once, in name order, on a fresh PGDATA
#   CMD "postgres [args]" or bare "-c key=value" args, passed through to the server
#
# On a fresh PGDATA it runs initdb, then a temporary server listening on the unix socket only
# (so nothing outside can connect to a half-initialised database) for POSTGRES_DB and the
# init scripts, stops it, and execs the real server. Hence "database system is ready to
# accept connections" appears twice, as in the official image.
#
# Most starts ask for the defaults (superuser postgres, a password, scram-sha-256, no initdb
# arguments, no init scripts): then PGDATA is a copy of the cluster initialised when the image
# was built ($PGTEMPLATE), the password is set and POSTGRES_DB created by the server in
# single-user mode, and the real server starts: no initdb, no temporary server, and the ready
# line appears once. A client must therefore wait until a query over the published port
# succeeds (what internal/testenv does), which is right for both images: neither temporary
# server listens on TCP.
#
# Deliberately no "set -u": init scripts ending in .sh are sourced, as the official image does,
# and must not break on variables they do not set.
set -Eeo pipefail

log() { echo "entrypoint: $*"; }
fail() {
	echo "entrypoint: error: $*" >&2
	exit 1
}

export PGDATA=${PGDATA:-/var/lib/postgresql/data}
export POSTGRES_USER=${POSTGRES_USER:-postgres}
export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

# What every cluster of this image gets after initdb, the build's template included.
configure() { # configure DIR AUTH
	# Connections through the published port come from the bridge network, not loopback.
	printf '\nhost all all all %s\n' "$2" >>"$1/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$1/postgresql.conf"
	# Where Debian's psql looks (a server build's compiled-in default may be /tmp).
	printf "unix_socket_directories = '/var/run/postgresql'\n" >>"$1/postgresql.conf"
}

# The image's build configures its template cluster with this script.
if [[ ${1:-} == --configure && $# == 3 ]]; then
	configure "$2" "$3"
	exit 0
fi

# Bare options (the module's "-c fsync=off" style) mean: run the server with them.
if [[ ${1:-} == -* ]]; then
	set -- postgres "$@"
fi

if [[ ${1:-} != postgres ]]; then
	exec "$@" # anything else (psql, bash, ...) runs as given
fi

# As root: prepare directories that may be fresh mounts (a tmpfs PGDATA belongs to root),
# then re-run this script as postgres. setpriv is in util-linux, so no gosu is needed.
if [[ $(id -u) == 0 ]]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	HOME=$(getent passwd postgres | cut -d: -f6)
	export HOME
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

psql_init() { # psql as the superuser over the temporary server's unix socket
	psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

initialise() {
	local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	if [[ -z ${POSTGRES_PASSWORD:-} && $auth != trust ]]; then
		fail "POSTGRES_PASSWORD is not set: set it (it becomes the password of ${POSTGRES_USER}), or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without one"
	fi

	log "initdb in ${PGDATA} (superuser ${POSTGRES_USER})"
	local initdb_args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$auth" --encoding=UTF8)
	# shellcheck disable=SC2206 # POSTGRES_INITDB_ARGS is a word list by contract
	initdb_args+=(${POSTGRES_INITDB_ARGS:-})
	if [[ -n ${POSTGRES_PASSWORD:-} ]]; then
		# The password goes through a pipe, never through a command line (ps would show it).
		initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD")
	else
		initdb "${initdb_args[@]}"
	fi

	configure "$PGDATA" "$auth"

	log "temporary server (unix socket only) for initialisation"
	pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p ${PGPORT:-5432}" start

	if [[ $POSTGRES_DB != postgres ]]; then
		local exists
		exists=$(psql_init --dbname postgres --set db="$POSTGRES_DB" -tA <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
		if [[ -z $exists ]]; then
			log "creating database ${POSTGRES_DB}"
			psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
		fi
	fi

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[[ -e $f ]] || continue
		case $f in
		*.sh)
			if [[ -x $f ]]; then
				log "running $f"
				"$f"
			else
				log "sourcing $f"
				# shellcheck disable=SC1090
				. "$f"
			fi
			;;
		*.sql)
			log "running $f"
			psql_init --dbname "$POSTGRES_DB" -f "$f"
			;;
		*.sql.gz)
			log "running $f"
			gzip -dc "$f" | psql_init --dbname "$POSTGRES_DB"
			;;
		*) log "ignoring $f" ;;
		esac
	done

	pg_ctl -D "$PGDATA" -m fast -w stop
	log "initialisation complete; starting the server"
}

# template_fits: the start asks for exactly what the template was initialised with (initdb's
# locale and time zone come from the environment), into an empty PGDATA, with nothing to run.
template_fits() {
	[[ -s ${PGTEMPLATE:-}/PG_VERSION && -z $(ls -A "$PGDATA") ]] &&
		[[ $POSTGRES_USER == postgres && -z ${POSTGRES_INITDB_ARGS:-} ]] &&
		[[ ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256} == scram-sha-256 ]] &&
		# single-user mode ends a statement at a newline
		[[ -n ${POSTGRES_PASSWORD:-} && $POSTGRES_PASSWORD != *$'\n'* && $POSTGRES_DB != *$'\n'* ]] &&
		[[ ${LANG:-} == C.UTF-8 && -z ${LC_ALL:-}${LC_CTYPE:-}${LC_COLLATE:-}${LC_MESSAGES:-}${TZ:-} ]] &&
		! compgen -G '/docker-entrypoint-initdb.d/*' >/dev/null
}

from_template() {
	log "copying the cluster initialised at build time to ${PGDATA} (superuser ${POSTGRES_USER})"
	cp -a "$PGTEMPLATE/." "$PGDATA/"
	local q="'" dq='"' sql
	sql="ALTER ROLE postgres PASSWORD '${POSTGRES_PASSWORD//$q/$q$q}';"
	if [[ $POSTGRES_DB != postgres ]]; then
		log "creating database ${POSTGRES_DB}"
		sql+=$'\n'"CREATE DATABASE \"${POSTGRES_DB//$dq/$dq$dq}\";"
	fi
	# Through stdin, never the command line (ps would show the password); a failing statement is
	# not logged (it holds the password) and fails the start (exit_on_error); the backend's echo
	# of results is dropped.
	postgres --single -D "$PGDATA" -c log_min_error_statement=panic -c exit_on_error=on postgres <<<"$sql" >/dev/null
	log "initialisation complete; starting the server"
}

if [[ -s $PGDATA/PG_VERSION ]]; then
	log "${PGDATA} already holds a database; skipping initialisation"
elif template_fits; then
	from_template
else
	initialise
fi

exec "$@"
