#!/usr/bin/env bash
# For a newcomer on a fresh Debian 12 machine, as root: installs what skiff needs, starts a
# local registry with images built here (no network needed beyond Debian's packages), builds
# skiff, and shows it working as an ordinary user.
set -euo pipefail
cd "$(dirname "$0")/.."

. contrib/rust-env.sh

bash contrib/test-env.sh
cargo build --release --quiet
install -m 0755 target/release/skiff /usr/local/bin/skiff
echo "installed /usr/local/bin/skiff"

# Everything below runs as the unprivileged user the test environment created.
. /var/tmp/skiff-test/env.sh
as_user() {
  local uid; uid=$(id -u "$SKIFF_TEST_USER")
  runuser -u "$SKIFF_TEST_USER" -- env -i PATH=/usr/local/bin:/usr/bin:/bin \
    HOME="$(getent passwd "$SKIFF_TEST_USER" | cut -d: -f6)" XDG_RUNTIME_DIR="/run/user/$uid" "$@"
}
set -x
as_user skiff pull "$SKIFF_TEST_REGISTRY/busybox"
as_user skiff pull "$SKIFF_TEST_REGISTRY/layers"
as_user skiff images
as_user skiff image inspect --format '{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Cmd}}' "$SKIFF_TEST_REGISTRY/busybox"
as_user skiff history "$SKIFF_TEST_REGISTRY/layers"
