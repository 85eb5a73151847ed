#!/usr/bin/env bash
# Packs CUDA-built scrawl binaries for a GPU machine that has the NVIDIA driver, CUDA 13 and
# PyTorch but none of our Debian libraries: builds `scrawl` and `test_gpu` (if needed), then
# fills .gpu-bundle/ at the repository root (git ignores it) with
#   bin/      scrawl, test_gpu
#   lib/      every shared library they load that a bare glibc system lacks (OpenCV, OpenBLAS,
#             gfortran, libgomp, TBB, image codecs, cudart, ...); lib/compat/ libstdc++ and
#             libgcc_s, used only where the machine's own are older
#   mnist/    the four MNIST IDX files
# Files over 1 MiB in lib/ and mnist/ travel gzipped; sourcing env.sh unpacks them once.
#   models/   the architecture files
#   env.sh    `source .gpu-bundle/env.sh` sets LD_LIBRARY_PATH, SCRAWL_BIN, SCRAWL_DATA, ...
#   MANIFEST.txt  what is in it, from where, and what was left out
# Left out: glibc and the driver (the machine's own); cuBLAS (570 MiB with cublasLt) and cuDNN
# (280 MiB for its convolution engines alone), which env.sh finds at run time beside PyTorch;
# GDAL and GDCM, which OpenCV's image reader links for GIS and DICOM files: tiny stand-ins whose
# functions return 0 (those readers then open nothing; PNG, JPEG, WebP, TIFF still read) keep the
# loader content and save about 130 MiB. See profiling/GPU.md.
#
# Usage: profiling/gpu_bundle.sh [BUILD_DIR] [--build-dir DIR] [--out DIR] [--data DIR]
#                                [--cuda-arch LIST] [--jobs N] [--no-build]
#   BUILD_DIR / --build-dir  build folder (default: build); configured with CUDA if it is new
#   --cuda-arch LIST   CMAKE_CUDA_ARCHITECTURES for a new build folder (default 90-real;90-virtual:
#                      the H100 and H200; CMakeLists.txt's own default adds Ampere)
#   --out DIR          bundle folder (default: .gpu-bundle at the repository root)
#   --data DIR         MNIST folder (default: $SCRAWL_DATA, else scripts/fetch_mnist.sh)
#   --jobs N           build jobs (default 2)
#   --no-build         bundle what the build folder holds
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf 'gpu_bundle: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

build_dir="build"
out=".gpu-bundle"
data="${SCRAWL_DATA:-}"
cuda_arch="90-real;90-virtual"
jobs=2
build=1
while (($#)); do
  case "$1" in
    --build-dir) build_dir="${2:?--build-dir needs a folder}"; shift 2 ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --data) data="${2:?--data needs a folder}"; shift 2 ;;
    --cuda-arch) cuda_arch="${2:?--cuda-arch needs a list}"; shift 2 ;;
    -j | --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    -*) die "unknown argument: $1 (try --help)" ;;
    *) build_dir="$1"; shift ;;
  esac
done

for tool in readelf nm ldd gcc gzip; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: binutils, libc-bin, gcc, gzip)"
done

# Libraries every glibc system has, and the driver: never bundled.
base_re='^(libc|libm|libpthread|libdl|librt|libresolv|libutil|libanl|libnsl|ld-linux-x86-64|libcuda|libnvidia-.*)\.so'
# Too large to carry (see the header); found on the GPU machine by env.sh.
runtime_re='^(libcublas|libcublasLt|libcudnn.*)\.so'
# Pulled in only by OpenCV's GIS and DICOM readers: replaced by stand-ins.
stubbed=(libgdal.so.32 libgdcmMSFF.so.3.0 libgdcmDSED.so.3.0)
compat_re='^(libstdc\+\+|libgcc_s)\.so'

# ---- build ----
bins=(scrawl test_gpu)
if ((build)); then
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    command -v nvcc >/dev/null || die "nvcc not on PATH: the bundle needs the CUDA backend"
    log "configure $build_dir (CUDA, architectures $cuda_arch)"
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSCRAWL_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES="$cuda_arch" >&2
  fi
  grep -q '^SCRAWL_CUDA:BOOL=ON' "$build_dir/CMakeCache.txt" ||
    die "$build_dir is configured without CUDA; pass a fresh --build-dir (e.g. build-gpub)"
  log "build: cmake --build $build_dir --parallel $jobs --target ${bins[*]}"
  cmake --build "$build_dir" --parallel "$jobs" --target "${bins[@]}" >&2
fi
for b in "${bins[@]}"; do
  [[ -x "$build_dir/$b" ]] || die "$build_dir/$b not found (run without --no-build)"
done
[[ "$(readelf -d "$build_dir/scrawl")" == *libcudart* ]] ||
  die "$build_dir/scrawl has no CUDA backend (built without nvcc?)"

# ---- data ----
if [[ -z "$data" ]]; then
  data="$(bash scripts/fetch_mnist.sh | tail -n 1)"
fi
idx=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
for f in "${idx[@]}"; do
  [[ -f "$data/$f" ]] || die "$data/$f not found (run scripts/fetch_mnist.sh or pass --data)"
done

# ---- the library closure ----
# Walks DT_NEEDED from the binaries, resolving names as the loader does on this machine (ldd),
# and stops at base, run-time and stubbed libraries, so what only those need stays out.
declare -A where=()  # soname -> path on this machine
for b in "${bins[@]}"; do
  deps="$(ldd "$build_dir/$b")"
  [[ "$deps" != *"not found"* ]] ||
    die "ldd $build_dir/$b: $(grep 'not found' <<<"$deps" | tr -s ' \n' ' ')"
  while read -r name _ path _; do
    [[ "$path" == /* ]] && where[$name]="$path"
  done < <(grep '=>' <<<"$deps")
done
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
declare -A take=() seen=()
queue=()
for b in "${bins[@]}"; do queue+=("$build_dir/$b"); done
while ((${#queue[@]})); do
  obj="${queue[0]}"
  queue=("${queue[@]:1}")
  while read -r name; do
    [[ -n "$name" && -z "${seen[$name]:-}" ]] || continue
    seen[$name]=1
    [[ "$name" =~ $base_re || "$name" =~ $runtime_re ]] && continue
    [[ " ${stubbed[*]} " == *" $name "* ]] && continue
    [[ -n "${where[$name]:-}" ]] || die "cannot locate $name (needed by $obj)"
    take[$name]="${where[$name]}"
    queue+=("${where[$name]}")
  done < <(needed "$obj")
done

# ---- fill the bundle ----
[[ "$out" != "/" && "$out" != "." ]] || die "refusing to use $out as the bundle folder"
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib/compat" "$out/mnist" "$out/models"
for b in "${bins[@]}"; do cp "$build_dir/$b" "$out/bin/"; done
manifest=()
for name in $(printf '%s\n' "${!take[@]}" | sort); do
  dest="$out/lib"
  [[ "$name" =~ $compat_re ]] && dest="$out/lib/compat"
  cp -L "${take[$name]}" "$dest/$name"  # named by SONAME, the link resolved
  manifest+=("$(du -k "$dest/$name" | cut -f1) KiB  ${dest#"$out"/}/$name  (Debian: $(basename "$(readlink -f "${take[$name]}")"))")
done

# Stand-ins for the stubbed libraries: every symbol a bundled object imports from one of them
# (and nothing else defines) becomes a function that returns 0, or a zeroed object of the right
# size. OpenCV is linked with BIND_NOW, so each must exist. Returning 0 is how those libraries
# say "no": OpenCV calls GDALAllRegister() when it sets up its readers, then GDALOpen() gives
# NULL and the GDAL reader declines every file.
stub_dir="$(mktemp -d "${TMPDIR:-/tmp}/scrawl-stub.XXXXXX")"
trap 'rm -rf "$stub_dir"' EXIT
objs=("$out"/bin/* "$out"/lib/*.so* "$out"/lib/compat/*.so*)
for o in "${objs[@]}"; do nm -D --defined-only "$o" 2>/dev/null | awk '{print $NF}'; done |
  sed 's/@.*//' | sort -u >"$stub_dir/defined"
for s in "${stubbed[@]}"; do
  real="${where[$s]:-}"
  [[ -n "$real" ]] || continue  # nothing here links it: nothing to stand in for
  importers=()
  for o in "${objs[@]}"; do [[ $'\n'"$(needed "$o")"$'\n' == *$'\n'"$s"$'\n'* ]] && importers+=("$o"); done
  ((${#importers[@]})) || continue
  nm -D --undefined-only "${importers[@]}" 2>/dev/null | awk 'NF >= 2 {print $NF}' | sort -u \
    >"$stub_dir/imports"
  c="$stub_dir/$s.c"
  {
    printf '/* Stand-in for %s, made by profiling/gpu_bundle.sh. */\n' "$s"
    # The real library's symbols that the importers need and nothing bundled defines:
    # "size type name", the size 0 where nm shows none.
    nm -D --defined-only -S "$real" | awk -v imports="$stub_dir/imports" -v defined="$stub_dir/defined" '
      BEGIN {
        while ((getline l < imports) > 0) { sub(/@.*/, "", l); need[l] = 1 }
        while ((getline l < defined) > 0) have[l] = 1
      }
      { if (NF == 3) { size = "0"; type = $2; sym = $3 } else { size = $2; type = $3; sym = $4 }
        base = sym; sub(/@.*/, "", base)
        if ((base in need) && !(base in have)) print size, type, sym }' |
    while read -r size type sym; do
      [[ "$sym" != *@* ]] || die "$s: $sym is versioned: no simple stand-in for it"
      case "$type" in
        T | W | i)
          printf '__asm__(".globl %s\\n.type %s,@function\\n%s: xorl %%eax, %%eax\\nret\\n");\n' \
            "$sym" "$sym" "$sym" ;;
        D | B | R | V)
          printf '__asm__(".data\\n.globl %s\\n.type %s,@object\\n.size %s,%d\\n%s: .zero %d\\n.text\\n");\n' \
            "$sym" "$sym" "$sym" "$((16#$size))" "$sym" "$((16#$size))" ;;
        *) die "$s: symbol $sym of type $type cannot be stubbed" ;;
      esac
    done
  } >"$c"
  count="$(grep -c '^__asm__' "$c" || true)"
  gcc -shared -fPIC -O1 -o "$out/lib/$s" -Wl,-soname,"$s" "$c" ||
    die "could not build the stand-in for $s"
  manifest+=("$(du -k "$out/lib/$s" | cut -f1) KiB  lib/$s  (stand-in: $count symbols returning 0; the real one is $(du -k -L "$real" | cut -f1) KiB with its own dependencies)")
done

# Large files travel gzipped (OpenBLAS alone shrinks from 35 to 8 MiB); env.sh unpacks each
# one next to its archive, once.
for f in "$out"/lib/*.so* "$out"/lib/compat/*.so*; do
  (($(stat -c %s "$f") > 1024 * 1024)) && gzip -9 -n "$f"
done
for f in "${idx[@]}"; do gzip -9 -n -c "$data/$f" >"$out/mnist/$f.gz"; done
cp models/*.json "$out/models/"
cp profiling/gpu_bundle_env.sh "$out/env.sh"

rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD 2>/dev/null || rev="$rev (with local changes)"
arch="$(sed -n 's/^CMAKE_CUDA_ARCHITECTURES:[A-Z]*=//p' "$build_dir/CMakeCache.txt")"
{
  echo "scrawl GPU bundle, made $(date -u +%Y-%m-%dT%H:%MZ) from git $rev"
  echo "CUDA architectures: ${arch:-default}; nvcc: $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  echo "Left out, found at run time by env.sh: glibc, the driver (libcuda), cuBLAS, cuDNN."
  echo
  echo "Sizes as built; the files of lib/ over 1 MiB travel as .gz (env.sh unpacks them)."
  for b in "${bins[@]}"; do echo "$(du -k "$out/bin/$b" | cut -f1) KiB  bin/$b"; done
  printf '%s\n' "${manifest[@]}"
  for f in "${idx[@]}"; do echo "$(du -k "$out/mnist/$f.gz" | cut -f1) KiB  mnist/$f.gz"; done
} >"$out/MANIFEST.txt"

total="$(du -sk "$out" | cut -f1)"
log "wrote $out: $((total / 1024)) MiB ($total KiB), ${#take[@]} libraries, ${#stubbed[@]} stand-ins"
((total < 60 * 1024)) || log "warning: over 60 MiB: the device tool carries at most 64 MiB with the tree"
printf '%s\n' "$out"
