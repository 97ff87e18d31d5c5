#!/bin/sh
# `make run`: a job worker in the background (one process per core unless ACCESSIBLE_LIB_WORKERS says
# otherwise) and the web app in the foreground. When the web app stops (Ctrl-C, or it fails), the worker is
# stopped too; a job it was running comes back through its expired lease when the library starts again.
set -u
cd "$(dirname "$0")/.."
# Host and port given here override the ACCESSIBLE_LIB_HOST and ACCESSIBLE_LIB_PORT settings; empty, serve uses them.
HOST=${1:-}
PORT=${2:-}

.venv/bin/accessible-lib worker &
worker=$!
stop_worker() {
    if kill -0 "$worker" 2>/dev/null; then
        kill -TERM "$worker" 2>/dev/null
        wait "$worker" 2>/dev/null
    fi
}
trap stop_worker EXIT
trap 'exit 130' INT TERM

.venv/bin/accessible-lib serve ${HOST:+--host "$HOST"} ${PORT:+--port "$PORT"}
