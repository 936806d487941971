#!/usr/bin/env bash
# The bench command: builds the release binary and the bench driver, then runs a bench and prints its
# figures (record them in BENCHMARKS.md with the date and commit).
# Usage: scripts/bench.sh chat [--rates 500,1000,2000] [--seconds 5] [--sequential 300] [--sims-nice 10]
#        scripts/bench.sh admin [--rows 1000000] [--requests 200] [--databases sqlite,postgres]   (PostgreSQL: DC_BENCH_POSTGRES_URL)
#        scripts/bench.sh retrieval [--sizes 1000,10000,100000] [--requests 600] [--databases sqlite,postgres]
#        scripts/bench.sh cluster [--instances 1,3] [--burst 3000]   (PostgreSQL: DC_BENCH_POSTGRES_URL)
#        scripts/bench.sh startup [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-chat}"; shift || true
if [ "$what" = startup ]; then exec scripts/bench-startup.sh "$@"; fi
cargo build --release -q -p disconcierge -p disconcierge-bench
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
exec "$target/release/disconcierge-bench" "$what" --bin "$target/release/disconcierge" "$@"
