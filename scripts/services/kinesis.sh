#!/usr/bin/env bash
# A Kinesis emulator for the tests: kinesis-mock's JavaScript build (npm
# package kinesis-local), installed once with npm into $LOGPIPE_CACHE and run
# with Node on 127.0.0.1, plain HTTP, with no stream creation, deletion or
# resharding delay.
#   kinesis.sh start | stop
# start writes $LOGPIPE_RUN/kinesis.env with LOGPIPE_TEST_KINESIS_ENDPOINT.
#
# kinesis-mock has no setting for its listen address (its code binds every
# interface). A small Node preload script, loaded with --require, rewrites
# the host of every net.Server.listen call to 127.0.0.1 before the emulator
# starts; start then checks that nothing of it listens elsewhere.
source "$(dirname "$0")/lib.sh"
KINESIS_LOCAL_VERSION=${LOGPIPE_KINESIS_LOCAL_VERSION:-0.6.2}
PORT=${LOGPIPE_KINESIS_PORT:-14567}        # plain HTTP, what the tests use
TLS_PORT=${LOGPIPE_KINESIS_TLS_PORT:-14566} # HTTPS, unused but opened by the emulator
HOME_DIR=$LOGPIPE_CACHE/kinesis-local-$KINESIS_LOCAL_VERSION
MAIN=$HOME_DIR/node_modules/kinesis-local/main.js
STATE=$LOGPIPE_RUN/kinesis
PIDFILE=$LOGPIPE_RUN/kinesis.pid

install() {
  [ -f "$HOME_DIR/.complete" ] && [ -f "$MAIN" ] && return 0
  command -v npm >/dev/null || die "npm is needed to install kinesis-local"
  log "installing kinesis-local $KINESIS_LOCAL_VERSION with npm"
  # Install into a temporary folder and rename, so that an interrupted
  # install is never taken for a complete one.
  rm -rf "$HOME_DIR.tmp"; mkdir -p "$HOME_DIR.tmp"
  if ! npm install --no-audit --no-fund --prefix "$HOME_DIR.tmp" "kinesis-local@$KINESIS_LOCAL_VERSION" >"$LOGPIPE_RUN/kinesis.npm.log" 2>&1; then
    tail -n 20 "$LOGPIPE_RUN/kinesis.npm.log" >&2
    die "npm could not install kinesis-local@$KINESIS_LOCAL_VERSION (log: $LOGPIPE_RUN/kinesis.npm.log)"
  fi
  [ -f "$HOME_DIR.tmp/node_modules/kinesis-local/main.js" ] || die "kinesis-local main.js missing after install"
  rm -rf "$HOME_DIR"; mv "$HOME_DIR.tmp" "$HOME_DIR"
  touch "$HOME_DIR/.complete"
}

write_preload() {
  mkdir -p "$STATE"
  cat >"$STATE/loopback.js" <<'EOF'
// Loaded with node --require before kinesis-mock: every server it opens
// listens on 127.0.0.1 only, whatever host its code asks for.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args.length > 0 && args[0] !== null && typeof args[0] === "object" && !Array.isArray(args[0])) {
    args[0] = Object.assign({}, args[0], { host: "127.0.0.1" });
  } else if (typeof args[0] === "number" || (typeof args[0] === "string" && /^\d+$/.test(args[0]))) {
    if (typeof args[1] === "string") args[1] = "127.0.0.1";
    else args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
EOF
}

# check_loopback_only PID: fail when the emulator listens on anything but
# 127.0.0.1 (checked with ss when iproute2 is installed).
check_loopback_only() {
  local pid=$1 bad
  command -v ss >/dev/null || { log "ss not installed: listen address not checked"; return 0; }
  bad=$(ss -ltnpH 2>/dev/null | grep -F "pid=$pid," | awk '{print $4}' | grep -v '^127\.0\.0\.1:' || true)
  [ -z "$bad" ] || die "the emulator listens on $bad, not only 127.0.0.1"
}

start() {
  command -v node >/dev/null || die "Node.js is needed to run kinesis-local"
  install
  write_preload
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "already running"
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      die "port $PORT is already in use by another program: stop it or set LOGPIPE_KINESIS_PORT"
    fi
    (
      cd "$STATE"
      export KINESIS_MOCK_PLAIN_PORT=$PORT KINESIS_MOCK_TLS_PORT=$TLS_PORT
      export KINESIS_MOCK_CERT_PATH=$HOME_DIR/node_modules/kinesis-local/server.json
      export AWS_REGION=us-east-1 SHARD_LIMIT=2000 ON_DEMAND_STREAM_COUNT_LIMIT=100
      export SHOULD_PERSIST_DATA=false LOAD_DATA_IF_EXISTS=false LOG_LEVEL=${LOGPIPE_KINESIS_LOG_LEVEL:-WARN}
      for d in CREATE_STREAM DELETE_STREAM REGISTER_STREAM_CONSUMER DEREGISTER_STREAM_CONSUMER \
               START_STREAM_ENCRYPTION STOP_STREAM_ENCRYPTION MERGE_SHARDS SPLIT_SHARD \
               UPDATE_SHARD_COUNT UPDATE_STREAM_MODE; do
        export "${d}_DURATION=0ms"
      done
      exec setsid node --require "$STATE/loopback.js" "$MAIN" >"$STATE/server.log" 2>&1
    ) &
    echo $! >"$PIDFILE"
  fi
  if ! wait_port 127.0.0.1 "$PORT" 60; then
    tail -20 "$STATE/server.log" >&2 || true
    die "the Kinesis emulator is not answering on $PORT"
  fi
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { tail -20 "$STATE/server.log" >&2 || true; die "the Kinesis emulator exited"; }
  check_loopback_only "$(cat "$PIDFILE")"
  echo "export LOGPIPE_TEST_KINESIS_ENDPOINT=http://127.0.0.1:$PORT" >"$LOGPIPE_RUN/kinesis.env"
  log "Kinesis emulator (kinesis-local $KINESIS_LOCAL_VERSION) on http://127.0.0.1:$PORT"
}

stop() {
  stop_pidfile "$PIDFILE"
  rm -f "$LOGPIPE_RUN/kinesis.env"
}

case "${1:-}" in start) start ;; stop) stop ;; *) echo "usage: $0 start|stop" >&2; exit 2 ;; esac
