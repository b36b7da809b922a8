#!/usr/bin/env bash
# Air-gapped test environment: a Docker engine plus locally built PostgreSQL 15 and Redis 7
# images, for machines that reach Debian's packages but no container registry.
#
#   bash build/testenv/setup.sh && source build/testenv/env.sh
#
# Idempotent: every step is skipped when its result is already there, so CI can run it on
# every job. Needs root (apt, dockerd, debootstrap). No prompts, no stdin.
#
# Overrides (all optional):
#   VISIONA_TESTENV_MIRROR   Debian mirror URL for debootstrap (default: read from apt sources)
#   VISIONA_TESTENV_LOGDIR   where step logs go (default: /tmp/visiona-testenv)
set -euo pipefail

readonly SUITE=bookworm # postgresql-15 is bookworm's PostgreSQL; another suite means another major
readonly BASE_IMAGE=visiona-local/testenv-base:${SUITE}
readonly PG_IMAGE=visiona-local/postgres:15
readonly REDIS_IMAGE=visiona-local/redis:7
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly LOGDIR=${VISIONA_TESTENV_LOGDIR:-/tmp/visiona-testenv}
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
	if image_present "$PG_IMAGE" && image_present "$REDIS_IMAGE"; then
		note "skip: not needed, ${PG_IMAGE} and ${REDIS_IMAGE} present"
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
	# postgresql-15 and redis-server pull in their own dependencies; nothing else is needed:
	# the entrypoints use bash, coreutils, util-linux (setpriv) from minbase.
	debootstrap --variant=minbase --components=main --include=postgresql-15,redis-server \
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
			--message "debootstrap ${SUITE} minbase + postgresql-15 redis-server" - "$BASE_IMAGE" || {
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

# A build is redone when its directory's content changed since the image was built (the
# hash is a label), so editing an entrypoint takes effect on the next run.
context_hash() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }

build_image() {
	local image=$1 dir=$2 hash have
	hash=$(context_hash "$dir")
	have=$(docker image inspect -f '{{ index .Config.Labels "visiona.testenv.hash" }}' "$image" 2>/dev/null || true)
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

build_postgres() { build_image "$PG_IMAGE" "$HERE/postgres"; }
build_redis() { build_image "$REDIS_IMAGE" "$HERE/redis"; }

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
if ! { image_present "$PG_IMAGE" && image_present "$REDIS_IMAGE"; }; then
	step "install debootstrap" install_debootstrap
fi
step "base image (debootstrap+import)" build_base
step "build ${PG_IMAGE}" build_postgres
step "build ${REDIS_IMAGE}" build_redis
step "leftover test containers" warn_leftovers
printf '[testenv] %-40s %7s\n' "total" "$(fmt_ms $(($(now_ms) - total)))"

echo "# test environment ready; export these (or: source build/testenv/env.sh):"
sed -n 's/^export /export /p' "$HERE/env.sh"
