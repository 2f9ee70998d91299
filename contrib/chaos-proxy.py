#!/usr/bin/python3
"""Misbehaving reverse proxy in front of the open test registry (skiff's
test environment, started by contrib/test-env.sh). One process, one
misbehaviour per listening port, all proxying to --upstream (127.0.0.1:5790):

  redirect   (5794) everything is passed through unchanged, except
                    GET /v2/<name>/blobs/<digest>, answered with
                    307 Location: http://<blob-store>/blob-store/<name>/blobs/<digest>?sig=x
                    (like a registry on S3). A missing blob gets the registry's own
                    404 instead (real registries stat the blob before redirecting).
  blob-store (5796) the redirect target, S3-like: GET/HEAD /blob-store/<name>/blobs/<digest>
                    is served from the upstream (Range honoured). 400 InvalidArgument
                    if the request has an Authorization header (a leaked registry
                    token), 403 AccessDenied without ?sig=x. Only S3-ish response
                    headers (no Docker-Content-Digest). Anything else: 404.
  flaky      (5795) blob GETs without Range: the real headers (200, full Content-Length),
                    the first half of the body, then a TCP reset. Blob GETs with Range
                    are forwarded with it (upstream answers 206) and passed through whole.
  truncating (5797) every blob GET (with or without Range) is cut after half of its
                    Content-Length and the connection then closed (FIN): a short body.
  slow       (5798) GET/HEAD of /v2/<name>/manifests/<ref> waits --delay (0.3 s) first.

HEAD requests, the /v2/ ping, manifests and uploads pass through in every mode.
GET /_stats on any port answers that port's counters as JSON, e.g. flaky:
{"range_requests": N, "dropped": M} (cumulative since the process started).

Every response carries "Connection: close": one request per connection keeps
the cut/reset semantics simple and clients must cope with it anyway.
Bodies are streamed in chunks in both directions, never held whole.
Stdlib only; run with /usr/bin/python3.
"""

import argparse
import fcntl
import http.client
import json
import re
import socket
import struct
import sys
import termios
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHUNK = 64 * 1024
UPSTREAM_TIMEOUT = 60

# Digests always contain ':', which keeps /blobs/uploads/... out.
BLOB_RE = re.compile(r"^/v2/(.+)/blobs/([a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)$")
MANIFEST_RE = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")
STORE_RE = re.compile(r"^/blob-store/(.+)/blobs/([^/]+)$")

# RFC 7230 hop-by-hop headers (plus Expect: http.server already answered
# "100 Continue" itself) are not forwarded in either direction.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "expect", "content-length",
}
# What an S3 GetObject answer carries; Docker-* headers do not survive a redirect.
STORE_RESPONSE_HEADERS = {
    "content-length", "content-range", "content-type", "accept-ranges", "etag",
    "last-modified", "date",
}

S3_AUTH_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code>'
    b"<Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
    b"Signature query string parameter or the Authorization header should be specified"
    b"</Message><ArgumentName>Authorization</ArgumentName></Error>\n"
)
S3_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Query-string authentication requires the Signature parameter</Message></Error>\n"
)


class Stats:
    """Per-listener counters; handler threads update them concurrently."""

    def __init__(self, *keys):
        self.lock = threading.Lock()
        self.counts = dict.fromkeys(keys, 0)

    def inc(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # parallel test clients

    def __init__(self, addr, mode, cfg):
        self.mode, self.cfg = mode, cfg
        keys = {
            "redirect": ("redirects",),
            "blob-store": ("served", "rejected_auth", "rejected_unsigned"),
        }.get(mode, ("range_requests", "dropped"))
        self.stats = Stats(*keys)
        super().__init__(addr, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "skiff-chaos/1"
    timeout = 120  # a stuck client must not pin a thread forever

    def log_message(self, fmt, *a):
        sys.stderr.write("%s [%s] %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"),
                                           self.server.mode, fmt % a))
        sys.stderr.flush()

    def log_request(self, code="-", size="-"):
        pass  # we log once per request ourselves, with what was actually sent

    def do_GET(self):
        self.close_connection = True
        try:
            self.dispatch()
        except (BrokenPipeError, ConnectionResetError):
            self.log_message("%s %s: client went away", self.command, self.path)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # ---- routing ----------------------------------------------------------

    def dispatch(self):
        mode, url = self.server.mode, urlsplit(self.path)
        if url.path == "/_stats" and self.command == "GET":
            return self.send_simple(200, json.dumps(self.server.stats.snapshot()).encode(),
                                    "application/json")
        if mode == "blob-store":
            return self.blob_store(url)

        blob_get = self.command == "GET" and BLOB_RE.match(url.path)
        if mode == "redirect" and blob_get:
            return self.redirect(blob_get, url)
        if mode == "slow" and self.command in ("GET", "HEAD") and MANIFEST_RE.match(url.path):
            time.sleep(self.server.cfg.delay)  # lets concurrent callers pile up
        cut = None
        if mode in ("flaky", "truncating") and blob_get:
            ranged = "Range" in self.headers
            if ranged:
                self.server.stats.inc("range_requests")
            if mode == "truncating" or not ranged:
                cut = "reset" if mode == "flaky" else "fin"
        self.proxy(self.path, self.forward_headers(), cut=cut)

    def redirect(self, m, url):
        # Stat first, as distribution does before redirecting to its storage:
        # a missing blob gets the registry's 404, not a redirect.
        status = self.upstream_status("HEAD", url.path)
        if status != 200:
            return self.proxy(self.path, self.forward_headers())
        name, digest = m.groups()
        loc = "http://%s/blob-store/%s/blobs/%s?sig=x" % (self.server.cfg.blob_store, name, digest)
        self.server.stats.inc("redirects")
        body = b'<a href="%s">Temporary Redirect</a>.\n' % loc.encode()
        self.send_simple(307, body, "text/html; charset=utf-8", {"Location": loc})

    def blob_store(self, url):
        m = STORE_RE.match(url.path)
        if not m:
            return self.send_simple(404, b"not found\n", "text/plain")
        if self.command not in ("GET", "HEAD"):
            return self.send_simple(405, b"method not allowed\n", "text/plain")
        if "Authorization" in self.headers:
            # What S3 says when a client forwards the registry's bearer token
            # along with a presigned URL: the credential leaked.
            self.server.stats.inc("rejected_auth")
            return self.send_simple(400, S3_AUTH_ERROR, "application/xml")
        if parse_qs(url.query).get("sig") != ["x"]:
            self.server.stats.inc("rejected_unsigned")  # client dropped the query
            return self.send_simple(403, S3_DENIED, "application/xml")
        self.server.stats.inc("served")
        headers = [("Host", self.server.cfg.upstream)]
        if "Range" in self.headers:
            headers.append(("Range", self.headers["Range"]))
        self.proxy("/v2/%s/blobs/%s" % m.groups(), headers, keep=STORE_RESPONSE_HEADERS)

    # ---- plumbing -----------------------------------------------------------

    def forward_headers(self):
        """The client's headers minus hop-by-hop ones; Host stays as sent, so
        the registry's upload Location URLs point back through the proxy."""
        drop = set(HOP_BY_HOP)
        for tok in self.headers.get("Connection", "").split(","):
            drop.add(tok.strip().lower())
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in drop]
        if "Host" not in self.headers:
            headers.append(("Host", self.server.cfg.upstream))
        return headers

    def connect(self):
        host, _, port = self.server.cfg.upstream.rpartition(":")
        return http.client.HTTPConnection(host, int(port), timeout=UPSTREAM_TIMEOUT)

    def upstream_status(self, method, path):
        conn = self.connect()
        try:
            conn.request(method, path, headers={"Host": self.server.cfg.upstream})
            return conn.getresponse().status
        except (OSError, http.client.HTTPException):
            return 502
        finally:
            conn.close()

    def send_body_upstream(self, conn):
        """Streams the request body: Content-Length as is, chunked re-framed."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers: dropped
                    conn.send(b"0\r\n\r\n")
                    return
                conn.send(b"%x\r\n" % size)
                left = size
                while left:
                    data = self.rfile.read(min(CHUNK, left))
                    if not data:
                        raise ConnectionResetError("client body ended early")
                    conn.send(data)
                    left -= len(data)
                conn.send(b"\r\n")
                self.rfile.readline(1024)  # CRLF after the chunk
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            data = self.rfile.read(min(CHUNK, left))
            if not data:
                raise ConnectionResetError("client body ended early")
            conn.send(data)
            left -= len(data)

    def proxy(self, target, headers, cut=None, keep=None):
        """Forwards the request to the upstream and streams the answer back.
        cut: "reset"/"fin" sends only half of a 200/206 body, then closes
        with a TCP reset / a normal FIN. keep: response header allow-list."""
        conn = self.connect()
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif self.headers.get("Content-Length"):
                conn.putheader("Content-Length", self.headers["Content-Length"])
            conn.endheaders()
            self.send_body_upstream(conn)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException, ValueError) as e:
            conn.close()
            self.log_message("%s %s: upstream error: %r", self.command, self.path, e)
            body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "chaos-proxy: %s" % e}]})
            return self.send_simple(502, body.encode(), "application/json")
        try:
            self.relay(resp, cut, keep)
        finally:
            conn.close()

    def relay(self, resp, cut, keep):
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP_BY_HOP or (keep is not None and lk not in keep):
                continue  # (Content-Length is among them: added below)
            self.send_header(k, v)
        # Content-Length is sent verbatim (also for HEAD); without one the body
        # simply runs until we close, which "Connection: close" makes legal.
        if resp.getheader("Content-Length") is not None:
            self.send_header("Content-Length", resp.getheader("Content-Length"))
        self.send_header("Connection", "close")
        self.end_headers()

        length = resp.length  # None when unknown (chunked upstream), 0 for HEAD
        if self.command == "HEAD" or resp.status in (204, 304):
            limit = 0
        elif cut and resp.status in (200, 206) and length is not None:
            limit = length // 2
        else:
            limit = None
        sent = 0
        while limit is None or sent < limit:
            data = resp.read1(CHUNK if limit is None else min(CHUNK, limit - sent))
            if not data:
                break
            self.wfile.write(data)
            sent += len(data)

        note = ""
        if limit is not None and cut and length and sent < length:
            self.server.stats.inc("dropped")
            note = " CUT after %d of %d bytes (%s)" % (sent, length, cut)
            if cut == "reset":
                self.reset_connection()
        if "Range" in self.headers:
            note += " range=%s" % self.headers["Range"]
        self.log_message('"%s %s" %d %d%s', self.command, self.path, resp.status, sent, note)

    def reset_connection(self):
        """Aborts the connection with a TCP RST, but only once the client has
        acknowledged everything sent: an RST discards unsent data, and the
        client should see exactly the first half before the error."""
        sock = self.connection
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            unacked = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
            if unacked == 0:
                break
            time.sleep(0.01)
        # SO_LINGER 0 turns close() into a reset. rfile holds a reference to the
        # socket, so it must go first or close() would only be deferred (and
        # socketserver's shutdown(SHUT_WR) would then send a polite FIN).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        sock.close()

    def send_simple(self, code, body, ctype, extra=None):
        self.send_response_only(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.log_message('"%s %s" %d %d', self.command, self.path, code, len(body))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", default="127.0.0.1:5790")
    ap.add_argument("--redirect", default="127.0.0.1:5794")
    ap.add_argument("--flaky", default="127.0.0.1:5795")
    ap.add_argument("--blob-store", default="127.0.0.1:5796")
    ap.add_argument("--truncating", default="127.0.0.1:5797")
    ap.add_argument("--slow", default="127.0.0.1:5798")
    ap.add_argument("--delay", type=float, default=0.3, help="slow mode: seconds before a manifest")
    cfg = ap.parse_args()

    # Bind everything before serving anything: a port that is taken makes the
    # whole proxy fail at once instead of half of it running.
    servers = []
    for mode in ("redirect", "flaky", "blob-store", "truncating", "slow"):
        addr = getattr(cfg, mode.replace("-", "_"))
        host, _, port = addr.rpartition(":")
        try:
            servers.append(Server((host, int(port)), mode, cfg))
        except OSError as e:
            sys.exit("chaos-proxy: cannot listen on %s (%s): %s" % (addr, mode, e))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
        sys.stderr.write("%s listening on %s:%d, upstream %s\n"
                         % (s.mode, *s.server_address, cfg.upstream))
    sys.stderr.flush()
    threading.Event().wait()  # until SIGTERM (default action: exit)


if __name__ == "__main__":
    main()
