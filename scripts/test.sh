#!/usr/bin/env bash
# The test command of the README: set-up (idempotent), then the whole test suite in release
# mode (physics and rendering tests need optimised code; the release build is shared with
# `scripts/demo.sh`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh"
source <(bash "$here/scripts/setup.sh" --print-env)
cd "$here"
cargo test --release --workspace "$@"
