#!/bin/bash
# Run benchmark: skiff vs. rootless Podman starting a container that runs
# `true` and goes away (`run --rm`). These are warm-path numbers: both images
# are already in both stores and the page cache is kept, so what is timed is
# container setup and teardown, not pulling or disk reads.
#
# Run as root, no stdin needed. Idempotent. The setup shared with pull.sh
# (users, packages, the skiff copy, Podman's configuration) is in common.sh.
#
# Environment:
#   BENCH_RUNS    timed runs per engine and case (default 10)
#   BENCH_WARMUP  untimed runs first, per engine and case (default 3)
#   SKIFF_BIN     skiff binary (default: target/release/skiff, built if missing)
set -euo pipefail
shopt -s inherit_errexit   # a failure inside $(...) must stop the script too

# shellcheck source=contrib/bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RUNS=${BENCH_RUNS:-10}
WARMUP=${BENCH_WARMUP:-3}

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"

bench_setup

BUSYBOX=$REGISTRY/busybox:latest
DEBIAN=$REGISTRY/debian:bookworm
VOLUME=$STATE/run-volume   # the -v case's host dir: under $STATE, so both users can read it

# ---------------------------------------------------------------------------
# 1. Podman's rootless default network is slirp4netns; pull.sh installs podman
#    without recommends, which leaves it out. Without it we fall back below.
# ---------------------------------------------------------------------------
if [ "$HAVE_PODMAN" = 1 ] && ! have_pkg slirp4netns; then
  log "installing: slirp4netns"
  { apt-get update -q && apt-get install -y -q --no-install-recommends slirp4netns; } \
    >"$LOGS/apt-slirp4netns.log" 2>&1 || log "apt-get failed (see $LOGS/apt-slirp4netns.log)"
fi

# ---------------------------------------------------------------------------
# 2. Images into both stores (untimed), and checks that each engine's run
#    really starts a container before we time it.
# ---------------------------------------------------------------------------
engines=(skiff)
[ "$HAVE_PODMAN" = 1 ] && engines+=(podman)
for engine in "${engines[@]}"; do
  for ref in "$BUSYBOX" "$DEBIAN"; do
    $engine image exists "$ref" >/dev/null 2>&1 && continue
    $engine pull -q "$ref" >"$LOGS/$engine-run-pull.log" 2>&1 ||
      { cat "$LOGS/$engine-run-pull.log" >&2; die "$engine pull $ref failed"; }
  done
done

# check_echo LOG ENGINE ARGS...: `ENGINE run --rm ARGS... echo bench-ok` must
# print exactly that (proves a container ran, not just that the exit code was 0).
check_echo() {
  local log=$1 engine=$2 out
  shift 2
  out=$($engine run --rm "$@" echo bench-ok </dev/null 2>"$log") || true
  [ "$out" = bench-ok ] || { cat "$log" >&2; die "'$engine run --rm $* echo bench-ok' printed '$out'"; }
}
check_echo "$LOGS/skiff-run-check.log" skiff --network none "$BUSYBOX"

# skiff's default network: pasta gives the container an eth0, slirp4netns a tap0.
skiff_links=$(skiff run --rm "$BUSYBOX" ip -o link </dev/null 2>"$LOGS/skiff-run-net.log") ||
  { cat "$LOGS/skiff-run-net.log" >&2; die "skiff's default network fails here"; }
if grep -q ' tap0:' <<<"$skiff_links"; then skiff_net_name=slirp4netns; else skiff_net_name=pasta; fi

# Podman's default network: used for the "default network" cases if it works.
pod_net=()                  # extra podman args for those cases
pod_net_name="not installed"
pod_note=""
if [ "$HAVE_PODMAN" = 1 ]; then
  check_echo "$LOGS/podman-run-check.log" podman --network none "$BUSYBOX"
  # Podman warns about "/" not being a shared mount on this VM: harmless here.
  if links=$(podman run --rm "$BUSYBOX" ip -o link </dev/null 2>"$LOGS/podman-run-net.log"); then
    # slirp4netns gives the container a tap0 besides lo.
    if grep -q ' tap0:' <<<"$links"; then pod_net_name=slirp4netns; else pod_net_name="podman's default"; fi
  else
    log "podman's default network fails here (see $LOGS/podman-run-net.log): using --network none"
    pod_net=(--network none)
    pod_net_name="none"
    pod_note="podman's default network failed on this machine"
  fi
fi

# The -v case: skiff does not support -v yet (exits 125). Measure it anyway
# the day it works, and always measure Podman so the table shows the gap.
install -d -m 0755 "$VOLUME"
echo hello >"$VOLUME/bench-file"
chmod 0644 "$VOLUME/bench-file"
skiff_volume_rc=0
out=$(skiff run --rm -v "$VOLUME:/h" "$BUSYBOX" ls /h </dev/null 2>"$LOGS/skiff-run-volume.log") ||
  skiff_volume_rc=$?
case $skiff_volume_rc in
  0) [ "$out" = bench-file ] ||
       die "skiff run -v listed '$out', not bench-file (see $LOGS/skiff-run-volume.log)" ;;
  125) ;;   # "not supported": reported as such below
  *) cat "$LOGS/skiff-run-volume.log" >&2; die "skiff run -v failed with exit $skiff_volume_rc" ;;
esac
if [ "$HAVE_PODMAN" = 1 ]; then
  out=$(podman run --rm --network none -v "$VOLUME:/h" "$BUSYBOX" ls /h </dev/null \
    2>"$LOGS/podman-run-volume.log") || true
  [ "$out" = bench-file ] ||
    die "podman run -v listed '$out', not bench-file (see $LOGS/podman-run-volume.log)"
fi

# The pulls' writeback and the checks' leftovers (Podman cleans up a removed
# container's storage partly after it exits) must not land in the first case.
sync
sleep 2

# ---------------------------------------------------------------------------
# 3. The benchmark.
# ---------------------------------------------------------------------------
# measure LABEL WHO USER CMD ARGS...: warm-ups, then the timed runs, in a shell
# of USER (see time_engine); prints one line and sets MED (the median in
# microseconds).
measure() {
  local label=$1 who=$2 user=$3 cmd=$4 t min shown=()
  shift 4
  time_engine "$user" "$cmd" "" "$@"
  for t in $TIMES; do shown+=("$(ms "$t")"); done
  # shellcheck disable=SC2086 # one number per line
  read -r min _ < <(stats $TIMES)
  printf 'run %-30s %-7s min %7s ms   median %7s ms   (runs: %s)\n' \
    "$label" "$who" "$(ms "$min")" "$(ms "$MED")" "${shown[*]}"
}

# summary_line LABEL SKIFF_US PODMAN_US [NOTE]: one line of the final table.
summary=()
summary_line() {
  local line
  line=$(printf 'run %-30s skiff %7s ms' "$1" "$(ms "$2")")
  if [ "$HAVE_PODMAN" = 1 ]; then
    line+=$(printf '   podman %7s ms   ratio %s' "$(ms "$3")" "$(ratio "$3" "$2")")
  else
    line+="   podman: not installed"
  fi
  if [ -n "${4:-}" ]; then line+="   ($4)"; fi
  summary+=("$line")
}

print_header
echo "runs:    $RUNS timed + $WARMUP warm-up per engine and case; images already in both" \
  "stores; page cache kept (warm path)"
echo "network: skiff's default is $skiff_net_name; podman's rootless default is $pod_net_name"
if [ -n "$pod_note" ]; then echo "         ($pod_note)"; fi
echo

# run_case LABEL NOTE SKIFF_ARGS -- PODMAN_ARGS: both engines, same case;
# sets SKIFF_MED.
run_case() {
  local label=$1 note=$2 skiff_args=() podman_args=() s p=0
  shift 2
  while [ "$1" != -- ]; do skiff_args+=("$1"); shift; done
  shift
  podman_args=("$@")
  measure "$label" skiff "$SKIFF_USER" "$SKIFF --root $SKIFF_ROOT" run --rm "${skiff_args[@]}"
  s=$MED SKIFF_MED=$MED
  if [ "$HAVE_PODMAN" = 1 ]; then
    measure "$label" podman "$POD_USER" podman run --rm "${podman_args[@]}"
    p=$MED
  fi
  summary_line "$label" "$s" "$p" "$note"
}

run_case "--network none busybox" "" \
  --network none "$BUSYBOX" true -- --network none "$BUSYBOX" true
none_busybox=$SKIFF_MED
# With another of the user's containers running: skiff's helper joins that one's user
# namespace instead of mapping a new one (no newuidmap/newgidmap); Podman's pause process
# holds one for all its containers anyway.
skiff run -d --name bench-other --network none "$BUSYBOX" sleep 3600 >/dev/null
if [ "$HAVE_PODMAN" = 1 ]; then
  podman run -d --name bench-other --network none "$BUSYBOX" sleep 3600 >/dev/null
fi
run_case "none busybox, another running" "" \
  --network none "$BUSYBOX" true -- --network none "$BUSYBOX" true
skiff rm -f bench-other >/dev/null
if [ "$HAVE_PODMAN" = 1 ]; then podman rm -f -t 0 bench-other >/dev/null; fi
# No network flag: each engine's default (the pair the comparison asks for).
net_note=""
[ "$HAVE_PODMAN" = 1 ] && net_note="skiff: $skiff_net_name, podman: $pod_net_name"
run_case "busybox (default network)" "$net_note" \
  "$BUSYBOX" true -- "${pod_net[@]}" "$BUSYBOX" true
run_case "debian:bookworm (default net)" "$net_note" \
  "$DEBIAN" true -- "${pod_net[@]}" "$DEBIAN" true

# The same helper on both sides.
if [ "$pod_net_name" = slirp4netns ]; then
  run_case "--network slirp4netns busybox" "" \
    --network slirp4netns "$BUSYBOX" true -- --network slirp4netns "$BUSYBOX" true
fi

# run -d -p to the first HTTP 200 on the host port: the start, the helper and its port, the
# server's start, all on the path a web app's user waits on. Each run starts from no
# container (the setup removes the last one, untimed).
FIRST_HTTP=$STATE/first-http.sh
cat >"$FIRST_HTTP" <<'EOF'
#!/bin/bash
# first-http.sh PORT IMAGE ENGINE...: busybox httpd published on PORT; returns at its first 200.
port=$1 image=$2
shift 2
"$@" run -d --name bench-web -p "127.0.0.1:$port:80" "$image" httpd -f -p 80 -h /bin >/dev/null ||
  exit 1
for ((i = 0; i < 5000; i++)); do
  curl -sfI -o /dev/null "http://127.0.0.1:$port/busybox" && exit 0
done
exit 1
EOF
chmod 0755 "$FIRST_HTTP"
web_port=18931
measure_http() { # WHO USER ENGINE-CMD REMOVE-CMD
  local who=$1 user=$2 cmd=$3 remove=$4 t min shown=()
  # shellcheck disable=SC2086 # the engine's command is words
  time_engine "$user" "$FIRST_HTTP" "$remove bench-web || true" "$web_port" "$BUSYBOX" $cmd
  for t in $TIMES; do shown+=("$(ms "$t")"); done
  # shellcheck disable=SC2086 # one number per line
  read -r min _ < <(stats $TIMES)
  printf 'run %-30s %-7s min %7s ms   median %7s ms   (runs: %s)\n' \
    "-d -p to first HTTP 200" "$who" "$(ms "$min")" "$(ms "$MED")" "${shown[*]}"
}
measure_http skiff "$SKIFF_USER" "$SKIFF --root $SKIFF_ROOT" "$SKIFF --root $SKIFF_ROOT rm -f"
http_skiff=$MED
skiff rm -f bench-web >/dev/null 2>&1 || true
http_podman=0
if [ "$HAVE_PODMAN" = 1 ]; then
  measure_http podman "$POD_USER" podman "podman rm -f -t 0"
  http_podman=$MED
  podman rm -f -t 0 bench-web >/dev/null 2>&1 || true
fi
summary_line "-d -p to first HTTP 200" "$http_skiff" "$http_podman" "$net_note"

volume_label="-v DIR:/h busybox ls /h"
if [ "$skiff_volume_rc" = 0 ]; then
  run_case "$volume_label" "" \
    --network none -v "$VOLUME:/h" "$BUSYBOX" ls /h -- --network none -v "$VOLUME:/h" "$BUSYBOX" ls /h
else
  printf 'run %-30s %-7s not supported yet (exits %d)\n' "$volume_label" skiff "$skiff_volume_rc"
  line=$(printf 'run %-30s skiff: not supported yet' "$volume_label")
  if [ "$HAVE_PODMAN" = 1 ]; then
    measure "$volume_label" podman "$POD_USER" podman run --rm --network none -v "$VOLUME:/h" "$BUSYBOX" ls /h
    line+=$(printf '   podman %7s ms' "$(ms "$MED")")
  else
    line+="   podman: not installed"
  fi
  summary+=("$line")
fi

# The kernel floor: a user, mount and pid namespace with a fresh /proc, as the
# skiff bench user. No engine can start a container faster than this.
measure "floor: unshare -Urmpf" kernel "$SKIFF_USER" unshare -Urmpf --mount-proc true
floor=$MED

# Leave nothing behind, like pull.sh (which empties the stores itself anyway).
empty_store skiff
[ "$HAVE_PODMAN" = 1 ] && empty_store podman

echo
echo "medians (ratio = podman / skiff; higher means skiff is faster; all with --rm):"
printf '%s\n' "${summary[@]}"
printf 'kernel floor (unshare -Urmpf --mount-proc true as %s): %s ms;' "$SKIFF_USER" "$(ms "$floor")"
printf ' skiff --network none busybox minus the floor: %s ms\n' \
  "$(awk -v d=$((none_busybox - floor)) 'BEGIN { printf "%+.1f", d / 1000 }')"
