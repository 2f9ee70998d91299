# shellcheck shell=bash
# Shared setup for the benchmarks in this folder; sourced, never run on its own
# (run-all.sh skips it). Sourcing it defines settings and helpers and checks
# that we are root; bench_setup then does the work that has side effects:
# packages, the two bench users, the skiff copy and Podman's configuration.
#
# Both engines run rootless, each as its own dedicated user (skiffbench,
# podbench), so neither shares state with the other or with the integration
# tests' users.
#
# Environment (the per-benchmark settings live in each script):
#   SKIFF_BIN     skiff binary (default: target/release/skiff, built if missing)
set -euo pipefail
shopt -s inherit_errexit   # a failure inside $(...) must stop the script too

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
REGISTRY=127.0.0.1:5790
SKIFF_BIN=${SKIFF_BIN:-$REPO/target/release/skiff}

STATE=/var/tmp/skiff-bench   # world-readable: holds the copy of skiff
LOGS=$STATE/logs
SKIFF_USER=skiffbench POD_USER=podbench
SKIFF=$STATE/skiff

export DEBIAN_FRONTEND=noninteractive
export PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin:$HOME/.cargo/bin:$PATH
export LC_ALL=C.UTF-8

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

have_pkg() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]; }

# First free id above every other user's range, in both files (same scheme as
# contrib/test-env.sh, so the two scripts never hand out overlapping ranges).
next_subid_start() { # user
  awk -F: -v u="$1" 'BEGIN{m=100000} $1!=u && NF>=3 && $2+$3>m {m=$2+$3} END{print m}' \
    /etc/subuid /etc/subgid
}
# Keep the user's entry if it is one range of >= 65536 ids overlapping no
# other user's; otherwise replace it.
ensure_subid() { # user file
  local user=$1 file=$2 uid
  uid=$(id -u "$user")
  if awk -F: -v u="$user" -v id="$uid" '
       $1==u || $1==id { n++; s=$2; c=$3; next }
       NF>=3 { os[NR]=$2; oc[NR]=$3 }
       END {
         if (n != 1 || c < 65536) exit 1
         for (i in os) if (s < os[i]+oc[i] && os[i] < s+c) exit 1
       }' "$file"; then
    return 0
  fi
  sed -i -E "/^(${user}|${uid}):/d" "$file"
  echo "${user}:$(next_subid_start "$user"):65536" >>"$file"
}

# as USER CMD...: run a command as a bench user with a clean, minimal env.
as() {
  local user=$1 uid home
  shift
  uid=$(id -u "$user") home=$(getent passwd "$user" | cut -d: -f6)
  # setpriv, not runuser: no PAM session, so the wrapper adds ~1 ms instead of ~15 ms to both
  # engines' times and the ratio measures the engines.
  setpriv --reuid="$user" --regid="$user" --init-groups \
    env -i PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C.UTF-8 \
    HOME="$home" USER="$user" XDG_RUNTIME_DIR="/run/user/$uid" "$@" 9>&-
  # (9>&-: the benchmark lock stays ours; a container monitor that kept it would hold it
  # after the benchmark ends.)
}

skiff() { as "$SKIFF_USER" "$SKIFF" --root "$SKIFF_ROOT" "$@"; }
podman() { as "$POD_USER" podman "$@"; }

write_podman_config() {
  local conf=$POD_HOME/.config/containers
  as "$POD_USER" mkdir -p "$conf"
  # Without this, rootless Podman silently falls back to the slow vfs driver.
  as "$POD_USER" tee "$conf/storage.conf" >/dev/null <<'EOF'
# written by contrib/bench/common.sh
[storage]
driver = "overlay"
EOF
  # crun 1.8.1 refuses this VM's hybrid cgroup layout; no systemd user session
  # here, so cgroupfs and a file events log rather than journald.
  as "$POD_USER" tee "$conf/containers.conf" >/dev/null <<'EOF'
# written by contrib/bench/common.sh
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  # Plain HTTP registry on loopback (Podman, unlike skiff, does not assume
  # loopback registries are insecure).
  as "$POD_USER" tee "$conf/registries.conf" >/dev/null <<EOF
# written by contrib/bench/common.sh
[[registry]]
location = "$REGISTRY"
insecure = true
EOF
}
graph_driver() { podman info --format '{{.Store.GraphDriverName}}' 2>>"$LOGS/podman-info.log"; }

# bench_setup: everything both benchmarks need before timing anything. Sets
# HAVE_PODMAN (1 or 0), SKIFF_HOME, SKIFF_ROOT, POD_HOME and POD_STORE.
bench_setup() {
  mkdir -p "$STATE" "$LOGS"
  chmod 0755 "$STATE"
  exec 9>"$STATE/.lock"      # one benchmark at a time: they share users and stores
  flock -w 600 9 || die "another benchmark holds $STATE/.lock"
  cd /                       # the bench users must be able to stat their cwd

  curl -fsS -o /dev/null "http://$REGISTRY/v2/" ||
    die "registry $REGISTRY is not up: run contrib/test-env.sh first"

  # -------------------------------------------------------------------------
  # 1. Packages. Podman is optional: without it we still measure skiff.
  # -------------------------------------------------------------------------
  HAVE_PODMAN=1
  local missing=() p u uid driver
  # runc explicitly: Debian's podman would otherwise pick crun, which refuses
  # this VM's hybrid cgroup layout.
  for p in podman runc uidmap curl; do have_pkg "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
      >"$LOGS/apt.log" 2>&1 || log "apt-get failed (see $LOGS/apt.log)"
  fi
  have_pkg uidmap || die "uidmap (newuidmap) is required and could not be installed"
  have_pkg podman && have_pkg runc || HAVE_PODMAN=0

  # -------------------------------------------------------------------------
  # 2. Users: each with its own 65536 subordinate ids and runtime dir.
  # -------------------------------------------------------------------------
  touch /etc/subuid /etc/subgid
  for u in "$SKIFF_USER" "$POD_USER"; do
    id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"
    ensure_subid "$u" /etc/subuid
    ensure_subid "$u" /etc/subgid
    uid=$(id -u "$u")
    install -d -m 0700 -o "$uid" -g "$(id -g "$u")" "/run/user/$uid"  # /run is a tmpfs
  done

  # -------------------------------------------------------------------------
  # 3. skiff: build if needed, copy where skiffbench can run it.
  # -------------------------------------------------------------------------
  if [ ! -x "$SKIFF_BIN" ]; then
    [ "$SKIFF_BIN" = "$REPO/target/release/skiff" ] || die "SKIFF_BIN=$SKIFF_BIN is not executable"
    log "building skiff (cargo build --release)"
    (cd "$REPO" && cargo build --release) >"$LOGS/cargo.log" 2>&1 ||
      die "cargo build failed (see $LOGS/cargo.log)"
  fi
  install -m 0755 "$SKIFF_BIN" "$SKIFF"   # root's target/ may not be readable to others
  SKIFF_HOME=$(getent passwd "$SKIFF_USER" | cut -d: -f6)
  SKIFF_ROOT=$SKIFF_HOME/bench-store   # same filesystem as Podman's store

  # -------------------------------------------------------------------------
  # 4. Podman for podbench: overlay storage, runc, cgroupfs, insecure registry.
  # -------------------------------------------------------------------------
  POD_HOME=$(getent passwd "$POD_USER" | cut -d: -f6)
  POD_STORE=$POD_HOME/.local/share/containers/storage
  if [ "$HAVE_PODMAN" = 1 ]; then
    write_podman_config
    driver=$(graph_driver || true)
    if [ "$driver" != overlay ]; then
      # A store first created with vfs stays vfs whatever storage.conf says.
      log "podman store uses '${driver:-?}', not overlay: podman system reset -f as $POD_USER"
      podman system reset -f >>"$LOGS/podman-reset.log" 2>&1 || true
      write_podman_config
      driver=$(graph_driver || true)
    fi
    [ "$driver" = overlay ] ||
      die "rootless podman uses graph driver '${driver:-?}', not overlay (see $LOGS/podman-info.log)"
  fi
}

# ---------------------------------------------------------------------------
# Helpers for the measurements and the report.
# ---------------------------------------------------------------------------
now_ns() { date +%s%N; }

# empty_store ENGINE: both stores must hold no image and no layer, so that
# every timed pull downloads and unpacks everything.
empty_store() {
  case $1 in
    skiff)
      rm -rf "$SKIFF_ROOT"   # as root: unpacked files belong to subordinate ids
      ;;
    podman)
      podman rmi -a -f >>"$LOGS/podman-rmi.log" 2>&1 || true
      [ -z "$(podman images -q)" ] || die "podman images still listed after 'podman rmi -a -f'"
      # No layer left behind either (else Podman would skip the download).
      local n
      n=$(find "$POD_STORE/overlay" -mindepth 1 -maxdepth 1 ! -name l ! -name '.*' 2>/dev/null | wc -l)
      [ "$n" = 0 ] || die "$n podman layers left in $POD_STORE/overlay after rmi"
      ;;
  esac
  sync   # do not let the previous run's writeback land in this run
}

# time_us LOG CMD...: runs CMD once, prints its wall time in microseconds;
# fails loudly. EPOCHREALTIME rather than date(1): no fork inside the timed
# span, which matters next to runs of a few milliseconds.
time_us() {
  local log=$1 t0 t1
  shift
  t0=${EPOCHREALTIME/./}
  "$@" </dev/null >"$log" 2>&1 || { cat "$log" >&2; die "failed: $*"; }
  t1=${EPOCHREALTIME/./}
  echo $((t1 - t0))
}

ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# time_engine USER CMD SETUP ARGS...: wall times of `CMD ARGS...` measured by a
# shell already running as USER, so that switching users (setpriv, env: 3-6 ms)
# is not in the timed span. SETUP (a snippet in which `e` runs CMD) runs untimed
# before each run; BENCH warm-ups first. Sets TIMES (microseconds, one per timed
# run) and MED (their median).
time_engine() {
  local user=$1 cmd=$2 setup=$3 min
  shift 3
  # shellcheck disable=SC2016 # expanded by the inner shell
  TIMES=$(as "$user" bash -c '
    cmd=$1 setup=$2 n=$3 warm=$4; shift 4
    e() { $cmd "$@"; }
    for ((i = 0; i < n + warm; i++)); do
      if [ -n "$setup" ]; then eval "$setup" >/dev/null 2>&1 || { echo "setup failed: $setup" >&2; exit 3; }; fi
      t0=${EPOCHREALTIME/./}
      $cmd "$@" </dev/null >/dev/null 2>"$HOME/.bench-err" || { cat "$HOME/.bench-err" >&2; exit 4; }
      t1=${EPOCHREALTIME/./}
      ((i >= warm)) && echo $((t1 - t0))
    done
    exit 0' _ "$cmd" "$setup" "$RUNS" "$WARMUP" "$@") || die "$cmd $* failed"
  # shellcheck disable=SC2086 # one number per line
  read -r min MED < <(stats $TIMES)
}

# stats N...: "min median" (integers, median rounded)
stats() {
  printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {
    m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
    printf "%d %d\n", v[1], m + 0.5 }'
}

# ratio PODMAN SKIFF: "2.4x" (or "n/a" when skiff's time is 0)
ratio() {
  awk -v p="$1" -v s="$2" 'BEGIN { printf (s > 0 ? "%.1fx" : "n/a"), p / (s > 0 ? s : 1) }'
}

# print_header: the lines every report starts with (the caller adds its "runs:").
print_header() {
  local skiff_version podman_version="not installed"
  skiff_version=$("$SKIFF" version)
  if [ "$HAVE_PODMAN" = 1 ]; then podman_version=$(podman --version); fi
  echo "machine: $(nproc) cpus, $(uname -sr), $(. /etc/os-release && echo "$PRETTY_NAME")"
  # Other work on the machine skews the numbers: show how busy it was.
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
  echo "skiff:   $skiff_version"
  echo "podman:  $podman_version"
  if [ "$HAVE_PODMAN" = 1 ]; then echo "         (rootless, $(graph_driver) storage, runc)"; fi
}
