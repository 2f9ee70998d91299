#!/bin/bash
# Stops the registries, the token server and the chaos proxy that
# contrib/test-env.sh started.
# Only processes named in its pid files are touched, and only if the pid still
# runs the expected program (pids get reused). State and fixtures are kept, so
# the next test-env.sh run just restarts the daemons.
set -euo pipefail

STATE=${SKIFF_TEST_STATE:-/var/tmp/skiff-test}
RUN=$STATE/run

shopt -s nullglob
for pf in "$RUN"/*.pid; do
  name=$(basename "$pf" .pid)
  pid=$(cat "$pf" 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] &&
     tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE 'docker-registry|token-server|chaos-proxy'; then
    echo "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then
      echo "  $name did not exit, sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  else
    echo "$name: not running (stale pid file)"
  fi
  rm -f "$pf" "$RUN/$name.confsum"
done
