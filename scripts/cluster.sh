#!/usr/bin/env bash
# Several instances behind nginx, tried on this machine: three disconcierge instances on one PostgreSQL
# database, Debian's nginx in front of their webhook and admin listeners (deploy/nginx.conf), and the
# simulated Discord and model (disconcierge-bench sims). The simulated Discord sends /chat through nginx
# (http://127.0.0.1:8001/discord/interactions) and the script checks the admin interface through nginx
# (http://127.0.0.1:8000), says how many were answered and who holds the gateway's shard, then stops
# everything. (Killing instances under load: `scripts/bench.sh cluster`; in the tests:
# crates/e2e/tests/cluster_takeover.rs.)
#
# Usage: scripts/cluster.sh                (needs PostgreSQL, nginx; builds the release binaries)
#   DC_CLUSTER_POSTGRES_URL   server to use (default postgres://postgres@127.0.0.1:5432/postgres); a
#                             database disconcierge_cluster is created on it and dropped at the end
#   KEEP=1                    leave everything running at the end (stop with: kill $(cat <dir>/pids))
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
server="${DC_CLUSTER_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="disconcierge_cluster"
database="${server%/*}/$db"
command -v nginx >/dev/null || { echo "nginx is needed (apt-get install nginx-light)" >&2; exit 1; }
command -v psql >/dev/null || { echo "psql is needed (apt-get install postgresql-client)" >&2; exit 1; }

cargo build --release -q -p disconcierge -p disconcierge-bench
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target/release/disconcierge"
bench="$target/release/disconcierge-bench"

dir="$(mktemp -d /tmp/disconcierge-cluster.XXXXXX)"
pids=()
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    printf '%s\n' "${pids[@]}" >"$dir/pids"
    echo "left running; logs in $dir; stop with: kill \$(cat $dir/pids); nginx -p $dir -c $root/deploy/nginx.conf -s stop"
    return
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  nginx -p "$dir" -c "$root/deploy/nginx.conf" -s stop 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$server" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  echo "logs were in $dir"
}
trap cleanup EXIT

psql -q "$server" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
psql -q "$server" -c "CREATE DATABASE $db"

# The simulators write the variables that point the instances at them, then wait for the bot.
"$bench" sims --env-out "$dir/sims.env" --ask-via http://127.0.0.1:8001/discord/interactions \
  --questions 12 >"$dir/sims.log" 2>&1 &
sims=$!
pids+=("$sims")
for _ in $(seq 1 100); do [ -f "$dir/sims.env" ] && break; sleep 0.1; done
[ -f "$dir/sims.env" ] || { cat "$dir/sims.log"; exit 1; }

start_instance() { # id api_port webhook_port
  (
    set -a
    # shellcheck disable=SC1091
    . "$dir/sims.env"
    set +a
    cd "$dir"
    exec env DC_DATABASE_TYPE=postgres DC_DATABASE="$database" DC_INSTANCE_ID="$1" \
      DC_API_LISTEN="127.0.0.1:$2" DC_DISCORD_WEBHOOK_SERVER_ENABLED=true \
      DC_DISCORD_WEBHOOK_SERVER_LISTEN="127.0.0.1:$3" DC_API_TRUSTED_PROXIES=127.0.0.1 \
      DC_DISCORD_GATEWAY_SHARD_LEASE=5s DC_QUEUE_LEASE=5s \
      "$bin" run >"$dir/$1.log" 2>&1
  ) &
  pids+=("$!")
}
start_instance a 5101 5201
start_instance b 5102 5202
start_instance c 5103 5203
# Each instance ready before nginx sends anything (it would mark a starting one as failed for 5 s).
for port in 5101 5102 5103; do
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
nginx -p "$dir" -c "$root/deploy/nginx.conf"
echo "admin through nginx: /readyz $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/readyz)," \
  "/healthz $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/healthz)"

# The simulated Discord asks its questions through nginx once the bot is connected.
wait "$sims"
cat "$dir/sims.log"
echo "questions answered (completed in the database): $(psql -qtA "$database" -c "SELECT COUNT(*) FROM chat_commands WHERE state = 'completed'")"
echo "gateway shards held: $(psql -qtA "$database" -c "SELECT string_agg(shard_id || ' by ' || owner, ', ') FROM gateway_shards WHERE owner IS NOT NULL")"
echo "instances registered: $(psql -qtA "$database" -c "SELECT string_agg(id, ', ' ORDER BY id) FROM instances WHERE stopped_at IS NULL")"
