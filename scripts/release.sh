#!/usr/bin/env bash
# Builds a release binary of disconcierge and puts it, stripped, into dist/ with its SHA-256 checksum:
#
#   dist/disconcierge-<version>-<target>
#   dist/disconcierge-<version>-<target>.sha256   (sha256sum format; check with: cd dist && sha256sum -c *.sha256)
#
# <version> is the `disconcierge` package's version (cargo metadata), <target> the Rust host triple (rustc -vV),
# or CARGO_BUILD_TARGET when that is set. Works from a clean clone; respects CARGO_TARGET_DIR (and any
# target-dir set in a cargo config). Exits non-zero on any failure.
#
# Usage: scripts/release.sh        (from anywhere; it works in the repository it belongs to)
set -euo pipefail

die() {
  printf 'release: error: %s\n' "$*" >&2
  exit 1
}
say() { printf 'release: %s\n' "$*" >&2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[[ -f Cargo.lock && -f crates/cli/Cargo.toml ]] || die "$root does not look like the disconcierge repository"

for tool in cargo rustc sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH"
done
if command -v strip >/dev/null 2>&1; then
  strip_cmd=(strip)
elif command -v objcopy >/dev/null 2>&1; then
  strip_cmd=(objcopy --strip-all)
else
  die "neither strip nor objcopy found (Debian/Ubuntu: apt-get install binutils)"
fi

# Reads one field out of `cargo metadata` JSON on stdin: "version" of package disconcierge, or
# "target_directory". jq or python3 when present, else plain text matching on cargo's compact output.
json_field() {
  local field="$1" json
  json="$(cat)"
  if command -v jq >/dev/null 2>&1; then
    case "$field" in
      version) jq -er '[.packages[] | select(.name == "disconcierge")][0].version' <<<"$json" ;;
      target_directory) jq -er '.target_directory' <<<"$json" ;;
      *) return 2 ;;
    esac
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c '
import json, sys
meta = json.load(sys.stdin)
if sys.argv[1] == "version":
    print(next(p["version"] for p in meta["packages"] if p["name"] == "disconcierge"))
else:
    print(meta["target_directory"])
' "$field" <<<"$json"
  else
    case "$field" in
      version)
        grep -o '"name":"disconcierge","version":"[^"]*"' <<<"$json" | head -n1 | sed 's/.*"version":"\([^"]*\)"/\1/'
        ;;
      target_directory)
        grep -o '"target_directory":"[^"]*"' <<<"$json" | head -n1 | sed 's/.*:"\([^"]*\)"/\1/'
        ;;
      *) return 2 ;;
    esac
  fi
}

metadata="$(cargo metadata --no-deps --format-version 1 --locked)" || die "cargo metadata failed"
version="$(json_field version <<<"$metadata")" || die "could not read the version of package disconcierge"
[[ -n "$version" ]] || die "package disconcierge has no version in cargo metadata"
target_dir="$(json_field target_directory <<<"$metadata")" || true
if [[ -z "$target_dir" ]]; then
  target_dir="${CARGO_TARGET_DIR:-$root/target}"
fi

host="$(rustc -vV | sed -n 's/^host: //p')"
[[ -n "$host" ]] || die "could not read the host triple from rustc -vV"
target="${CARGO_BUILD_TARGET:-$host}"
if [[ -n "${CARGO_BUILD_TARGET:-}" ]]; then
  bin="$target_dir/$target/release/disconcierge"
else
  bin="$target_dir/release/disconcierge"
fi

name="disconcierge-$version-$target"
say "building $name (target dir: $target_dir)"
rustc --version >&2
cargo build --release --locked -p disconcierge
[[ -x "$bin" ]] || die "cargo build succeeded but $bin is missing"

mkdir -p dist
out="dist/$name"
rm -f "$out" "$out.sha256"
cp "$bin" "$out"
"${strip_cmd[@]}" "$out"
chmod 0755 "$out"
(cd dist && sha256sum "$name" >"$name.sha256")

size="$(wc -c <"$out")"
say "wrote $out ($size bytes) and $out.sha256"
cat "$out.sha256"

# The binary names its version and git revision; running it also proves it starts on this machine.
# (A binary built for another target cannot run here: then only the checksum is printed.)
if [[ "$target" == "$host" ]]; then
  version_out="$("./$out" version)" || die "./$out version failed"
  printf '%s\n' "$version_out"
  "./$out" --version || die "./$out --version failed"
  case "$version_out" in
    *"$version"*) ;;
    *) die "./$out version does not mention $version" ;;
  esac
  case "$version_out" in
    *unknown*) say "warning: no git revision recorded (not built from a git checkout?)" ;;
    *-dirty*) say "warning: built from a work tree with uncommitted changes" ;;
    *) ;;
  esac
else
  say "cross build for $target: not running the binary on $host"
fi
