#!/bin/bash
# Pull benchmark: skiff vs. rootless Podman, each pulling into an empty store
# from the local open registry that contrib/test-env.sh runs (127.0.0.1:5790).
#
# Run as root, no stdin needed. Idempotent. The setup both benchmarks share
# (users, packages, the skiff copy, Podman's configuration) is in common.sh.
#
# Environment:
#   BENCH_RUNS    timed runs per engine and image (default 5)
#   BENCH_WARMUP  untimed runs first, for first-use setup (default 1)
#   BENCH_DROP_CACHES  1 (default): drop the page cache before each run; 0: keep it
#   BENCH_IMAGES  images to pull (default: busybox:latest debian:bookworm)
#   SKIFF_BIN     skiff binary (default: target/release/skiff, built if missing)
set -euo pipefail
shopt -s inherit_errexit   # a failure inside $(...) must stop the script too

# shellcheck source=contrib/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
DROP_CACHES=${BENCH_DROP_CACHES:-1}
read -r -a IMAGES <<<"${BENCH_IMAGES:-busybox:latest debian:bookworm}"

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"
[[ $DROP_CACHES =~ ^[01]$ ]] || die "BENCH_DROP_CACHES must be 0 or 1"

bench_setup

# ---------------------------------------------------------------------------
# The benchmark (empty_store, stats and ratio come from common.sh).
# ---------------------------------------------------------------------------

# settle ENGINE: same starting point for every run. On this VM, writing
# files gets slower the more page cache there is (even a plain 'tar xzf' of
# the debian layer goes 1 s -> 2 s -> 3.6 s run after run, and back to 0.8 s
# after a drop), so without a drop the medians mostly measure run order.
settle() {
  [ "$DROP_CACHES" = 1 ] || return 0
  echo 1 >/proc/sys/vm/drop_caches
  # Page the engine's binary back in: we time the pull, not a cold exec.
  case $1 in
    skiff) skiff version ;;
    podman) podman --version ;;
  esac >/dev/null 2>&1
}

# pull_once ENGINE REF: prints the pull's wall time in ms; fails loudly.
pull_once() {
  local engine=$1 ref=$2 t0 t1 log=$LOGS/$1-pull.log
  empty_store "$engine"
  settle "$engine"
  t0=$(now_ns)
  case $engine in
    skiff) skiff pull -q "$ref" >"$log" 2>&1 ;;
    podman) podman pull -q "$ref" >"$log" 2>&1 ;;
  esac || { cat "$log" >&2; die "$engine pull $ref failed"; }
  t1=$(now_ns)
  # Check outside the timing that the image really landed.
  case $engine in
    skiff) skiff image exists "$ref" ;;
    podman) podman image exists "$ref" ;;
  esac >/dev/null 2>&1 || die "$engine pull $ref succeeded but the image is not there"
  echo $(((t1 - t0) / 1000000))
}

print_header
echo "runs:    $RUNS timed + $WARMUP warm-up per engine and image; pull into an empty store;" \
  "page cache $([ "$DROP_CACHES" = 1 ] && echo "dropped" || echo "kept") before each run"
echo

engines=(skiff)
[ "$HAVE_PODMAN" = 1 ] && engines+=(podman)
summary=()
for img in "${IMAGES[@]}"; do
  ref=$REGISTRY/$img
  declare -A med=()
  for engine in "${engines[@]}"; do
    for ((i = 0; i < WARMUP; i++)); do pull_once "$engine" "$ref" >/dev/null; done
    times=()
    for ((i = 0; i < RUNS; i++)); do
      t=$(pull_once "$engine" "$ref")
      times+=("$t")
    done
    read -r min median < <(stats "${times[@]}")
    med[$engine]=$median
    printf 'pull %-16s %-7s min %6d ms   median %6d ms   (runs: %s)\n' \
      "${img%%:*}" "$engine" "$min" "$median" "${times[*]}"
  done
  empty_store skiff   # leave nothing behind between images and at the end
  [ "$HAVE_PODMAN" = 1 ] && empty_store podman
  line=$(printf 'pull %-10s skiff %6d ms' "${img%%:*}" "${med[skiff]}")
  if [ "$HAVE_PODMAN" = 1 ]; then
    line+=$(printf '   podman %6d ms   ratio %s' "${med[podman]}" \
      "$(ratio "${med[podman]}" "${med[skiff]}")")
  else
    line+="   podman: not installed"
  fi
  summary+=("$line")
  unset med
done

echo
echo "medians (ratio = podman / skiff; higher means skiff is faster):"
printf '%s\n' "${summary[@]}"
