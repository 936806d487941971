#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database (cargo deny check advisories, with deny.toml's
# rules) where GitHub cannot be reached: from a local clone of https://github.com/rustsec/advisory-db.
#
#   scripts/advisories.sh /path/to/advisory-db     a clone (or a copy of one) of the database
#   scripts/advisories.sh                          GitHub reachable: cargo deny fetches the database itself
#
# The clone is copied to where cargo-deny keeps its database for the default URL, inside a scratch
# directory, and checked offline. Exits non-zero when a crate has an advisory deny.toml does not ignore.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v cargo-deny >/dev/null 2>&1 || { echo "advisories: cargo-deny not found (cargo install cargo-deny --locked)" >&2; exit 1; }
if [[ $# -eq 0 ]]; then
  exec cargo deny --locked check advisories
fi
db="$1"
git -C "$db" rev-parse HEAD >/dev/null 2>&1 || { echo "advisories: $db is not a git clone of the advisory database" >&2; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# cargo-deny's directory name for https://github.com/rustsec/advisory-db (its default db-urls).
cp -R "$db" "$scratch/advisory-db-3157b0e258782691"
sed "s|^\[advisories\]|[advisories]\ndb-path = \"$scratch\"|" deny.toml > "$scratch/deny.toml"
printf 'advisories: RustSec database at commit %s (%s)\n' \
  "$(git -C "$db" rev-parse --short HEAD)" "$(git -C "$db" log -1 --format=%cs)" >&2
cargo deny --offline --config "$scratch/deny.toml" check advisories
