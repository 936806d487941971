#!/usr/bin/env bash
# Startup time and idle memory of the release binary: time from exec to /readyz answering 200, on a fresh
# SQLite file and on an existing one, and resident memory after one idle second. Prints the figures.
# Usage: scripts/bench-startup.sh [runs]   (builds the release binary first)
set -euo pipefail
runs="${1:-5}"
cd "$(dirname "$0")/.."
cargo build --release -q -p disconcierge
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/disconcierge"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
measure() { # $1 = fresh|existing
  [ "$1" = fresh ] && rm -f "$work"/*.sqlite3*
  local start pid ready rss
  start=$(date +%s%N)
  (cd "$work" && DC_API_LISTEN="127.0.0.1:$port" exec "$bin" run >/dev/null 2>&1) & pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.002; done
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  sleep 1
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid"
  echo "$ready $rss"
}
for kind in fresh existing; do
  results=()
  for _ in $(seq "$runs"); do results+=("$(measure "$kind")"); done
  printf '%s\n' "${results[@]}" | sort -n | awk -v kind="$kind" '
    { t[NR]=$1; r[NR]=$2 } END { printf "%-8s database: ready in median %d ms (min %d, max %d), idle RSS median %.1f MB over %d runs\n",
      kind, t[int((NR+1)/2)], t[1], t[NR], r[int((NR+1)/2)]/1024, NR }'
done
