#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, starting them if
# they are down. In CI (CI=true) a service that cannot be had fails the run; elsewhere the
# tests that need it are skipped with a message.
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }

start_pg() {
  command -v pg_ctlcluster >/dev/null 2>&1 || return 1
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || return 1
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1
}

start_redis() {
  command -v redis-server >/dev/null 2>&1 || return 1
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1
}

ensure() {
  local name=$1 check=$2 start=$3
  $check && return 0
  echo "services: $name is down; starting it" >&2
  $start
  for _ in $(seq 1 60); do
    $check && { echo "services: $name is up" >&2; return 0; }
    sleep 0.5
  done
  if [ "${CI:-}" = "true" ]; then
    echo "services: $name could not be started, and CI requires it" >&2
    return 1
  fi
  echo "services: $name is unavailable; its tests will be skipped" >&2
  return 0
}

status=0
ensure PostgreSQL pg_up start_pg || status=1
ensure Redis redis_up start_redis || status=1
exit $status
