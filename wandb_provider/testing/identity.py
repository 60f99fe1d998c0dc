"""W&B identity federation on the local server: a JWT exchanged for an access token (RFC 7523).

W&B's SDK (and our client) POST ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and
``assertion=<JWT>`` as a form to ``/oidc/token`` and get ``{"access_token", "expires_in"}`` back,
then send ``Authorization: Bearer <access token>`` (W&B docs, "Identity federation"). Here the
server plays the organisation's configured JWT issuer too: ``mint`` makes a JWT (HS256, signed with
a secret of this server) naming a user in ``sub``. A JWT that is malformed, unsigned, signed with
another key, expired, from another issuer or for an unknown user is refused as RFC 6749 (section
5.2) and RFC 7523 prescribe: HTTP 400 with ``{"error": "invalid_grant"}``; another grant type gets
``unsupported_grant_type``. Access tokens live in memory: a restarted server has forgotten them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ISSUER = "https://issuer.local-wandb-server.invalid"
AUDIENCE = "wandb"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class GrantRefused(Exception):
    """An exchange refused with an OAuth error code (``invalid_request``, ``invalid_grant``, ...)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class IdentityFederation:
    """The JWT issuer and the token endpoint of one local server."""

    def __init__(self, secret: bytes, known_user: Any) -> None:
        self._key = hmac.new(secret, b"identity federation", hashlib.sha256).digest()
        self._known_user = known_user  # username -> bool
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> (username, expiry, epoch seconds)
        self._lock = threading.Lock()
        self.access_token_seconds = 3600  # what ``expires_in`` says; tests shorten it to see a refresh
        self.exchanges = 0

    def reset(self) -> None:
        """As after start-up: no tokens issued, nothing counted (``LocalWandbServer.reset``)."""
        with self._lock:
            self._tokens.clear()
        self.access_token_seconds = 3600
        self.exchanges = 0

    def mint(self, username: str, *, lifetime: float = 3600.0, **claims: Any) -> str:
        """A JWT this server accepts for ``username`` (``claims`` override or add claims)."""
        now = int(time.time())
        payload = {"iss": ISSUER, "sub": username, "aud": AUDIENCE, "iat": now, "exp": now + int(lifetime),
                   **claims}
        head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64url(json.dumps(payload).encode())
        signature = hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64url(signature)}"

    def exchange(self, form_body: bytes) -> dict[str, Any]:
        """The token endpoint: the answer for a valid grant, else ``GrantRefused``."""
        try:
            form = parse_qs(form_body.decode("utf-8"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise GrantRefused("invalid_request", "the body is not an application/x-www-form-urlencoded form") from None
        grant = form.get("grant_type", [""])
        assertion = form.get("assertion", [""])
        if len(grant) != 1 or len(assertion) != 1 or not assertion[0]:
            raise GrantRefused("invalid_request", "give one grant_type and one assertion")
        if grant[0] != GRANT_TYPE:
            raise GrantRefused("unsupported_grant_type", f"grant_type must be {GRANT_TYPE}")
        username = self._check(assertion[0])
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (username, now + self.access_token_seconds)
            self.exchanges += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.access_token_seconds}

    def user_for(self, token: str) -> tuple[str | None, bool]:
        """``(username, expired)`` of an access token; ``(None, False)`` if it was never issued."""
        with self._lock:
            found = self._tokens.get(token)
        if found is None:
            return None, False
        return found[0], found[1] <= time.time()

    def _check(self, jwt: str) -> str:
        parts = jwt.split(".")
        if len(parts) != 3:
            raise GrantRefused("invalid_grant", "the assertion is not a JWT")
        try:
            header = json.loads(_unb64url(parts[0]))
            claims = json.loads(_unb64url(parts[1]))
            signature = _unb64url(parts[2])
        except (ValueError, UnicodeDecodeError):
            raise GrantRefused("invalid_grant", "the assertion is not a JWT") from None
        if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
            raise GrantRefused("invalid_grant", "the JWT is not signed with a key of the configured issuer")
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise GrantRefused("invalid_grant", "the JWT's signature does not verify")
        if claims.get("iss") != ISSUER:
            raise GrantRefused("invalid_grant", "the JWT's issuer is not configured for this organization")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= time.time():
            raise GrantRefused("invalid_grant", "the JWT has expired")
        username = claims.get("sub")
        if not isinstance(username, str) or not self._known_user(username):
            raise GrantRefused("invalid_grant", "the JWT's subject is no user of this server")
        return username
