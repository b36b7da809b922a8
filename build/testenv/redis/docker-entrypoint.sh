#!/bin/sh
# Starts redis-server with the image's defaults (/etc/redis/testenv.conf) read first, whatever
# the command line. testcontainers-go's redis module replaces CMD with bare options
# ("--loglevel debug", "--save 1 1", TLS flags) or with a config file path first
# (WithConfigFile: "/usr/local/redis.conf ..."); redis-server takes at most one config file and
# only as its first argument, so a given file is passed as "--include FILE", which is read
# after the defaults and so overrides them.
set -eu

defaults=/etc/redis/testenv.conf

case "${1:-}" in
-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ] || [ "${1:-}" = /usr/bin/redis-server ]; then
	shift
	case "${1:-}" in
	*.conf)
		conf=$1
		shift
		set -- --include "$conf" "$@"
		;;
	esac
	exec redis-server "$defaults" "$@"
fi

exec "$@"
