#!/usr/bin/env bash
# The two commands a newcomer needs:
#   ./run.sh dev    the whole platform with embedded MongoDB and Redis and demo data
#   ./run.sh test   install everything the tests need, lint, and run the full suite
# Each installs what it needs into ./.venv first (Python 3.11+ must be on PATH).
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.14 python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python=$candidate; break
    fi
  done
fi
[ -n "$python" ] || { echo "run.sh: Python 3.11 or newer is required" >&2; exit 1; }

install() {  # $1: the extras to install
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  stamp=".venv/.installed-$1-$(cksum pyproject.toml | cut -d' ' -f1)"
  if [ ! -f "$stamp" ]; then
    .venv/bin/python -P -m pip install --quiet --upgrade pip
    .venv/bin/python -P -m pip install --quiet -e ".[$1]"
    touch "$stamp"
  fi
}

command=${1:-}
shift || true
case "$command" in
  dev)
    install embedded
    exec .venv/bin/holdfast dev "$@"
    ;;
  test)
    install test
    # Browser tests drive Debian's Chromium (Playwright cannot download its own browsers here).
    if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "run.sh: installing chromium for the browser tests (apt)" >&2
      { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >/dev/null
    fi
    # deploy/prometheus/alerts.yml is checked by promtool, from Debian's `prometheus` package:
    # only the binary is unpacked into .venv/bin (installing the package would start a server).
    if ! command -v promtool >/dev/null 2>&1 && [ ! -x .venv/bin/promtool ] && command -v apt-get >/dev/null; then
      echo "run.sh: fetching promtool for the alert rules' test (apt)" >&2
      unpack=$(mktemp -d)
      if ( cd "$unpack" && { apt-get download -q prometheus || { apt-get update -q && apt-get download -q prometheus; }; } \
           && dpkg-deb -x prometheus_*.deb root ) >/dev/null 2>&1; then
        cp "$unpack/root/usr/bin/promtool" .venv/bin/promtool
      else
        echo "run.sh: could not fetch promtool; its test will say so" >&2
      fi
      rm -rf "$unpack"
    fi
    .venv/bin/ruff check platform promoter workers tests bench
    .venv/bin/mypy
    # Exit code 5 means no test ran: that is a failure here, not a pass.
    # Two test processes (HOLDFAST_TEST_PROCESSES; 0 = one, in this process): the tests that
    # run servers of their own go to one of them in turn (see tests/conftest.py).
    processes=${HOLDFAST_TEST_PROCESSES:-2}
    exec .venv/bin/pytest -q -p no:cacheprovider -n "$processes" "$@"
    ;;
  *)
    echo "usage: ./run.sh dev [--port P] | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
