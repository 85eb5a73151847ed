# shellcheck shell=bash
# Environment for the scrawl GPU bundle; profiling/gpu_bundle.sh copies this file to
# .gpu-bundle/env.sh. Source it (bash) from anywhere: `source .gpu-bundle/env.sh`.
#
# It unpacks the gzipped files (large libraries, MNIST) once, puts the bundle's libraries on LD_LIBRARY_PATH, and
# finds the libraries the bundle leaves out because they are too large to carry: cuBLAS and
# cuDNN, each taken from SCRAWL_CUDA_LIB_DIRS (colon-separated) if set, else from /usr/local/cuda,
# else from the NVIDIA wheels beside python3's PyTorch. The driver (libcuda) is the machine's.
# Exports SCRAWL_BUNDLE, SCRAWL_BIN, SCRAWL_TEST_GPU, SCRAWL_DATA, SCRAWL_SOURCE_DIR (for
# test_gpu's model files) and SCRAWL_LD_LIBRARY_PATH_BEFORE (what Python should run with).
# Sourced into an interactive shell: it never exits, it only warns.

scrawl_bundle_env() {
  local b d f dirs="" want lib missing
  b="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || return 1

  # Large libraries and the MNIST files travel gzipped; unpack each once, next to its archive.
  for f in "$b"/lib/*.gz "$b"/lib/compat/*.gz "$b"/mnist/*.gz; do
    [[ -e "$f" && ! -e "${f%.gz}" ]] || continue
    if ! { gzip -dc "$f" >"${f%.gz}.part" && mv "${f%.gz}.part" "${f%.gz}"; }; then
      echo "scrawl bundle: could not unpack $f" >&2
      return 1
    fi
  done

  # Sourcing twice must not stack the bundle's folders.
  export SCRAWL_LD_LIBRARY_PATH_BEFORE="${SCRAWL_LD_LIBRARY_PATH_BEFORE-${LD_LIBRARY_PATH:-}}"

  # Folders holding cuBLAS / cuDNN (and NVRTC, which cuDNN loads for some engines).
  local candidates=()
  if [[ -n "${SCRAWL_CUDA_LIB_DIRS:-}" ]]; then
    IFS=: read -r -a candidates <<<"$SCRAWL_CUDA_LIB_DIRS"
  else
    # The toolkit first: the same release we built with, where it is installed.
    candidates=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib)
    local py
    py="$(command -v python3 || true)"
    if [[ -n "$py" ]]; then
      # The NVIDIA wheels PyTorch depends on: site-packages/nvidia/*/lib (cu13 wheels share
      # nvidia/cu13/lib). The namespace package `nvidia` lists where they are.
      while IFS= read -r d; do candidates+=("$d"); done < <(
        LD_LIBRARY_PATH="$SCRAWL_LD_LIBRARY_PATH_BEFORE" "$py" -c '
import glob, os
try:
    import nvidia
    for root in nvidia.__path__:
        for d in sorted(glob.glob(os.path.join(root, "*", "lib"))):
            print(d)
except ImportError:
    pass' 2>/dev/null)
    fi
  fi
  for want in libcublas.so.13 libcublasLt.so.13 libcudnn.so.9 libnvrtc.so.13; do
    for d in "${candidates[@]}"; do
      if [[ -e "$d/$want" ]]; then
        [[ ":$dirs:" == *":$d:"* ]] || dirs="${dirs:+$dirs:}$d"
        break
      fi
    done
  done

  local path="$b/lib${dirs:+:$dirs}${SCRAWL_LD_LIBRARY_PATH_BEFORE:+:$SCRAWL_LD_LIBRARY_PATH_BEFORE}"
  # libstdc++ / libgcc_s of the build machine, only where the system's are older.
  if command -v ldd >/dev/null &&
    LD_LIBRARY_PATH="$path" ldd "$b/bin/scrawl" "$b/bin/test_gpu" 2>&1 |
    grep -q -e 'GLIBCXX_[0-9.]* not found' -e 'CXXABI_[0-9.]* not found' -e 'GCC_[0-9.]* not found' \
      -e 'libstdc++.so.6 => not found' -e 'libgcc_s.so.1 => not found'; then
    path="$b/lib/compat:$path"
  fi
  export LD_LIBRARY_PATH="$path"
  export SCRAWL_BUNDLE="$b" SCRAWL_BIN="$b/bin/scrawl" SCRAWL_TEST_GPU="$b/bin/test_gpu"
  export SCRAWL_DATA="$b/mnist" SCRAWL_SOURCE_DIR="$b"

  if command -v ldd >/dev/null; then
    missing="$(ldd "$b/bin/scrawl" "$b/bin/test_gpu" 2>&1 | sed -n 's/^[[:space:]]*\(.*\) => not found/\1/p' |
      sort -u | tr '\n' ' ')"
    if [[ -n "$missing" ]]; then
      echo "scrawl bundle: not found: $missing" >&2
      echo "scrawl bundle: set SCRAWL_CUDA_LIB_DIRS to the folders holding them and source again" >&2
    fi
  fi
  for lib in libcublas.so.13 libcudnn.so.9; do
    d="$(IFS=:; for x in $dirs; do [[ -e "$x/$lib" ]] && { echo "$x"; break; }; done)"
    echo "scrawl bundle: $lib from ${d:-nowhere (the CUDA backend will not load)}" >&2
  done
}

scrawl_bundle_env
unset -f scrawl_bundle_env
