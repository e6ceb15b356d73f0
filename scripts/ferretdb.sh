#!/usr/bin/env bash
# Provisions a local FerretDB (MongoDB wire protocol over SQLite) for the MongoDB store tests.
#
#   scripts/ferretdb.sh start    build if needed, start on 127.0.0.1:$FERRETDB_PORT with a fresh,
#                                empty data dir, wait until it accepts connections, and print
#                                `export MONGODB_URI=...` on stdout (so: eval "$(scripts/ferretdb.sh start)")
#   scripts/ferretdb.sh stop     stop the instance started by `start` (by its recorded pid)
#   scripts/ferretdb.sh status   exit 0 and print the URI when it is running, exit 1 otherwise
#   scripts/ferretdb.sh uri      print the URI
#   scripts/ferretdb.sh bin      print the path of a usable ferretdb binary (building it if needed)
#
# Environment: FERRETDB_PORT (default 27017), FERRETDB_BIN (a ferretdb v1 binary to use),
# FERRETDB_HOME (state: pid, data, log; default /tmp/expressionist-ferretdb-$FERRETDB_PORT).
#
# Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: that binary panics
# at start-up ("Invalid build/version/version.txt file content") because the module zip lacks the
# generated build/version/version.txt. So we build it from a copy of the module source with that
# file written, once, into $XDG_CACHE_HOME/expressionist/ (only the Go module proxy is needed).
set -euo pipefail
shopt -s inherit_errexit

VERSION=v1.24.2
PORT="${FERRETDB_PORT:-27017}"
HOME_DIR="${FERRETDB_HOME:-/tmp/expressionist-ferretdb-$PORT}"
PID_FILE="$HOME_DIR/ferretdb.pid"
LOG_FILE="$HOME_DIR/ferretdb.log"
DATA_DIR="$HOME_DIR/data"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/expressionist"
BUILT_BIN="$CACHE_DIR/ferretdb-$VERSION"
URI="mongodb://127.0.0.1:$PORT/"
START_TIMEOUT_S=30

log() { echo "ferretdb.sh: $*" >&2; }

# A binary is usable when `--version` works (the plain `go install` build panics) and it is v1
# (v2 dropped the SQLite handler).
usable() {
  local bin="$1" out
  [[ -x "$bin" ]] || return 1
  out="$("$bin" --version 2>/dev/null)" || return 1
  grep -q '^version: v1\.' <<<"$out"
}

build() {
  command -v go >/dev/null || {
    log "no usable ferretdb binary and no Go toolchain to build one"
    return 1
  }
  log "building FerretDB $VERSION into $BUILT_BIN (one-time, ~1 min)"
  local src work
  src="$(cd / && go mod download -json "github.com/FerretDB/FerretDB@$VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$src" && -d "$src" ]] || {
    log "go mod download github.com/FerretDB/FerretDB@$VERSION failed"
    return 1
  }
  work="$(mktemp -d /tmp/ferretdb-src.XXXXXX)"
  cp -R "$src/." "$work/"
  chmod -R u+w "$work"
  echo "$VERSION" >"$work/build/version/version.txt"
  mkdir -p "$CACHE_DIR"
  (cd "$work" && go build -buildvcs=false -trimpath -o "$BUILT_BIN.tmp" ./cmd/ferretdb)
  mv "$BUILT_BIN.tmp" "$BUILT_BIN"
  rm -rf "$work"
}

find_bin() {
  local candidates=()
  [[ -n "${FERRETDB_BIN:-}" ]] && candidates+=("$FERRETDB_BIN")
  candidates+=("$BUILT_BIN")
  command -v ferretdb >/dev/null && candidates+=("$(command -v ferretdb)")
  command -v go >/dev/null && candidates+=("$(go env GOPATH)/bin/ferretdb")
  local bin
  for bin in "${candidates[@]}"; do
    if usable "$bin"; then
      echo "$bin"
      return 0
    fi
  done
  build >&2
  usable "$BUILT_BIN" || {
    log "the built $BUILT_BIN does not run"
    return 1
  }
  echo "$BUILT_BIN"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: it must still be a ferretdb process.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ferretdb || return 1
  echo "$pid"
}

start() {
  if running_pid >/dev/null && port_open; then
    log "already running (pid $(cat "$PID_FILE")) on 127.0.0.1:$PORT"
    echo "export MONGODB_URI=$URI"
    return 0
  fi
  if port_open; then
    log "127.0.0.1:$PORT is already in use by another process; set FERRETDB_PORT"
    return 1
  fi
  local bin
  bin="$(find_bin)"
  mkdir -p "$HOME_DIR"
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR"
  log "starting $bin ($("$bin" --version | head -1)) on 127.0.0.1:$PORT, data in $DATA_DIR, log in $LOG_FILE"
  nohup "$bin" \
    --handler=sqlite \
    --sqlite-url="file:$DATA_DIR/" \
    --listen-addr="127.0.0.1:$PORT" \
    --state-dir=- \
    --debug-addr=- \
    --telemetry=disable \
    --log-level=warn \
    >"$LOG_FILE" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until port_open; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "ferretdb exited during start-up; log:"
      tail -n 30 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "not accepting connections after ${START_TIMEOUT_S}s; log:"
      tail -n 30 "$LOG_FILE" >&2 || true
      stop
      return 1
    fi
    sleep 0.2
  done
  log "ready (pid $pid)"
  echo "export MONGODB_URI=$URI"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop in 10s; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  log "stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if running_pid >/dev/null && port_open; then
      echo "export MONGODB_URI=$URI"
    else
      log "not running"
      exit 1
    fi
    ;;
  uri) echo "$URI" ;;
  bin) find_bin ;;
  *)
    echo "usage: $0 start|stop|status|uri|bin" >&2
    exit 2
    ;;
esac
