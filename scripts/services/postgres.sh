#!/usr/bin/env bash
# PostgreSQL for the tests: installs Debian's package when missing, runs a
# private cluster as an unprivileged user on 127.0.0.1:$PGPORT, trust auth.
#   postgres.sh start | stop
# start writes $LOGPIPE_RUN/postgres.env with LOGPIPE_TEST_POSTGRES_DSN.
source "$(dirname "$0")/lib.sh"
PGPORT=${LOGPIPE_PG_PORT:-54329}
# As root the server runs as the postgres user, which must reach its data
# directory: keep it out of the checkout (which may sit under a private
# home directory) then.
if [ "$(id -u)" = 0 ]; then
  DATA=${LOGPIPE_PG_DATA:-/var/tmp/logpipe-postgres-$PGPORT}
else
  DATA=${LOGPIPE_PG_DATA:-$LOGPIPE_RUN/postgres}
fi
PIDFILE=$LOGPIPE_RUN/postgres.pid

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && { echo "$d"; return; }; done
}

start() {
  local bin
  bin=$(find_bin || true)
  if [ -z "$bin" ]; then
    log "installing PostgreSQL from Debian's packages"
    apt_install postgresql
    bin=$(find_bin) || die "PostgreSQL did not install"
  fi
  # PostgreSQL refuses to run as root: use the postgres user when we are root.
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || as_root useradd -r -m postgres
    run=(runuser -u postgres --)
  fi
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "already running"
  else
    rm -rf "$DATA"; mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres "$DATA"
    "${run[@]}" "$bin/initdb" -D "$DATA" -U postgres -A trust --no-sync >/dev/null
    "${run[@]}" "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $DATA -c fsync=off -c max_connections=200" start >/dev/null
    head -1 "$DATA/postmaster.pid" > "$PIDFILE"
  fi
  wait_port 127.0.0.1 "$PGPORT" 30 || die "PostgreSQL is not answering on $PGPORT"
  echo "export LOGPIPE_TEST_POSTGRES_DSN='host=127.0.0.1 port=$PGPORT user=postgres sslmode=disable'" > "$LOGPIPE_RUN/postgres.env"
  log "PostgreSQL on 127.0.0.1:$PGPORT"
}

stop() {
  local bin; bin=$(find_bin || true)
  if [ -n "$bin" ] && [ -f "$DATA/postmaster.pid" ]; then
    local run=(); [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
    "${run[@]}" "$bin/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -f "$PIDFILE" "$LOGPIPE_RUN/postgres.env"
}

case "${1:-}" in start) start ;; stop) stop ;; *) echo "usage: $0 start|stop" >&2; exit 2 ;; esac
