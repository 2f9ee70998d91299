#!/usr/bin/env bash
# Kills skiff commands with SIGKILL at random moments and checks that the store and the user's
# processes stay sound. Run as the unprivileged test user (contrib/test-env.sh makes one):
#
#   contrib/torture/torture.sh [--seed N] [--count N] [--cases LIST] [--keep]
#
# Cases (all by default, comma-separated in --cases):
#   pull           a pull of busybox, a multi-layer image or debian
#   run-d          run -d
#   run-rm         run --rm in the foreground
#   rm-f           rm -f of a running container whose 20,000 files belong to container uid 1000
#   exec           exec into a running container
#   monitor        the monitor of a running container; also monitor-init, monitor-tty and
#                  monitor-init-tty (--init, -t, both)
#
# After each trial:
#   1. ps -a lists exactly the containers whose records exist (right after the kill);
#   2. the next command (the same operation again, or rm -f / container prune) succeeds;
#   3. the store holds no directory that no record names once that command has run: no entry
#      of trash/ or tmp/ whose process is gone, no container directory without container.json,
#      no layer that no image names;
#   4. once every container is removed, no process of the user (marked by an environment
#      variable that every skiff command and container gets) outlives its container, and trash/
#      and tmp/ are empty.
#
# The seed fixes the sequence of cases' delays (bash's RANDOM), so a failure can be rerun; the
# moment a SIGKILL lands still depends on the machine's load. Prints one line per failure, one
# per case, and last `N passed, M failed`; exits 1 when any trial failed.
#
# Environment: SKIFF (the binary; default: skiff on PATH), SKIFF_TEST_REGISTRY (default: read
# from /var/tmp/skiff-test/env.sh), TORTURE_DIR (work directory; default: a new one in TMPDIR).
set -uo pipefail

SEED=$RANDOM COUNT=10 CASES=pull,run-d,run-rm,rm-f,exec,monitor,monitor-init,monitor-tty,monitor-init-tty
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --seed) SEED=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --cases) CASES=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--seed N] [--count N] [--cases LIST] [--keep]" >&2; exit 2 ;;
  esac
done
[[ $SEED =~ ^[0-9]+$ && $COUNT =~ ^[0-9]+$ ]] || { echo "--seed and --count take numbers" >&2; exit 2; }
[ "$(id -u)" != 0 ] || { echo "run as the unprivileged test user, not root" >&2; exit 2; }

SKIFF=${SKIFF:-$(command -v skiff)}
[ -x "$SKIFF" ] || { echo "no skiff binary: set SKIFF" >&2; exit 2; }
if [ -z "${SKIFF_TEST_REGISTRY:-}" ] && [ -r /var/tmp/skiff-test/env.sh ]; then
  . /var/tmp/skiff-test/env.sh
fi
REG=${SKIFF_TEST_REGISTRY:?set SKIFF_TEST_REGISTRY or run contrib/test-env.sh}
BUSYBOX=$REG/busybox

WORK=${TORTURE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/skiff-torture.XXXXXX")} || exit 2
mkdir -p "$WORK/home" "$WORK/run" && chmod 0700 "$WORK" "$WORK/home" "$WORK/run" || exit 2
ROOT=$WORK/home/.local/share/skiff
# Every skiff command and container carries this: how the user's processes of this run are
# told from those of other runs (the test suite runs several at once as the same user).
TAG=SKIFF_TORTURE=$$-$SEED-$RANDOM
SK=(env -i "PATH=/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 "HOME=$WORK/home"
  "XDG_RUNTIME_DIR=$WORK/run" "$TAG" "$SKIFF")

RANDOM=$SEED
PASSED=0 FAILED=0
declare -A CASE_PASSED CASE_FAILED

sk() { "${SK[@]}" "$@"; }
# The quiet form for steps whose output does not matter, only their status.
skq() { "${SK[@]}" "$@" >/dev/null 2>&1; }

# Sleeps a random number of milliseconds below $1.
random_sleep() {
  local ms=$((RANDOM * 32768 + RANDOM))
  ms=$((ms % $1))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

# Live (not zombie) processes carrying the tag, as `PID COMM`.
tagged() {
  local f pid state rest
  # The commands carry the tag in their environment, and so does the workload (-e); the
  # processes skiff starts around a container carry none of the caller's environment (a
  # monitor, its watcher) but name the trial's store on their command line.
  for f in $( (grep -lsaF -- "$TAG" /proc/[0-9]*/environ; grep -lsaF -- "$WORK/" /proc/[0-9]*/cmdline) 2>/dev/null | sort -u); do
    pid=${f#/proc/}
    pid=${pid%/*}
    read -r rest 2>/dev/null < "/proc/$pid/stat" || continue
    state=${rest##*) }
    state=${state%% *}
    [ "$state" = Z ] || [ "$state" = X ] && continue
    echo "$pid $(cat "/proc/$pid/comm" 2>/dev/null)"
  done
}

# Whether the process named in a tmp/ or trash/ entry (KIND-PID-N-NANOS[-sSTART]) is alive.
owner_alive() {
  local name=$1 pid start rest
  pid=$(cut -d- -f2 <<<"$name")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  read -r rest 2>/dev/null < "/proc/$pid/stat" || return 1
  rest=${rest##*) }
  # shellcheck disable=SC2086
  set -- $rest
  [ "$1" = Z ] && return 1
  start=${name##*-}
  [[ $start == s* ]] || return 0
  [ "${start#s}" = "${20}" ]
}

records() {
  local f
  for f in "$ROOT"/containers/*/container.json; do
    [ -e "$f" ] || continue
    f=${f%/container.json}
    echo "${f##*/}"
  done | sort
}

# Whether the kill left work for a later command: entries of trash/ or tmp/ whose process is
# gone, or a container directory without record. Counted per case, to show that the kills
# land where they matter.
left_work() {
  local e
  for e in "$ROOT"/trash/* "$ROOT"/tmp/*; do
    [ -e "$e" ] && ! owner_alive "${e##*/}" && return 0
  done
  for e in "$ROOT"/containers/*; do
    [ -e "$e" ] && [ ! -e "$e/container.json" ] && return 0
  done
  return 1
}

# Check 1: ps -a agrees with the records (read before and after it: a monitor may be removing a
# --rm container meanwhile).
check_listing() {
  local before after listed
  left_work && echo "$CASE" >>"$WORK/left-work"
  before=$(records)
  listed=$(sk ps -aq --no-trunc 2>&1 | sort) || { echo "ps -a failed: $listed"; return 1; }
  after=$(records)
  [ "$listed" = "$before" ] || [ "$listed" = "$after" ] ||
    { echo "ps -a lists [$(echo $listed)] but the records are [$(echo $after)]"; return 1; }
}

# Check 3: nothing in the store that no record names.
check_store() {
  local e bad=""
  for e in "$ROOT"/trash/* "$ROOT"/tmp/*; do
    [ -e "$e" ] || continue
    owner_alive "${e##*/}" || bad+=" ${e#"$ROOT"/}"
  done
  for e in "$ROOT"/containers/*; do
    [ -e "$e" ] || continue
    [ -e "$e/container.json" ] || bad+=" ${e#"$ROOT"/}(no record)"
  done
  for e in "$ROOT"/layers/*; do
    [ -e "$e" ] || continue
    [ -e "$e/layer.json" ] || bad+=" ${e#"$ROOT"/}(no layer.json)"
    grep -qF "sha256:${e##*/}" "$ROOT/images.json" 2>/dev/null || bad+=" ${e#"$ROOT"/}(no image)"
  done
  [ -z "$bad" ] || { echo "left in the store:$bad"; return 1; }
}

# Check 4: with every container removed, none of this run's processes is left, and neither
# is anything in trash/ or tmp/.
check_clean() {
  local ids left i
  ids=$(sk ps -aq --no-trunc 2>/dev/null)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || skq rm -f $ids || { echo "rm -f of the containers failed"; return 1; }
  skq container prune -f || { echo "container prune -f failed"; return 1; }
  for i in $(seq 50); do
    left=$(tagged)
    [ -z "$left" ] && break
    sleep 0.1
  done
  if [ -n "$left" ]; then
    # Out of the way of the next trials, which would otherwise count them again.
    kill -9 $(cut -d' ' -f1 <<<"$left") 2>/dev/null
    echo "processes outlived their container: $(echo $left)"
    return 1
  fi
  left=$(ls -A "$ROOT/trash" "$ROOT/tmp" 2>/dev/null | grep -v ':$' | grep -v '^$')
  [ -z "$left" ] || { echo "trash/tmp not empty once all is done: $(echo $left)"; return 1; }
}

# Starts `skiff ARGS` in the background and kills it after a random delay below $1 ms.
kill_after() {
  local max=$1 pid
  shift
  "${SK[@]}" "$@" >/dev/null 2>&1 &
  pid=$!
  random_sleep "$max"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# ---- cases: each prints why it failed and returns 1, or returns 0 ----

case_pull() {
  local images=("$BUSYBOX" "$REG/layers:latest" "$BUSYBOX" "$REG/debian:bookworm") img max
  img=${images[RANDOM % 4]}
  case $img in *debian*) max=1500 ;; *) max=150 ;; esac
  skq rmi -f "$img"
  kill_after "$max" pull -q "$img"
  check_listing || return 1
  out=$(sk pull -q "$img" 2>&1) || { echo "the next pull failed: $out"; return 1; }
  check_store
}

case_run_d() {
  kill_after 60 run -d --name victim -e "$TAG" "$BUSYBOX" sleep 100000
  check_listing || return 1
  out=$(sk run -d --replace --name victim -e "$TAG" "$BUSYBOX" sleep 100000 2>&1) ||
    { echo "the next run -d --replace failed: $out"; return 1; }
  check_store
}

case_run_rm() {
  kill_after 120 run --rm --name victim -e "$TAG" "$BUSYBOX" sh -c 'sleep 0.1'
  check_listing || return 1
  out=$(sk run --rm -e "$TAG" "$BUSYBOX" true 2>&1) || { echo "the next run --rm failed: $out"; return 1; }
  out=$(sk container prune -f 2>&1) || { echo "container prune failed: $out"; return 1; }
  check_store
}

case_rm_f() {
  local i
  skq run -d --name big -e "$TAG" "$BUSYBOX" sh -c \
    'mkdir -p /d && cd /d && seq 20000 | sed s/^/f/ | xargs touch && chown -R 1000:1000 /d && echo ready; sleep 100000' ||
    { echo "setup: run -d failed"; return 1; }
  for i in $(seq 600); do
    sk logs big 2>/dev/null | grep -q ready && break
    sleep 0.05
  done
  [ "$i" != 600 ] || { echo "setup: the 20,000 files were not made in 30 s"; return 1; }
  kill_after 500 rm -f big
  check_listing || return 1
  if [ -n "$(sk ps -aq --filter name=big)" ]; then
    out=$(sk rm -f big 2>&1) || { echo "the next rm -f failed: $out"; return 1; }
  else
    out=$(sk container prune -f 2>&1) || { echo "the next container prune failed: $out"; return 1; }
  fi
  check_store
}

case_exec() {
  skq run -d --name host -e "$TAG" "$BUSYBOX" sleep 100000 || { echo "setup: run -d failed"; return 1; }
  kill_after 150 exec -e "$TAG" host sh -c 'sleep 30'
  check_listing || return 1
  out=$(sk exec host true 2>&1) || { echo "the next exec failed: $out"; return 1; }
  check_store
}

# $@: extra run flags (--init, -t). Half the trials add --rm and a workload that ends within
# the delay now and then, so that the kill may land while the monitor removes the container.
case_monitor() {
  local pid monitor i flags=("$@") work='sleep 100000 & wait'
  if [ $((RANDOM % 2)) = 0 ]; then
    flags+=(--rm)
    work='sleep 0.2 & wait'
  fi
  # A shell that has a child, so that --init's reaping and signal passing have work.
  "${SK[@]}" run -d --name watched -e "$TAG" "${flags[@]}" "$BUSYBOX" sh -c "$work" \
    >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 200); do
    monitor=$(tagged | awk '$2 == "skiff-monitor" {print $1}')
    [ -n "$monitor" ] && break
    sleep 0.01
  done
  [ -n "$monitor" ] || { wait "$pid"; echo "setup: no monitor started"; return 1; }
  random_sleep 300
  kill -9 $monitor 2>/dev/null
  wait "$pid" 2>/dev/null
  check_listing || return 1
  if [ -n "$(sk ps -aq --filter name=watched)" ]; then
    out=$(sk rm -f watched 2>&1) || { echo "the next rm -f failed: $out"; return 1; }
  else
    out=$(sk container prune -f 2>&1) || { echo "the next container prune failed: $out"; return 1; }
  fi
  check_store
}

run_case() { # name
  case $1 in
    pull) case_pull ;;
    run-d) case_run_d ;;
    run-rm) case_run_rm ;;
    rm-f) case_rm_f ;;
    exec) case_exec ;;
    monitor) case_monitor ;;
    monitor-init) case_monitor --init ;;
    monitor-tty) case_monitor -t ;;
    monitor-init-tty) case_monitor --init -t ;;
    *) echo "no such case"; return 1 ;;
  esac
}

IFS=, read -ra CASE_LIST <<<"$CASES"
for c in "${CASE_LIST[@]}"; do
  case $c in pull | run-d | run-rm | rm-f | exec | monitor | monitor-init | monitor-tty | monitor-init-tty) ;;
    *) echo "no such case: $c" >&2; exit 2 ;;
  esac
done
echo "torture: seed $SEED, $COUNT trials per case, work in $WORK"
skq pull -q "$BUSYBOX" || { echo "cannot pull $BUSYBOX from $REG" >&2; exit 2; }

START=$SECONDS
for c in "${CASE_LIST[@]}"; do
  CASE_PASSED[$c]=0 CASE_FAILED[$c]=0
  CASE=$c
  case_start=$SECONDS
  for n in $(seq "$COUNT"); do
    why=$(run_case "$c" 2>&1)
    ok=$?
    clean=$(check_clean 2>&1) || { ok=1; why+="${why:+; }$clean"; }
    if [ $ok = 0 ]; then
      CASE_PASSED[$c]=$((CASE_PASSED[$c] + 1))
    else
      CASE_FAILED[$c]=$((CASE_FAILED[$c] + 1))
      echo "FAIL $c trial $n: $why"
    fi
  done
  left=$(grep -cxF -- "$c" "$WORK/left-work" 2>/dev/null)
  printf '%-17s %4d passed, %4d failed  (%d left work to finish; %ds)\n' "$c" \
    "${CASE_PASSED[$c]}" "${CASE_FAILED[$c]}" "${left:-0}" $((SECONDS - case_start))
  PASSED=$((PASSED + CASE_PASSED[$c]))
  FAILED=$((FAILED + CASE_FAILED[$c]))
done

if [ $KEEP = 0 ]; then
  skq system prune -a -f
  rm -rf "$WORK" 2>/dev/null
fi
echo "$PASSED passed, $FAILED failed in $((SECONDS - START))s (seed $SEED)"
[ "$FAILED" = 0 ]
