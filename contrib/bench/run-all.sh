#!/bin/bash
# Runs every benchmark in this folder (*.sh except itself and common.sh, the
# shared setup they source), one after the other, and stops at the first that
# fails. Run as root; see README.md.
set -euo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$(basename "${BASH_SOURCE[0]}")

for script in "$DIR"/*.sh; do
  case $(basename "$script") in "$SELF" | common.sh) continue ;; esac
  echo "=== $(basename "$script" .sh) ==="
  start=$(date +%s)
  bash "$script" </dev/null
  echo "=== $(basename "$script" .sh): done in $(($(date +%s) - start)) s ==="
  echo
done
