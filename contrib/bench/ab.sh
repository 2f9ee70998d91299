#!/bin/bash
# A/B benchmark: two skiff binaries (before and after a change) on the warm steps of run.sh
# and lifecycle.sh: run --rm, run -d, exec, ps, inspect, logs, stop -t 0, rm. The two are
# interleaved run by run (in turn first), each with a store of its own, so that the machine's
# drift and other work on it touch both alike. Prints each step's median for both and NEW's time over OLD's.
#
#   contrib/bench/ab.sh OLD_BINARY NEW_BINARY
#
# Run as root with the test registries up (contrib/test-env.sh starts them); no stdin needed.
# Uses the skiffbench user of the other benchmarks (created here when missing).
#
# Environment:
#   BENCH_RUNS    timed runs per binary and step (default 20)
#   BENCH_WARMUP  untimed rounds first (default 3)
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=contrib/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# = 2 ] || die "usage: $0 OLD_BINARY NEW_BINARY"
for b in "$1" "$2"; do [ -x "$b" ] || die "$b is not an executable"; done
OLD_BIN=$(realpath "$1") NEW_BIN=$(realpath "$2")
RUNS=${BENCH_RUNS:-20}
WARMUP=${BENCH_WARMUP:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"

mkdir -p "$STATE" "$LOGS"
chmod 0755 "$STATE"
exec 9>"$STATE/.lock"
flock -w 600 9 || die "another benchmark holds $STATE/.lock"
cd /
curl -fsS -o /dev/null "http://$REGISTRY/v2/" ||
  die "registry $REGISTRY is not up: run contrib/test-env.sh first"
have_pkg uidmap || die "uidmap (newuidmap) is required: apt-get install uidmap"
touch /etc/subuid /etc/subgid
id "$SKIFF_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$SKIFF_USER"
ensure_subid "$SKIFF_USER" /etc/subuid
ensure_subid "$SKIFF_USER" /etc/subgid
uid=$(id -u "$SKIFF_USER")
install -d -m 0700 -o "$uid" -g "$(id -g "$SKIFF_USER")" "/run/user/$uid"
install -m 0755 "$OLD_BIN" "$STATE/skiff-old"
install -m 0755 "$NEW_BIN" "$STATE/skiff-new"
home=$(getent passwd "$SKIFF_USER" | cut -d: -f6)
for v in old new; do rm -rf "$home/ab-store-$v"; done # as root: files of subordinate ids

BUSYBOX=$REGISTRY/busybox:latest
log "timing $RUNS runs of each step, old and new interleaved"
# shellcheck disable=SC2016 # expanded by the inner shell
out=$(as "$SKIFF_USER" bash -c '
  set -u
  state=$1 image=$2 runs=$3 warm=$4
  s() { "$state/skiff-$v" --root "$HOME/ab-store-$v" "$@"; }
  for v in old new; do s pull -q "$image" >/dev/null || exit 3; done
  # t STEP CMD...: one timed run of CMD, reported when past the warm-up.
  t() {
    local step=$1 t0 t1
    shift
    t0=${EPOCHREALTIME/./}
    "$@" </dev/null >/dev/null 2>"$HOME/.ab-err" || { echo "$v $step failed:" >&2; cat "$HOME/.ab-err" >&2; exit 4; }
    t1=${EPOCHREALTIME/./}
    ((i >= warm)) && echo "$step $v $((t1 - t0))"
    return 0
  }
  for ((i = 0; i < runs + warm; i++)); do
    # Which goes first alternates: the second of a pair runs while the processes of the
    # first are still going away, a few percent slower.
    order="old new"
    ((i % 2)) && order="new old"
    for v in $order; do
      t run-rm s run --rm "$image" true
      id=$(s run -d "$image" sh -c "echo hello; sleep 600") || exit 5
      t exec s exec "$id" true
      t ps s ps
      t inspect s inspect "$id"
      t logs s logs "$id"
      t stop s stop -t 0 "$id"
      t rm s rm "$id"
      t run-d s run -d --name "ab-$v" "$image" sleep 600
      s rm -f "ab-$v" >/dev/null
    done
  done' _ "$STATE" "$BUSYBOX" "$RUNS" "$WARMUP")

echo "machine: $(nproc) cpus, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "old:     $("$STATE/skiff-old" version) ($OLD_BIN)"
echo "new:     $("$STATE/skiff-new" version) ($NEW_BIN)"
echo "runs:    $RUNS per binary and step, interleaved, after $WARMUP warm-up rounds"
echo
printf '%-10s %10s %10s %10s\n' step "old ms" "new ms" "new/old"
for step in run-rm run-d exec ps inspect logs stop rm; do
  # shellcheck disable=SC2086 # one number per line
  read -r _ old < <(stats $(awk -v s="$step" '$1 == s && $2 == "old" { print $3 }' <<<"$out"))
  # shellcheck disable=SC2086
  read -r _ new < <(stats $(awk -v s="$step" '$1 == s && $2 == "new" { print $3 }' <<<"$out"))
  printf '%-10s %10s %10s %10s\n' "$step" "$(ms "$old")" "$(ms "$new")" \
    "$(awk -v o="$old" -v n="$new" 'BEGIN { printf "%.2f", n / o }')"
done
