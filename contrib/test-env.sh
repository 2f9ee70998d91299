#!/bin/bash
# Sets up everything skiff's integration tests need on a Debian 12 host:
# packages, test users, three local registries (open / Basic / Bearer token),
# a token server, a misbehaving proxy in front of the open registry
# (contrib/chaos-proxy.py) and a set of fixture images (good, odd and hostile).
#
# Run as root, no stdin needed. Idempotent: a second run only checks that
# everything is still there (a few seconds). Stop the daemons with
# contrib/stop-test-env.sh. Source /var/tmp/skiff-test/env.sh in tests.
set -euo pipefail

STATE=/var/tmp/skiff-test
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT_PATH="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
PY=/usr/bin/python3          # Debian's python: has python3-jwt; a pyenv/venv python may not
REGISTRY_BIN=/usr/bin/docker-registry

OPEN_PORT=5790 BASIC_PORT=5791 TOKEN_REG_PORT=5792 TOKEN_PORT=5793 TLS_PORT=5789
# A name for the TLS registry that is not a loopback address to the engine (so it is HTTPS
# with verification by default), resolved to 127.0.0.1 through /etc/hosts.
TLS_NAME=skiff-registry.test
# chaos-proxy.py, all in one process in front of the open registry
REDIRECT_PORT=5794 FLAKY_PORT=5795 BLOBSTORE_PORT=5796 TRUNC_PORT=5797 SLOW_PORT=5798
REG_USER=testuser REG_PASS=testpass
TEST_USER=skifftest NOSUB_USER=skiffnosub
OPEN=127.0.0.1:$OPEN_PORT BASIC=127.0.0.1:$BASIC_PORT TOKENREG=127.0.0.1:$TOKEN_REG_PORT
TOKEN_SERVICE=skiff-test TOKEN_ISSUER=skiff-test-issuer

RUN=$STATE/run LOGS=$STATE/logs AUTH=$STATE/auth BUILD=$STATE/build CACHE=$STATE/cache
STAMPS=$STATE/stamps

export DEBIAN_FRONTEND=noninteractive
export PATH=/usr/local/sbin:/usr/sbin:/sbin:$PATH   # useradd, runuser, ... even under plain su
export LC_ALL=C.UTF-8

log() { printf '[test-env] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# ---------------------------------------------------------------------------
# 1. Debian packages (apt-get update only when something is missing)
# ---------------------------------------------------------------------------
PACKAGES=(
  uidmap docker-registry skopeo umoci busybox-static libseccomp-dev
  fuse-overlayfs slirp4netns passt apache2-utils python3 jq debootstrap curl
  util-linux
  # the probe the tests run inside containers, 64- and 32-bit (tests/probe/probe.c):
  gcc libc6-dev gcc-multilib
  # used by this script itself:
  python3-jwt python3-cryptography openssl gzip tar coreutils time
)
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}
install_packages

mkdir -p "$STATE"
chmod 0755 "$STATE"
mkdir -p "$RUN" "$LOGS" "$AUTH" "$CACHE" "$STAMPS" "$STATE/lib"

# One run at a time (the lock fd is closed in the daemons we spawn).
exec 9>"$STATE/.lock"
flock -w 1800 9 || die "another test-env.sh run holds $STATE/.lock"

# ---------------------------------------------------------------------------
# 2. Users, subordinate ids, runtime dirs, device permissions
# ---------------------------------------------------------------------------
# Next free subordinate id start: above every other user's range (uid and
# gid files, so both get the same start) and >= 100000.
next_subid_start() { # user
  awk -F: -v u="$1" 'BEGIN{m=100000} $1!=u && NF>=3 && $2+$3>m {m=$2+$3} END{print m}' \
    /etc/subuid /etc/subgid
}
ensure_subid() { # user file
  local user=$1 file=$2
  # keep an existing entry if it is big enough, otherwise replace it
  if awk -F: -v u="$user" '$1==u && $3>=65536 {f=1} END{exit !f}' "$file"; then return 0; fi
  sed -i "/^${user}:/d" "$file"
  echo "${user}:$(next_subid_start "$user"):65536" >>"$file"
}
touch /etc/subuid /etc/subgid
id "$TEST_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TEST_USER"
id "$NOSUB_USER" >/dev/null 2>&1 ||
  useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$NOSUB_USER"
nosub_uid=$(id -u "$NOSUB_USER")
for f in /etc/subuid /etc/subgid; do  # entries may be keyed by name or by uid
  if [ -f "$f" ] && grep -qE "^(${NOSUB_USER}|${nosub_uid}):" "$f"; then
    sed -i -E "/^(${NOSUB_USER}|${nosub_uid}):/d" "$f"
  fi
done
ensure_subid "$TEST_USER" /etc/subuid   # after the cleanup above: ranges are
ensure_subid "$TEST_USER" /etc/subgid   # allocated above what is left

for u in "$TEST_USER" "$NOSUB_USER"; do  # /run is a tmpfs: redo every time
  uid=$(id -u "$u")
  install -d -m 0700 -o "$uid" -g "$(id -g "$u")" "/run/user/$uid"
done
for d in /dev/net/tun /dev/fuse; do [ -e "$d" ] && chmod 0666 "$d"; done

# ---------------------------------------------------------------------------
# 3. Registries and the token server
# ---------------------------------------------------------------------------
# Basic auth: bcrypt (the only format distribution accepts). Note: although
# the upstream docs say htpasswd "requires TLS", distribution 2.8 does not
# enforce it; over plain HTTP it only serves the Basic challenge, so the
# registry stays HTTP on loopback and clients must treat 127.0.0.1 as insecure.
if ! htpasswd -vb "$AUTH/htpasswd" "$REG_USER" "$REG_PASS" >/dev/null 2>&1; then
  htpasswd -Bbc "$AUTH/htpasswd" "$REG_USER" "$REG_PASS" 2>/dev/null
fi
# RSA key + self-signed cert: the token server signs with the key; the
# registry trusts the cert (rootcertbundle).
if [ ! -s "$AUTH/token.key" ] || [ ! -s "$AUTH/token.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=skiff-test-token \
    -keyout "$AUTH/token.key" -out "$AUTH/token.crt" 2>/dev/null
fi

write_registry_config() { # port kind
  local port=$1 kind=$2 dir=$STATE/registry/$1 storage
  storage=$dir/storage
  # The TLS registry serves the open registry's images from the same storage.
  [ "$kind" = tls ] && storage=$STATE/registry/$OPEN_PORT/storage
  mkdir -p "$dir" "$storage"
  {
    cat <<EOF
# generated by contrib/test-env.sh
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: skiff-test-not-a-secret
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    case $kind in
      basic) cat <<EOF
auth:
  htpasswd:
    realm: skiff-test-basic
    path: $AUTH/htpasswd
EOF
      ;;
      tls) cat <<EOF
  tls:
    certificate: $AUTH/tls.crt
    key: $AUTH/tls.key
EOF
      ;;
      token) cat <<EOF
auth:
  token:
    realm: http://127.0.0.1:$TOKEN_PORT/token
    service: $TOKEN_SERVICE
    issuer: $TOKEN_ISSUER
    rootcertbundle: $AUTH/token.crt
EOF
      ;;
    esac
  } >"$dir/config.yml.new"
  mv "$dir/config.yml.new" "$dir/config.yml"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" || true; }
answering() { [ "$(http_code "http://127.0.0.1:$1/v2/")" != 000 ]; }

# Our daemon on this port (pid file alive and running the expected program)?
our_pid() { # name
  local pf=$RUN/$1.pid pid
  [ -s "$pf" ] || return 1
  pid=$(cat "$pf")
  [ -d "/proc/$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE 'docker-registry|token-server|chaos-proxy' &&
    echo "$pid"
}
stop_ours() { # name
  local pid i
  pid=$(our_pid "$1") || { rm -f "$RUN/$1.pid"; return 0; }
  kill "$pid" 2>/dev/null || true
  for i in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  [ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -f "$RUN/$1.pid"
}

# ensure_daemon NAME PORT CONFSUM CMD...: start CMD in its own session unless
# something already answers on PORT. If the one answering is ours but was
# started with another configuration (CONFSUM), restart it.
ensure_daemon() {
  local name=$1 port=$2 sum=$3 i; shift 3
  if answering "$port"; then
    if our_pid "$name" >/dev/null && [ "$(cat "$RUN/$name.confsum" 2>/dev/null)" != "$sum" ]; then
      log "restarting $name (configuration changed)"
      stop_ours "$name"
      for i in $(seq 50); do answering "$port" || break; sleep 0.1; done
    else
      return 0
    fi
  fi
  log "starting $name on 127.0.0.1:$port"
  # The wrapper writes its own pid (setsid does not fork when we are not a
  # group leader, but writing $$ is robust either way), closes inherited fds
  # (our lock, any pipes of a calling test harness) and execs the daemon.
  # (exec inside the redirected loop makes its 2>/dev/null stick, hence the
  # explicit redirection to the log afterwards.)
  setsid bash -c '
    pf=$1 lf=$2; shift 2
    for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
    exec </dev/null >>"$lf" 2>&1
    echo $$ >"$pf"
    exec nohup "$@"' _ "$RUN/$name.pid" "$LOGS/$name.log" "$@" </dev/null >/dev/null 2>&1 &
  echo "$sum" >"$RUN/$name.confsum"
  for i in $(seq 100); do
    answering "$port" && return 0
    sleep 0.1
  done
  die "$name did not come up on port $port; see $LOGS/$name.log"
}

# A self-signed certificate for the TLS registry, and its name on loopback.
if [ ! -s "$AUTH/tls.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$TLS_NAME" \
    -addext "subjectAltName=DNS:$TLS_NAME,DNS:localhost,IP:127.0.0.1" \
    -keyout "$AUTH/tls.key" -out "$AUTH/tls.crt" 2>/dev/null
fi
grep -q "[[:space:]]$TLS_NAME\$" /etc/hosts || echo "127.0.0.1 $TLS_NAME" >>/etc/hosts
write_registry_config $OPEN_PORT open
write_registry_config $TLS_PORT tls
write_registry_config $BASIC_PORT basic
write_registry_config $TOKEN_REG_PORT token
token_sum=$(cat "$SCRIPT_DIR/token-server.py" "$AUTH/token.crt" | sha256sum | cut -c1-64)
ensure_daemon token-server $TOKEN_PORT "$token_sum" \
  "$PY" "$SCRIPT_DIR/token-server.py" --listen 127.0.0.1:$TOKEN_PORT \
  --key "$AUTH/token.key" --cert "$AUTH/token.crt" \
  --issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE" --user "$REG_USER:$REG_PASS"
for port in $OPEN_PORT $BASIC_PORT $TOKEN_REG_PORT $TLS_PORT; do
  cfg=$STATE/registry/$port/config.yml
  sum=$(cat "$cfg" "$AUTH/htpasswd" "$AUTH/token.crt" "$AUTH/tls.crt" | sha256sum | cut -c1-64)
  ensure_daemon "registry-$port" "$port" "$sum" "$REGISTRY_BIN" serve "$cfg"
done
# One process serves all chaos ports; ensure_daemon probes the redirect port,
# the loop below the others (it binds all of them before serving any).
chaos_args=(--upstream "$OPEN" --redirect 127.0.0.1:$REDIRECT_PORT --flaky 127.0.0.1:$FLAKY_PORT
  --blob-store 127.0.0.1:$BLOBSTORE_PORT --truncating 127.0.0.1:$TRUNC_PORT --slow 127.0.0.1:$SLOW_PORT)
chaos_sum=$( { cat "$SCRIPT_DIR/chaos-proxy.py"; echo "${chaos_args[*]}"; } | sha256sum | cut -c1-64)
ensure_daemon chaos-proxy $REDIRECT_PORT "$chaos_sum" "$PY" "$SCRIPT_DIR/chaos-proxy.py" "${chaos_args[@]}"
for port in $FLAKY_PORT $BLOBSTORE_PORT $TRUNC_PORT $SLOW_PORT; do
  answering "$port" || die "chaos-proxy does not answer on port $port; see $LOGS/chaos-proxy.log"
done

# ---------------------------------------------------------------------------
# 4. Fixture images
# ---------------------------------------------------------------------------
SKOPEO=(skopeo --insecure-policy)
ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json'

# Bearer token for the token registry (anonymous unless creds are given).
get_token() { # scope [user:pass]
  local args=(-s --max-time 5 -G --data-urlencode "service=$TOKEN_SERVICE" --data-urlencode "scope=$1")
  [ -n "${2:-}" ] && args+=(-u "$2")
  curl "${args[@]}" "http://127.0.0.1:$TOKEN_PORT/token" | jq -r .token
}
# manifest_code REGISTRY REPO REF -> HTTP status of a HEAD on the manifest
manifest_code() {
  local reg=$1 repo=$2 ref=$3 auth=()
  case $reg in
    "$BASIC") auth=(-u "$REG_USER:$REG_PASS") ;;
    "$TOKENREG") auth=(-H "Authorization: Bearer $(get_token "repository:$repo:pull" "$REG_USER:$REG_PASS")") ;;
  esac
  http_code -I "${auth[@]}" -H "Accept: $ACCEPT" "http://$reg/v2/$repo/manifests/$ref"
}

# Everything the fixture step pushes (registry/repo:tag), for the skip check
# and for fixtures.json.
FIXTURE_REFS=(
  $OPEN/busybox:latest $OPEN/busybox:v2s2 $OPEN/busybox:zstd
  $OPEN/multiarch:latest $OPEN/multiarch:v2s2 $OPEN/layers:latest
  $OPEN/debian:bookworm $OPEN/nomediatype:latest $OPEN/corrupt:latest
  $OPEN/evil/dotdot:latest $OPEN/evil/abs:latest $OPEN/evil/symlink:latest
  $OPEN/evil/hardlink:latest $OPEN/evil/symhard:latest $OPEN/evil/bigsize:latest
  $OPEN/evil/device:latest
  $BASIC/private/busybox:latest $TOKENREG/private/busybox:latest
)

# Rebuild when the script changed or when any fixture is not served any more
# (e.g. registry storage wiped).
FIXTURE_HASH=$(cat "$SCRIPT_PATH" | sha256sum | cut -c1-64)
fixtures_ok() {
  [ "$(cat "$STAMPS/fixtures" 2>/dev/null)" = "$FIXTURE_HASH" ] || return 1
  [ -s "$STATE/fixtures.json" ] || return 1
  local ref reg rest
  for ref in "${FIXTURE_REFS[@]}"; do
    reg=${ref%%/*} rest=${ref#*/}
    [ "$(manifest_code "$reg" "${rest%:*}" "${rest##*:}")" = 200 ] || { log "missing $ref"; return 1; }
  done
}

# The OCI-layout assembler (hand-built layers, images, index) lives here so
# that this script stays a single file.
write_fixture_builder() {
cat >"$STATE/lib/fixtures.py" <<'PYEOF'
"""Hand-builds fixture layers/images into an OCI layout (see test-env.sh)."""
import gzip, hashlib, io, json, os, shutil, subprocess, sys, tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
EPOCH = 1577836800            # 2020-01-01T00:00:00Z, default mtime: reproducible layers
CREATED = "2020-01-01T00:00:00Z"
DATED = 981158400             # 2001-02-03T00:00:00Z
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def cjson(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Layout:
    def __init__(self, d):
        self.d = d
        with open(os.path.join(d, "index.json")) as f:
            self.index = json.load(f)

    def path(self, digest):
        return os.path.join(self.d, "blobs", *digest.split(":", 1))

    def put(self, data):
        dg = sha(data)
        p = self.path(dg)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if not os.path.exists(p):
            with open(p + ".tmp", "wb") as f:
                f.write(data)
            os.rename(p + ".tmp", p)
        return dg, len(data)

    def put_file(self, src):
        h = hashlib.sha256()
        with open(src, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        dg = "sha256:" + h.hexdigest()
        p = self.path(dg)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if not os.path.exists(p):
            try:
                os.link(src, p)
            except OSError:
                shutil.copyfile(src, p)
        return dg, os.path.getsize(p)

    def get(self, digest):
        with open(self.path(digest), "rb") as f:
            return f.read()

    def desc(self, tag):
        for m in self.index["manifests"]:
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return m
        raise KeyError(tag)

    def tag(self, tag, desc):
        d = dict(desc, annotations={"org.opencontainers.image.ref.name": tag})
        ms = [m for m in self.index["manifests"]
              if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
        self.index["manifests"] = ms + [d]
        with open(os.path.join(self.d, "index.json.tmp"), "w") as f:
            json.dump(self.index, f)
        os.rename(os.path.join(self.d, "index.json.tmp"), os.path.join(self.d, "index.json"))


# ---- tar helpers ---------------------------------------------------------

def E(name, kind="file", data=b"", mode=None, uid=0, gid=0, link="", mtime=EPOCH,
      major=0, minor=0, pax=None):
    """One tar entry: (TarInfo, data)."""
    ti = tarfile.TarInfo(name)
    ti.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
               "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE}[kind]
    ti.mode = mode if mode is not None else {"dir": 0o755, "symlink": 0o777, "chr": 0o666}.get(kind, 0o644)
    ti.uid, ti.gid, ti.mtime, ti.linkname = uid, gid, mtime, link
    ti.uname = ti.gname = ""
    ti.size = len(data) if kind == "file" else 0
    ti.devmajor, ti.devminor = major, minor
    if pax:
        ti.pax_headers = dict(pax)
    return ti, (data if kind == "file" else None)


def tar(entries):
    """Entries are written verbatim (no name sanitising): that is the point."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def busybox_entries():
    applets = subprocess.run(["/bin/busybox", "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    with open("/bin/busybox", "rb") as f:
        bb = f.read()
    ents = [E("bin", "dir"), E("bin/busybox", data=bb, mode=0o755)]
    ents += [E("bin/" + a, "symlink", link="busybox") for a in sorted(set(applets)) if a != "busybox"]
    ents += [
        E("etc", "dir"),
        E("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n"
                             b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
        E("etc/group", data=b"root:x:0:\nnogroup:x:65534:\n"),
        E("root", "dir", mode=0o700),
        E("tmp", "dir", mode=0o1777),
    ]
    return ents


# ---- image assembly --------------------------------------------------------

def image(lay, layers, arch="amd64", base=None, cfg=None, note="layer"):
    """layers: list of raw tar bytes, or dicts {"gz": bytes|"gzfile": path, "diff_id": ...}.
    base: descriptor of an image in `lay` to stack on. Returns the manifest descriptor."""
    if base:
        m = json.loads(lay.get(base["digest"]))
        c = json.loads(lay.get(m["config"]["digest"]))
        ldescs = list(m["layers"])
    else:
        c = {"created": CREATED, "architecture": arch, "os": "linux",
             "config": {"Env": [PATH_ENV]}, "rootfs": {"type": "layers", "diff_ids": []},
             "history": []}
        ldescs = []
    c.setdefault("history", [])
    for l in layers:
        if isinstance(l, bytes):
            l = {"gz": gzip.compress(l, 9, mtime=0), "diff_id": sha(l)}
        dg, size = lay.put_file(l["gzfile"]) if "gzfile" in l else lay.put(l["gz"])
        ldescs.append({"mediaType": OCI_LAYER_GZ, "digest": dg, "size": size})
        c["rootfs"]["diff_ids"].append(l["diff_id"])
        c["history"].append({"created": CREATED, "created_by": "skiff test-env: " + note})
    c["architecture"], c["os"] = arch, "linux"
    if cfg:
        c.setdefault("config", {}).update(cfg)
    cd, cs = lay.put(cjson(c))
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": cs}, "layers": ldescs}
    md, ms = lay.put(json.dumps(m, indent=2).encode())
    return {"mediaType": OCI_MANIFEST, "digest": md, "size": ms}


def member(ti, data=b"", fmt=tarfile.GNU_FORMAT):
    """Raw header+data+padding of one member, no end-of-archive marker."""
    pad = (512 - len(data) % 512) % 512
    return ti.tobuf(fmt, "utf-8", "surrogateescape") + data + b"\0" * pad


def build(layout, debian_gz, debian_diffid, outdir):
    lay = Layout(layout)
    # umoci 0.4.7 writes manifests without "mediaType"; add it so that
    # busybox:latest is a normal OCI manifest (nomediatype:latest is the odd one).
    bb = lay.desc("busybox")
    m = json.loads(lay.get(bb["digest"]))
    if "mediaType" not in m:
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, **m}
        md, ms = lay.put(json.dumps(m).encode())
        lay.tag("busybox", {"mediaType": OCI_MANIFEST, "digest": md, "size": ms})
        bb = lay.desc("busybox")

    # layers:latest — three layers exercising whiteouts & special files.
    l1 = tar(busybox_entries() + [
        E("data", "dir"), E("data/keep", data=b"keep\n"), E("data/gone", data=b"gone\n"),
        E("data/dir", "dir"), E("data/dir/a", data=b"a\n"),
        E("opaque", "dir"), E("opaque/old1", data=b"old1\n"), E("opaque/old2", data=b"old2\n"),
    ])
    l2 = tar([
        E("data", "dir"),
        E("data/.wh.gone", data=b""),                    # whiteout: removes data/gone
        E("data/keep", data=b"keep\n"),                  # hard link target must be in this layer
        E("data/hard", "hardlink", link="data/keep"),
        E("data/link", "symlink", link="keep"),
        E("data/suid", data=b"#!/bin/sh\necho suid\n", mode=0o4755),
        E("data/nobody", data=b"nobody\n", uid=65534, gid=65534),
        E("data/dated", data=b"dated\n", mtime=DATED, pax={"SCHILY.xattr.user.skiff": "yes"}),
        E("opaque", "dir"),
        E("opaque/.wh..wh..opq", data=b""),              # opaque: hides old1, old2
        E("opaque/new", data=b"new\n"),
    ])
    l3 = tar([E("data", "dir"), E("data/last", data=b"last\n")])
    lay.tag("layers", image(lay, [l1, l2, l3], cfg={"Cmd": ["sh"]}, note="layers"))

    # multiarch: amd64 = busybox + /arch, arm64 = a lone /arch layer.
    amd = image(lay, [tar([E("arch", data=b"amd64\n")])], base=bb, note="arch")
    arm = image(lay, [tar([E("arch", data=b"arm64\n")])], arch="arm64", note="arch")
    lay.tag("multiarch-amd64", amd)
    lay.tag("multiarch-arm64", arm)
    idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        dict(amd, platform={"architecture": "amd64", "os": "linux"}),
        dict(arm, platform={"architecture": "arm64", "os": "linux"}),
    ]}
    idg, isz = lay.put(json.dumps(idx, indent=2).encode())
    lay.tag("multiarch", {"mediaType": OCI_INDEX, "digest": idg, "size": isz})

    # corrupt: busybox + /corrupt. Stored (level 0) gzip so that a replacement
    # with other content has exactly the same length and is still valid gzip:
    # only the digest check can catch it.
    good = tar([E("corrupt", data=b"GOOD" * 1024)])
    bad = tar([E("corrupt", data=b"EVIL" * 1024)])
    good_gz, bad_gz = gzip.compress(good, 0, mtime=0), gzip.compress(bad, 0, mtime=0)
    assert len(good_gz) == len(bad_gz)
    lay.tag("corrupt", image(lay, [{"gz": good_gz, "diff_id": sha(good)}], base=bb, note="corrupt"))
    with open(os.path.join(outdir, "corrupt-replacement"), "wb") as f:
        f.write(bad_gz)
    with open(os.path.join(outdir, "corrupt-digest"), "w") as f:
        f.write(sha(good_gz) + "\n")

    # nomediatype: busybox's manifest without the mediaType field.
    m = json.loads(lay.get(bb["digest"]))
    m.pop("mediaType", None)
    with open(os.path.join(outdir, "nomediatype.json"), "wb") as f:
        f.write(json.dumps(m, indent=3).encode())

    # debian:bookworm from the cached debootstrap layer.
    lay.tag("debian", image(lay, [{"gzfile": debian_gz, "diff_id": debian_diffid}],
                            cfg={"Cmd": ["bash"], "Env": [PATH_ENV]}, note="debootstrap minbase"))

    # Hostile layers. Each starts with a harmless regular file "ok".
    ok = E("ok", data=b"ok\n")
    evil = {
        "dotdot": [ok, E("../../../../../../../../tmp/skiff-evil-dotdot", data=b"dotdot\n")],
        "abs": [ok, E("/tmp/skiff-evil-abs", data=b"abs\n")],
        "symlink": [ok,
                    E("escape", "symlink", link="/tmp/skiff-evil-target"),
                    E("escape/pwned", data=b"pwned\n"),
                    E("rel", "symlink", link="../../../../../../tmp/skiff-evil-target"),
                    E("rel/pwned2", data=b"pwned2\n")],
        "hardlink": [ok,
                     E("hl", "hardlink", link="../../../../../../etc/passwd"),
                     E("hlabs", "hardlink", link="/etc/passwd")],
        "symhard": [ok, E("s", "symlink", link="/etc"), E("h", "hardlink", link="s/passwd")],
        "device": [ok, E("dev", "dir"), E("dev/null2", "chr", major=1, minor=3, mode=0o666)],
    }
    for name, ents in evil.items():
        lay.tag("evil-" + name, image(lay, [tar(ents)], note="evil " + name))
    # bigsize: GNU base-256 size field claiming 2^40 bytes, then only 4 KiB
    # of data and no end-of-archive blocks.
    big = tarfile.TarInfo("big")
    big.size, big.mode, big.mtime = 1 << 40, 0o644, EPOCH
    raw = member(ok[0], ok[1]) + big.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape") + b"A" * 4096
    lay.tag("evil-bigsize", image(lay, [raw], note="evil bigsize"))


if __name__ == "__main__":
    build(*sys.argv[1:5])
PYEOF
}

# Cached debootstrap rootfs as one gzip layer (+ its diff_id). Only built once.
build_debian_layer() {
  local tgz=$CACHE/debian-bookworm-minbase.tar.gz root=$CACHE/debian-rootfs mirror
  [ -s "$tgz" ] && [ -s "$tgz.diffid" ] && return 0
  # First non-security mirror from apt's sources (one-line or deb822 format).
  mirror=$(
    { grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        grep -oE '[a-z]+://[^ ]+' || true
      grep -hsiE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources |
        grep -oE '[a-z]+://[^ ]+' || true
    } | grep -v security | head -n1
  )
  mirror=${mirror:-http://deb.debian.org/debian}
  log "debootstrap --variant=minbase bookworm from $mirror (first run only)"
  cleanup_rootfs "$root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$LOGS/debootstrap.log" 2>&1 ||
    die "debootstrap failed, see $LOGS/debootstrap.log"
  cleanup_mounts "$root"
  # Like the official images: no device nodes, no apt lists/caches.
  (cd "$root" && tar --numeric-owner --sort=name \
     --exclude='dev/*' --exclude='proc/*' --exclude='sys/*' \
     --exclude='var/lib/apt/lists/*_*' --exclude='var/cache/apt/*.bin' \
     --exclude='var/cache/apt/archives/*.deb' \
     -cf "$CACHE/debian.tar" $(ls -A))
  echo "sha256:$(sha256sum <"$CACHE/debian.tar" | cut -c1-64)" >"$tgz.diffid.tmp"
  gzip -n -c "$CACHE/debian.tar" >"$tgz.tmp"
  rm -f "$CACHE/debian.tar"
  mv "$tgz.tmp" "$tgz"
  mv "$tgz.diffid.tmp" "$tgz.diffid"
  cleanup_rootfs "$root"
}
cleanup_mounts() { # unmount anything debootstrap left mounted below $1
  local m
  for m in $(awk -v r="$1" '$2 ~ "^"r"/" {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" || true
  done
}
cleanup_rootfs() { cleanup_mounts "$1"; rm -rf --one-file-system "$1"; }

# busybox via umoci: unpack an empty image, fill the rootfs, repack, config.
build_busybox_umoci() {
  local L=$1 bundle=$BUILD/bundle-busybox a
  umoci init --layout "$L"
  umoci new --image "$L:busybox"
  umoci unpack --image "$L:busybox" "$bundle" >/dev/null
  local r=$bundle/rootfs
  install -d -m 0755 "$r/bin" "$r/etc"
  install -d -m 0700 "$r/root"
  install -d -m 1777 "$r/tmp"
  install -m 0755 /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  chmod 0644 "$r/etc/passwd" "$r/etc/group"
  umoci repack --image "$L:busybox" "$bundle"
  umoci config --image "$L:busybox" --config.cmd sh \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --architecture amd64 --os linux
  umoci gc --layout "$L"
  rm -rf "$bundle"
}

push() { # layout-tag dest-ref [extra skopeo args]
  local src=$1 dst=$2; shift 2
  log "push $dst"
  "${SKOPEO[@]}" copy -q --dest-tls-verify=false "$@" "oci:$BUILD/oci:$src" "docker://$dst" >/dev/null
}

media_types() { # registry repo ref -> manifest + layer media types, one per line
  curl -s -H "Accept: $ACCEPT" "http://$1/v2/$2/manifests/$3" |
    jq -r '.mediaType // "none", (.layers // .manifests // [] | .[].mediaType)'
}

build_fixtures() {
  log "building fixtures"
  rm -rf "$BUILD"
  mkdir -p "$BUILD"
  build_debian_layer
  build_busybox_umoci "$BUILD/oci"
  write_fixture_builder
  "$PY" "$STATE/lib/fixtures.py" "$BUILD/oci" "$CACHE/debian-bookworm-minbase.tar.gz" \
    "$(cat "$CACHE/debian-bookworm-minbase.tar.gz.diffid")" "$BUILD"

  # --- open registry ---
  push busybox "$OPEN/busybox:latest"
  push busybox "$OPEN/busybox:v2s2" --format v2s2
  push_zstd
  push layers "$OPEN/layers:latest"
  push multiarch "$OPEN/multiarch:latest" --all
  # skopeo converts the OCI index into a Docker manifest list (children v2s2)
  push multiarch "$OPEN/multiarch:v2s2" --all --format v2s2
  push debian "$OPEN/debian:bookworm"
  push corrupt "$OPEN/corrupt:latest"
  for e in dotdot abs symlink hardlink symhard bigsize device; do
    push "evil-$e" "$OPEN/evil/$e:latest"
  done
  push_nomediatype
  corrupt_blob

  # --- auth registries ---
  push busybox "$BASIC/private/busybox:latest" --dest-creds "$REG_USER:$REG_PASS"
  push busybox "$TOKENREG/private/busybox:latest" --dest-creds "$REG_USER:$REG_PASS"

  verify_fixtures
}

# busybox:zstd. skopeo 1.9 (c/image 5.2x) reuses a blob that already exists
# in the destination (or that its blob-info cache can substitute) even when
# --dest-compress-format zstd is given, so pushing straight from the gzip
# layout re-uses the gzip layer. Instead: recompress into a local OCI layout,
# then push that with a throw-away blob-info cache (skopeo keeps root's cache
# in /var/lib/containers/cache, so run it as the test user with a temp HOME).
push_zstd() {
  local z=$BUILD/oci-zstd home
  "${SKOPEO[@]}" copy -q --dest-compress-format zstd "oci:$BUILD/oci:busybox" "oci:$z:busybox" >/dev/null
  home=$(mktemp -d "$BUILD/home.XXXXXX")
  chown "$TEST_USER" "$home"
  chmod -R a+rX "$z"
  log "push $OPEN/busybox:zstd"
  runuser -u "$TEST_USER" -- env -i HOME="$home" PATH=/usr/bin:/bin \
    skopeo --insecure-policy copy -q --dest-tls-verify=false \
    "oci:$z:busybox" "docker://$OPEN/busybox:zstd" >/dev/null
  rm -rf "$home"
  media_types "$OPEN" busybox zstd | grep -q 'tar+zstd' ||
    die "busybox:zstd has no zstd layer: $(media_types "$OPEN" busybox zstd | tr '\n' ' ')"
}

# nomediatype: blobs are per-repository in distribution, so mount busybox's
# blobs into the new repo first, then PUT the manifest without mediaType.
push_nomediatype() {
  local f=$BUILD/nomediatype.json d code
  for d in $(jq -r '.config.digest, .layers[].digest' "$f"); do
    code=$(http_code -X POST "http://$OPEN/v2/nomediatype/blobs/uploads/?mount=$d&from=busybox")
    [ "$code" = 201 ] || die "blob mount $d into nomediatype: HTTP $code"
  done
  code=$(curl -s -o "$BUILD/nomediatype.out" -w '%{http_code}' -X PUT \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$f" "http://$OPEN/v2/nomediatype/manifests/latest")
  [ "$code" = 201 ] || die "nomediatype PUT: HTTP $code $(cat "$BUILD/nomediatype.out")"
  log "push $OPEN/nomediatype:latest (curl)"
}

# corrupt: overwrite the unique /corrupt layer inside the registry storage
# with a same-length valid gzip of different content.
corrupt_blob() {
  local d hex data
  d=$(cat "$BUILD/corrupt-digest") hex=${d#sha256:}
  data=$STATE/registry/$OPEN_PORT/storage/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
  [ -f "$data" ] || die "corrupt layer blob not found at $data"
  [ "$(stat -c %s "$data")" = "$(stat -c %s "$BUILD/corrupt-replacement")" ] || die "size mismatch"
  cat "$BUILD/corrupt-replacement" >"$data"
  log "corrupted blob $d of corrupt:latest"
}

verify_fixtures() {
  # Media types the tests rely on.
  media_types "$OPEN" busybox v2s2 | head -n1 | grep -qx 'application/vnd.docker.distribution.manifest.v2+json' ||
    die "busybox:v2s2 is not schema2"
  media_types "$OPEN" multiarch latest | head -n1 | grep -qx 'application/vnd.oci.image.index.v1+json' ||
    die "multiarch:latest is not an OCI index"
  # umoci must be able to unpack the image with the whiteouts.
  local t
  t=$(mktemp -d "$BUILD/verify.XXXXXX")
  "${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$OPEN/layers:latest" "oci:$t/oci:layers" >/dev/null
  umoci unpack --image "$t/oci:layers" "$t/bundle" >/dev/null
  [ -e "$t/bundle/rootfs/data/gone" ] && die "layers: whiteout not applied"
  [ -e "$t/bundle/rootfs/opaque/old1" ] && die "layers: opaque dir not applied"
  [ "$(cat "$t/bundle/rootfs/data/last")" = last ] || die "layers: data/last missing"
  rm -rf "$t"
}

write_fixtures_json() {
  local ref reg creds d tmp=$STATE/fixtures.json.tmp
  echo '{}' >"$tmp"
  for ref in "${FIXTURE_REFS[@]}"; do
    reg=${ref%%/*} creds=()
    [ "$reg" = "$OPEN" ] || creds=(--creds "$REG_USER:$REG_PASS")
    d=sha256:$("${SKOPEO[@]}" inspect --raw --tls-verify=false "${creds[@]}" "docker://$ref" | sha256sum | cut -c1-64)
    jq --arg r "$ref" --arg d "$d" '. + {($r): $d}' "$tmp" >"$tmp.2" && mv "$tmp.2" "$tmp"
  done
  mv "$tmp" "$STATE/fixtures.json"
}

if fixtures_ok; then
  log "fixtures up to date"
else
  rm -f "$STAMPS/fixtures"
  build_fixtures
  write_fixtures_json
  echo "$FIXTURE_HASH" >"$STAMPS/fixtures"
fi

# ---------------------------------------------------------------------------
# 4b. The probe the tests run inside containers: a static program that asks the
#     kernel what the container may do (tests/probe/probe.c), 64- and 32-bit.
# ---------------------------------------------------------------------------
PROBE_SRC=$SCRIPT_DIR/../tests/probe/probe.c
PROBE_DIR=$STATE/lib/probe
build_probe() {
  local hash
  hash=$(sha256sum "$PROBE_SRC" | cut -c1-64)
  if [ "$(cat "$STAMPS/probe" 2>/dev/null)" = "$hash" ] && [ -x "$PROBE_DIR/probe" ] &&
    [ -x "$PROBE_DIR/probe32" ]; then
    return 0
  fi
  log "building the probe"
  mkdir -p "$PROBE_DIR"
  gcc -O2 -static -Wall -o "$PROBE_DIR/probe.tmp" "$PROBE_SRC"
  gcc -m32 -O2 -static -Wall -o "$PROBE_DIR/probe32.tmp" "$PROBE_SRC"
  mv "$PROBE_DIR/probe.tmp" "$PROBE_DIR/probe"
  mv "$PROBE_DIR/probe32.tmp" "$PROBE_DIR/probe32"
  chmod 0755 "$STATE/lib" "$PROBE_DIR" "$PROBE_DIR/probe" "$PROBE_DIR/probe32"
  echo "$hash" >"$STAMPS/probe"
}
build_probe

# ---------------------------------------------------------------------------
# 5. Environment for the tests
# ---------------------------------------------------------------------------
cat >"$STATE/env.sh.tmp" <<EOF
# generated by contrib/test-env.sh
export SKIFF_TEST_REGISTRY=$OPEN
export SKIFF_TEST_AUTH_REGISTRY=$BASIC
export SKIFF_TEST_TOKEN_REGISTRY=$TOKENREG
export SKIFF_TEST_TOKEN_SERVER=127.0.0.1:$TOKEN_PORT
export SKIFF_TEST_REDIRECT_REGISTRY=127.0.0.1:$REDIRECT_PORT
export SKIFF_TEST_BLOB_STORE=127.0.0.1:$BLOBSTORE_PORT
export SKIFF_TEST_FLAKY_REGISTRY=127.0.0.1:$FLAKY_PORT
export SKIFF_TEST_TRUNCATING_REGISTRY=127.0.0.1:$TRUNC_PORT
export SKIFF_TEST_SLOW_REGISTRY=127.0.0.1:$SLOW_PORT
export SKIFF_TEST_TLS_REGISTRY=127.0.0.1:$TLS_PORT
export SKIFF_TEST_TLS_NAME=$TLS_NAME:$TLS_PORT
export SKIFF_TEST_USER=$TEST_USER
export SKIFF_TEST_NOSUB_USER=$NOSUB_USER
export SKIFF_TEST_REG_USER=$REG_USER
export SKIFF_TEST_REG_PASS=$REG_PASS
export SKIFF_TEST_STATE=$STATE
export SKIFF_TEST_PROBE=$PROBE_DIR
EOF
mv "$STATE/env.sh.tmp" "$STATE/env.sh"
chmod 0644 "$STATE/env.sh" "$STATE/fixtures.json"
log "ready: source $STATE/env.sh"
