#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root with no stdin:
# installs and starts what the tests need (contrib/test-env.sh), checks formatting and lints,
# then runs every unit and end-to-end test. The end-to-end tests run skiff as the unprivileged
# users that test-env.sh creates, against the registries it starts on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

. contrib/rust-env.sh

bash contrib/test-env.sh

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets 2>&1
