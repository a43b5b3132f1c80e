#!/usr/bin/env bash
# The Python original for the interop tests: a virtual environment with
# django-logpipe 1.6.0, Django, DRF, kafka-python, boto3, msgpack and
# psycopg2, as pinned in testdata/django/requirements.txt. The venv lives in
# $LOGPIPE_CACHE under a name keyed by the requirements file's hash and the
# Python version, so it is built once and reused between runs. No server is
# started: the Go tests (internal/interop) run the test project's management
# commands with this venv's python.
#   django.sh start | stop
# start writes $LOGPIPE_RUN/django.env with LOGPIPE_TEST_DJANGO_PYTHON and
# LOGPIPE_TEST_DJANGO_PROJECT. stop only removes that file.
source "$(dirname "$0")/lib.sh"
PROJECT=$LOGPIPE_ROOT/testdata/django
REQS=$PROJECT/requirements.txt

# find_python: a Python 3.11 or newer (django-logpipe 1.6.0 requires it).
find_python() {
  local p
  for p in ${LOGPIPE_PYTHON:-} python3.11 python3.12 python3.13 python3; do
    command -v "$p" >/dev/null 2>&1 || continue
    if "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$p"; return 0
    fi
  done
  return 1
}

start() {
  [ -f "$REQS" ] || die "$REQS is missing"
  local py ver key venv
  py=$(find_python) || die "Python 3.11 or newer is needed for django-logpipe 1.6.0"
  ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  key=$(cat "$REQS" | sha256sum | cut -c1-16)
  venv=$LOGPIPE_CACHE/django-venv-py$ver-$key
  if [ ! -f "$venv/.complete" ]; then
    log "creating $venv (Python $ver) and installing django-logpipe"
    rm -rf "$venv"
    # Debian's Python may lack ensurepip; its venv package provides it.
    if ! "$py" -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      apt_install "python$ver-venv" || apt_install python3-venv \
        || die "could not install Python's venv module"
      "$py" -m venv "$venv" || die "could not create a virtual environment with $py"
    fi
    # Normally ~10 s; a stalled download is cut off and tried again.
    local try ok=0
    for try in 1 2 3; do
      if timeout 240 "$venv/bin/python" -m pip install -q --disable-pip-version-check --prefer-binary \
          --timeout 30 --retries 5 -r "$REQS" >&2; then
        ok=1; break
      fi
      log "pip install failed or stalled (attempt $try of 3)"
    done
    [ "$ok" = 1 ] || die "pip could not install $REQS"
    touch "$venv/.complete"
  fi
  # The project loads, its models and migrations are consistent, and the
  # original imports (it reads its settings at import time).
  (cd "$PROJECT" && LOGPIPE_DJANGO_DATABASE="sqlite:///$LOGPIPE_RUN/django-check.sqlite3" \
     "$venv/bin/python" -c 'import django, os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lptest.settings"); django.setup(); import logpipe' \
   && LOGPIPE_DJANGO_DATABASE="sqlite:///$LOGPIPE_RUN/django-check.sqlite3" \
     "$venv/bin/python" manage.py makemigrations --check --dry-run people >/dev/null) \
    || die "the Django test project does not load with $venv"
  rm -f "$LOGPIPE_RUN/django-check.sqlite3"
  {
    echo "export LOGPIPE_TEST_DJANGO_PYTHON='$venv/bin/python'"
    echo "export LOGPIPE_TEST_DJANGO_PROJECT='$PROJECT'"
  } >"$LOGPIPE_RUN/django.env"
  log "django-logpipe $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("django-logpipe"))') in $venv"
}

stop() {
  rm -f "$LOGPIPE_RUN/django.env"
}

case "${1:-}" in start) start ;; stop) stop ;; *) echo "usage: $0 start|stop" >&2; exit 2 ;; esac
