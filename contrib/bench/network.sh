#!/bin/bash
# Network benchmark: skiff vs. rootless Podman, one run, on loopback only.
#
#   1. Name lookup of another container on a user network: 2000 questions one after another
#      from inside a container to its resolver (skiff: the monitor's at 127.0.0.11; Podman:
#      aardvark-dns where its version has one), timed by tests/probe/probe.c; p50/p99/max.
#   2. Throughput through a published port, host -> container: iperf3 for BENCH_IPERF_SECS
#      seconds to a server in the container, for skiff on pasta and on slirp4netns, Podman's
#      default, and --network host (the ceiling, no forwarder).
#
# Run as root, no stdin needed. Traffic goes to 127.0.0.1 and stays inside the namespaces
# the engines make.
#
# Environment:
#   BENCH_IPERF_SECS  seconds per iperf3 run (default 10)
#   BENCH_LOOKUPS     questions per lookup run (default 2000)
#   SKIFF_BIN         skiff binary (default: target/release/skiff, built if missing)
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=contrib/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SECS=${BENCH_IPERF_SECS:-10}
LOOKUPS=${BENCH_LOOKUPS:-2000}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "BENCH_IPERF_SECS must be a positive integer"
[[ $LOOKUPS =~ ^[1-9][0-9]*$ ]] || die "BENCH_LOOKUPS must be a positive integer"

bench_setup

missing=()
for p in iperf3 gcc libc6-dev slirp4netns passt; do have_pkg "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    >"$LOGS/apt-network.log" 2>&1 || die "apt-get failed (see $LOGS/apt-network.log)"
fi

BUSYBOX=$REGISTRY/busybox:latest
DEBIAN=$REGISTRY/debian:bookworm
engines=(skiff)
[ "$HAVE_PODMAN" = 1 ] && engines+=(podman)
for engine in "${engines[@]}"; do
  for ref in "$BUSYBOX" "$DEBIAN"; do
    $engine image exists "$ref" >/dev/null 2>&1 && continue
    $engine pull -q "$ref" >"$LOGS/$engine-network-pull.log" 2>&1 ||
      { cat "$LOGS/$engine-network-pull.log" >&2; die "$engine pull $ref failed"; }
  done
done

# The probe, and iperf3 with its libraries for a Debian 12 container (the host's release).
TOOLS=$STATE/net-tools
install -d -m 0755 "$TOOLS"
gcc -O2 -static -o "$TOOLS/probe" "$REPO/tests/probe/probe.c"
cp -L /usr/bin/iperf3 "$TOOLS/iperf3"
for lib in $(ldd /usr/bin/iperf3 | awk '/=>/ { print $3 }'); do
  case $(basename "$lib") in libc.so.* | libm.so.*) ;; *) cp -L "$lib" "$TOOLS/" ;; esac
done
chmod -R a+rX "$TOOLS"

print_header
echo "runs:    $LOOKUPS lookups one after another; iperf3 $SECS s per case, host -> container"
echo

cleanup() {
  skiff rm -f bench-db bench-iperf >/dev/null 2>&1 || true
  skiff network rm bench-net >/dev/null 2>&1 || true
  if [ "$HAVE_PODMAN" = 1 ]; then
    podman rm -f -t 0 bench-db bench-iperf >/dev/null 2>&1 || true
    podman network rm bench-net >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
cleanup

# ---------------------------------------------------------------------------
# 1. Name lookup.
# ---------------------------------------------------------------------------
lookup() { # ENGINE: prints the probe's line
  local engine=$1
  $engine network create bench-net >/dev/null
  $engine run -d --name bench-db --network bench-net "$BUSYBOX" sleep 3600 >/dev/null
  $engine run --rm --network bench-net -v "$TOOLS:/t:ro" "$BUSYBOX" \
    /t/probe dnstime bench-db "$LOOKUPS" </dev/null 2>&1 || true
  $engine rm -f bench-db >/dev/null 2>&1 || true
  [ "$engine" = podman ] && podman rm -f -t 0 bench-db >/dev/null 2>&1 || true
  $engine network rm bench-net >/dev/null 2>&1 || true
}
summary=()
line=$(lookup skiff)
printf 'lookup of another container  skiff    %s\n' "$line"
summary+=("$(printf 'name lookup p99              skiff %s' "$(sed -E 's/.*p99_us=([0-9]+).*/\1 us/' <<<"$line")")")
if [ "$HAVE_PODMAN" = 1 ]; then
  pline=$(lookup podman)
  printf 'lookup of another container  podman   %s\n' "$pline"
  if [[ $pline == *answered=$LOOKUPS* ]]; then
    summary[-1]+=$(printf '   podman %s' "$(sed -E 's/.*p99_us=([0-9]+).*/\1 us/' <<<"$pline")")
  else
    summary[-1]+="   podman: no answer (no DNS between containers on its networks here)"
  fi
fi

# ---------------------------------------------------------------------------
# 2. Throughput through a published port.
# ---------------------------------------------------------------------------
port=18941
iperf_case() { # LABEL ENGINE NETWORK-ARGS...: prints Gbit/s
  local label=$1 engine=$2 publish=(-p "127.0.0.1:$port:5201") server_port=5201 gbits out
  shift 2
  if [ "$*" = "--network host" ]; then publish=() server_port=$port; fi
  $engine run -d --name bench-iperf "$@" "${publish[@]}" -v "$TOOLS:/t:ro" "$DEBIAN" \
    sh -c "LD_LIBRARY_PATH=/t exec /t/iperf3 -s -1 -p $server_port" >/dev/null
  out=""
  for ((i = 0; i < 100; i++)); do
    if out=$(iperf3 -c 127.0.0.1 -p "$port" -t "$SECS" -J 2>/dev/null); then break; fi
    sleep 0.1
  done
  gbits=$(python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$out" 2>/dev/null || echo "failed")
  $engine rm -f bench-iperf >/dev/null 2>&1 || true
  [ "$engine" = podman ] && podman rm -f -t 0 bench-iperf >/dev/null 2>&1 || true
  printf 'iperf3 %-22s %-7s %s Gbit/s\n' "$label" "$engine" "$gbits" >&2
  echo "$gbits"
}
s_pasta=$(iperf_case "default (pasta)" skiff)
s_slirp=$(iperf_case "slirp4netns" skiff --network slirp4netns)
s_host=$(iperf_case "host (ceiling)" skiff --network host)
line=$(printf 'throughput -p, Gbit/s        skiff pasta %s, slirp4netns %s, host %s' "$s_pasta" "$s_slirp" "$s_host")
if [ "$HAVE_PODMAN" = 1 ]; then
  p_default=$(iperf_case "default" podman)
  p_host=$(iperf_case "host (ceiling)" podman --network host)
  line+=$(printf '   podman default %s, host %s' "$p_default" "$p_host")
fi
summary+=("$line")

echo
printf '%s\n' "${summary[@]}"
