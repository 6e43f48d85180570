#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer,
# starting the local Debian services when they do not.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
	if ! command -v pg_ctlcluster >/dev/null; then
		echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
		exit 1
	fi
	echo "starting PostgreSQL"
	pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
	for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
	pg_up || { echo "PostgreSQL did not start" >&2; exit 1; }
fi

if ! redis_up; then
	if ! command -v redis-server >/dev/null; then
		echo "Redis is not installed: apt-get install -y redis-server" >&2
		exit 1
	fi
	echo "starting Redis"
	mkdir -p /var/lib/redis /var/log/redis
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/webhookdb.log
	for _ in $(seq 1 60); do redis_up && break; sleep 0.5; done
	redis_up || { echo "Redis did not start" >&2; exit 1; }
fi
