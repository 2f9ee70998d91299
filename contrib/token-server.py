#!/usr/bin/python3
"""Minimal Docker registry v2 token server for skiff's test environment.

Implements enough of https://distribution.github.io/distribution/spec/auth/token/
for distribution 2.8 (Debian's docker-registry) configured with

    auth:
      token:
        realm: http://127.0.0.1:5793/token
        service: skiff-test
        issuer: skiff-test-issuer
        rootcertbundle: <cert.pem>

Policy (mimics Docker Hub):
  * no credentials            -> token granting at most "pull" on any repository
  * Basic testuser:testpass   -> token granting "pull,push" (+ "delete") on any
                                 repository and registry:catalog:*
  * Basic with a wrong secret -> 401 (with a Basic challenge)

Endpoints:
  GET  /token?service=..&scope=..[&scope=..]      (Docker style, Basic auth optional)
  POST /token  grant_type=password&username=..&password=..&scope=..  (OAuth2 style)
  GET  /healthz

Uses only the stdlib plus Debian's python3-jwt and python3-cryptography;
run it with /usr/bin/python3 (not a pyenv/venv python that lacks them).
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

TOKEN_TTL = 300


def libtrust_key_id(public_key):
    """docker/libtrust key ID: sha256 of the DER SubjectPublicKeyInfo, first
    240 bits, base32, in 12 colon-separated groups of 4.  distribution 2.8
    accepts a JWT whose header `kid` equals this for a key in rootcertbundle."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


class Config:
    def __init__(self, args):
        with open(args.key, "rb") as f:
            self.private_key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.kid = libtrust_key_id(cert.public_key())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.issuer = args.issuer
        self.service = args.service
        self.users = {}
        for u in args.user:
            name, _, pw = u.partition(":")
            self.users[name] = pw

    def check(self, user, password):
        want = self.users.get(user)
        return want is not None and hmac.compare_digest(want.encode(), password.encode())


def parse_scope(scope):
    """'repository:name:pull,push' -> ('repository', 'name', ['pull','push']).
    The name may itself contain ':' (e.g. host:port/repo), so split carefully."""
    typ, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not typ or not name:
        return None
    return typ, name, [a for a in actions.split(",") if a]


def allowed_actions(authenticated, typ, name, wanted):
    if typ == "repository":
        allow = {"pull", "push", "delete", "*"} if authenticated else {"pull"}
    elif typ == "registry" and name == "catalog" and authenticated:
        allow = {"*"}
    else:
        allow = set()
    return [a for a in wanted if a in allow]


class Handler(BaseHTTPRequestHandler):
    server_version = "skiff-test-token/1"
    cfg = None  # set in main

    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), fmt % a))
        sys.stderr.flush()

    def _send(self, code, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _deny(self):
        self._send(
            401,
            {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]},
            {"WWW-Authenticate": 'Basic realm="skiff-test-token"'},
        )

    def _basic(self):
        """Returns (present, user, password) from the Authorization header."""
        h = self.headers.get("Authorization", "")
        if not h.lower().startswith("basic "):
            return False, None, None
        try:
            user, _, pw = base64.b64decode(h[6:].strip()).decode().partition(":")
        except Exception:
            return True, None, None
        return True, user, pw

    def _issue(self, user, scopes, account_param=None):
        access = []
        for s in scopes:
            p = parse_scope(s)
            if not p:
                continue
            acts = allowed_actions(user is not None, *p)
            access.append({"type": p[0], "name": p[1], "actions": acts})
        now = int(time.time())
        claims = {
            "iss": self.cfg.issuer,
            "sub": user or "",
            "aud": self.cfg.service,
            "exp": now + TOKEN_TTL,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        # distribution 2.8 checks x5c (chain to rootcertbundle) first, else
        # jwk, else kid (libtrust key ID). We send x5c and kid; either suffices.
        headers = {"kid": self.cfg.kid, "x5c": self.cfg.x5c, "typ": "JWT"}
        tok = jwt.encode(claims, self.cfg.private_key, algorithm="RS256", headers=headers)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        self.log_message("issued token sub=%r access=%s", user or "", json.dumps(access))
        return {"token": tok, "access_token": tok, "expires_in": TOKEN_TTL, "issued_at": issued}

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path == "/healthz":
            return self._send(200, {"ok": True})
        if u.path != "/token":
            return self._send(404, {"error": "not found"})
        q = parse_qs(u.query)
        present, user, pw = self._basic()
        if present:
            if user is None or not self.cfg.check(user, pw):
                return self._deny()
        else:
            user = None
        self._send(200, self._issue(user, q.get("scope", [])))

    def do_POST(self):
        u = urlsplit(self.path)
        if u.path != "/token":
            return self._send(404, {"error": "not found"})
        n = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(n).decode(errors="replace"))
        grant = form.get("grant_type", [""])[0]
        scopes = []
        for s in form.get("scope", []):
            scopes.extend(s.split(" "))  # OAuth2 scopes are space separated
        if grant == "password":
            user = form.get("username", [""])[0]
            if not self.cfg.check(user, form.get("password", [""])[0]):
                return self._deny()
            return self._send(200, self._issue(user, scopes))
        # refresh tokens are not implemented: clients fall back to GET.
        self._send(400, {"error": "unsupported_grant_type"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:5793")
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--issuer", default="skiff-test-issuer")
    ap.add_argument("--service", default="skiff-test")
    ap.add_argument("--user", action="append", default=[], help="name:password")
    args = ap.parse_args()
    Handler.cfg = Config(args)
    host, _, port = args.listen.rpartition(":")
    ThreadingHTTPServer.request_queue_size = 128  # parallel test clients
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    sys.stderr.write("listening on %s kid=%s\n" % (args.listen, Handler.cfg.kid))
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
