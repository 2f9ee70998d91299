#!/bin/bash
# Lifecycle benchmark: skiff vs. rootless Podman on what users do with detached
# containers: run -d, exec, ps (with 1 and with 100 containers), inspect, logs,
# stop -t 0, rm and start -a (attached through the monitor); plus the resident memory of what holds a detached container
# (skiff's monitor vs. Podman's conmon). Warm path: images already in both stores.
#
# Run as root, no stdin needed. Setup shared with the other benchmarks is in
# common.sh.
#
# Environment:
#   BENCH_RUNS    timed runs per engine and case (default 10)
#   BENCH_WARMUP  untimed runs first, per engine and case (default 2)
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=contrib/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RUNS=${BENCH_RUNS:-10}
WARMUP=${BENCH_WARMUP:-2}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"

bench_setup
BUSYBOX=$REGISTRY/busybox:latest

engines=(skiff)
[ "$HAVE_PODMAN" = 1 ] && engines+=(podman)
# rm_now ENGINE ID...: force-removes at once (podman rm -f waits 10 s for SIGTERM first).
rm_now() {
  local engine=$1
  shift
  if [ "$engine" = podman ]; then podman rm -f -t 0 "$@"; else skiff rm -f "$@"; fi
}

# remove_containers ENGINE: every container of the bench user goes (monitors included).
remove_containers() {
  local ids
  ids=$($1 ps -aq)
  [ -z "$ids" ] || rm_now "$1" $ids >/dev/null 2>&1 || true
}

for engine in "${engines[@]}"; do
  remove_containers "$engine"
  empty_store "$engine"
  $engine pull -q "$BUSYBOX" >"$LOGS/$engine-lifecycle-pull.log" 2>&1 ||
    { cat "$LOGS/$engine-lifecycle-pull.log" >&2; die "$engine pull failed"; }
done

# timed ENGINE SETUP -- ARGS...: see time_engine in common.sh. Sets MED.
timed() {
  local engine=$1 setup=$2
  shift 3
  if [ "$engine" = skiff ]; then
    time_engine "$SKIFF_USER" "$SKIFF --root $SKIFF_ROOT" "$setup" "$@"
  else
    time_engine "$POD_USER" podman "$setup" "$@"
  fi
}

summary=()
# case LABEL SETUP -- ARGS...: both engines.
bench_case() {
  local label=$1 setup=$2 s p=0 line
  shift 3
  timed skiff "$setup" -- "$@"
  s=$MED
  line=$(printf '%-34s skiff %7s ms' "$label" "$(ms "$s")")
  if [ "$HAVE_PODMAN" = 1 ]; then
    timed podman "$setup" -- "$@"
    p=$MED
    line+=$(printf '   podman %7s ms   ratio %s' "$(ms "$p")" "$(ratio "$p" "$s")")
  fi
  summary+=("$line")
  echo "$line"
}

print_header
echo "runs:    $RUNS timed + $WARMUP warm-up per engine and case, timed inside a shell of the"
echo "         engine's user (no user switch in the timed span)"
echo

for engine in "${engines[@]}"; do
  $engine run -d --name bench-box "$BUSYBOX" sh -c 'echo one; echo two; sleep 100000' \
    >/dev/null 2>"$LOGS/$engine-lifecycle-box.log" ||
    { cat "$LOGS/$engine-lifecycle-box.log" >&2; die "$engine run -d failed"; }
done

bench_case "run -d busybox sleep" "" -- run -d "$BUSYBOX" sleep 100000
# Those containers go again; only bench-box stays running.
for engine in "${engines[@]}"; do
  for id in $($engine ps -aq); do
    # Docker's .Name has a leading slash, Podman's none.
    case $($engine inspect -f '{{.Name}}' "$id") in /bench-box | bench-box) continue ;; esac
    rm_now "$engine" "$id" >/dev/null
  done
done

bench_case "exec CTR true" "" -- exec bench-box true
bench_case "ps (1 container)" "" -- ps
bench_case "ps -a (1 container)" "" -- ps -a
bench_case "inspect CTR" "" -- inspect bench-box
bench_case "logs CTR" "" -- logs bench-box
bench_case "stop -t 0 CTR" "e rm bench-stop; e run -d --name bench-stop $BUSYBOX sleep 100000" -- stop -t 0 bench-stop
for engine in "${engines[@]}"; do rm_now "$engine" bench-stop >/dev/null; done
bench_case "rm CTR (stopped)" "e create --name bench-rm $BUSYBOX true" -- rm bench-rm
bench_case "start -a CTR (echo)" "e rm bench-sa; e create --name bench-sa $BUSYBOX echo hi" -- start -a bench-sa
for engine in "${engines[@]}"; do rm_now "$engine" bench-sa >/dev/null; done

# Memory: what holds bench-box besides its own process.
mon_rss() { # pid
  awk '/^VmRSS/ { print $2 }' "/proc/$1/status"
}
skiff_mon=$(skiff inspect -f '{{.State.ConmonPid}}' bench-box)
sleep 3 # an idle monitor gives back its start-up pages after 2 s
mem_line="resident memory holding one container: skiff monitor $(mon_rss "$skiff_mon") kB"
if [ "$HAVE_PODMAN" = 1 ]; then
  conmon=$(podman inspect -f '{{.State.ConmonPid}}' bench-box)
  mem_line+=", podman conmon $(mon_rss "$conmon") kB"
fi

for engine in "${engines[@]}"; do
  for i in $(seq 1 99); do $engine create "$BUSYBOX" true >/dev/null; done
done
bench_case "ps -a (100 containers)" "" -- ps -a
bench_case "ps (100, 1 running)" "" -- ps

for engine in "${engines[@]}"; do remove_containers "$engine"; empty_store "$engine"; done

echo
echo "medians (ratio = podman / skiff; higher means skiff is faster):"
printf '%s\n' "${summary[@]}"
echo "$mem_line"
