#!/usr/bin/env bash
# The test command of the README: set-up (idempotent), then the whole test suite in release
# mode (physics and rendering tests need optimised code; the release build is shared with
# `scripts/demo.sh`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VLGOR_WITH_SLURM=1 bash "$here/scripts/setup.sh"
source <(bash "$here/scripts/setup.sh" --print-env)
cd "$here"
# wgpu's GL backend probes for a Wayland display while it looks for an adapter, and libwayland
# prints "error: XDG_RUNTIME_DIR is invalid or not set" for every probe when the variable is
# missing (CI, containers). Give the test processes a private runtime directory instead.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
  XDG_RUNTIME_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vlgor-runtime.XXXXXX")"
  chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
  trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT
fi
# Unused dependencies are checked by hand (cargo-machete is not installed by setup):
#   cargo install cargo-machete && cargo machete    # torch-sys is ignored where listed for links
# The Python extension is built by maturin (setup), not as a Rust test target: building it both
# ways would rebuild pyo3 each time. Its tests are the pytest suite below.
cargo test --release --workspace --exclude vlgor-python --exclude vlgor-rl --exclude vlgor-vlm "$@"
# torch's random generator is global to a process, and the learning crates' tests seed it to
# build and train networks they then compare bit for bit: one test at a time there.
cargo test --release -p vlgor-rl -p vlgor-vlm "$@" -- --test-threads=1
VLGOR_BIN="$CARGO_TARGET_DIR/release/vlgor" python -m pytest -q "$here/python/tests"
# The toy pipeline as Slurm job arrays on a single-node Slurm on localhost (slurm-wlm and munge
# from setup), one task killed and resubmitted; its report must equal the in-process run's.
bash "$here/.ci/slurm-toy.sh" "$CARGO_TARGET_DIR/release/vlgor"
