#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root with no stdin:
# installs and starts what the tests need (contrib/test-env.sh), checks formatting and lints,
# then runs every unit and end-to-end test. The end-to-end tests run skiff as the unprivileged
# users that test-env.sh creates, against the registries it starts on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { echo "cargo (Rust >= 1.89, via rustup) is needed" >&2; exit 1; }

bash contrib/test-env.sh

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets 2>&1
