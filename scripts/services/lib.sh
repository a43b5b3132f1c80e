# Shared helpers for scripts/services/*.sh. Sourced, not run.
# Every service keeps its downloads under $LOGPIPE_CACHE (kept between runs)
# and its run state (data, logs, pid, env file) under $LOGPIPE_RUN.
set -euo pipefail
LOGPIPE_ROOT=${LOGPIPE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LOGPIPE_CACHE=${LOGPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logpipe-go}
LOGPIPE_RUN=${LOGPIPE_RUN:-$LOGPIPE_ROOT/.run}
mkdir -p "$LOGPIPE_CACHE" "$LOGPIPE_RUN"

log() { echo "[$(basename "$0" .sh)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_port HOST PORT SECONDS: wait until a TCP port accepts connections.
wait_port() {
  local host=$1 port=$2 secs=${3:-60} i
  for ((i = 0; i < secs * 4; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.25
  done
  return 1
}

# stop_pidfile FILE: stop the process group recorded in FILE, if running.
stop_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# as_root CMD...: run with root rights (sudo when not root).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_install PKG...: install Debian packages. Service scripts start side by
# side, so apt runs are serialized with a lock (apt itself fails at once on a
# held lock); the package lists are updated once per run.
apt_install() {
  (
    flock 9
    if [ ! -f "$LOGPIPE_RUN/.apt-updated" ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
      touch "$LOGPIPE_RUN/.apt-updated"
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
  ) 9>"$LOGPIPE_CACHE/apt.lock"
}
