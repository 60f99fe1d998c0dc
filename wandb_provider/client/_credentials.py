"""How requests to W&B authenticate: an API key, or W&B's identity federation.

An API key goes as HTTP Basic ``api:<key>``. With identity federation (W&B docs, "Identity
federation"; RFC 7523) a JWT from the organisation's identity provider, read from the file the
user named (``identity_token_file``, the SDK's ``WANDB_IDENTITY_TOKEN_FILE``), is exchanged as the
SDK exchanges it: ``POST <base_url>/oidc/token`` with the form
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``, answered with
``{"access_token", "expires_in"}``; requests then carry ``Authorization: Bearer <access token>``.
The access token is kept in memory (never written anywhere) and exchanged again, from the file
read afresh, once it has 5 minutes or less left, as the SDK does. A refusal (4xx but 429) is not
retried. Neither the JWT nor the access token ever appears in an error or a log line.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from .errors import AuthenticationError, MalformedResponseError

if TYPE_CHECKING:
    from ._transport import Transport
    from .config import ClientConfig

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_BEFORE = 300.0  # seconds: the SDK exchanges again when the token has 5 minutes or less left
OPERATION = "exchange identity token"


class ApiKey:
    """HTTP Basic ``api:<key>``, as every W&B client sends an API key."""

    def __init__(self, api_key: str) -> None:
        self._header = "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode()
        self._key = api_key

    def authorization(self, transport: Transport) -> str:
        return self._header

    def secrets(self) -> tuple[str, ...]:
        return (self._key,) if self._key else ()


class IdentityToken:
    """W&B identity federation: the JWT in ``path`` exchanged for a short-lived access token."""

    def __init__(self, base_url: str, path: str) -> None:
        self.url = f"{base_url}/oidc/token"
        self.path = path
        self._lock = threading.Lock()
        self._jwt = ""
        self._token = ""
        self._renew_at = 0.0  # monotonic time at which the token has 5 minutes left

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._jwt, self._token) if s)

    def authorization(self, transport: Transport) -> str:
        with self._lock:
            if not self._token or time.monotonic() >= self._renew_at:
                self._exchange(transport)
            return f"Bearer {self._token}"

    def _read(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as fh:
                jwt = fh.read(1 << 20).strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise AuthenticationError(
                f"cannot read the identity token file {self.path} ({reason}).",
                hint="Point identity_token_file (WANDB_IDENTITY_TOKEN_FILE) at the file your identity provider "
                     "writes the JWT to, readable by this worker.") from None
        if not jwt:
            raise AuthenticationError(f"the identity token file {self.path} is empty.",
                                      hint="Check that your identity provider wrote a JWT into it.")
        return jwt

    def _exchange(self, transport: Transport) -> None:
        self._jwt = self._read()
        body = f"grant_type={GRANT_TYPE}&assertion={quote_plus(self._jwt)}".encode()
        what = f"exchange the identity token of {self.path} at W&B"
        started = time.monotonic()
        response = transport.request("POST", self.url, operation=OPERATION, what=what, authenticated=False,
                                     body=body, headers={"Content-Type": "application/x-www-form-urlencoded"},
                                     follow_redirects=False)
        if response.status != 200:
            detail = transport.scrub(response.detail())
            if 400 <= response.status < 500:
                raise AuthenticationError(
                    f"{what}: W&B refused it (HTTP {response.status}: {detail}).", operation=OPERATION,
                    status=response.status,
                    hint="Check that the JWT is current and its issuer is set up for your W&B organization "
                         "(identity federation).")
            raise MalformedResponseError(f"{what}: unexpected HTTP {response.status} ({detail}).",
                                         operation=OPERATION, status=response.status, hint="Try again later.")
        answer: Any = response.json()
        token = answer.get("access_token") if isinstance(answer, dict) else None
        expires_in = answer.get("expires_in") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponseError(f"{what}: W&B's answer has no access_token.", operation=OPERATION)
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in < 0:
            raise MalformedResponseError(f"{what}: W&B's answer has no expires_in.", operation=OPERATION)
        self._token = token
        self._renew_at = started + float(expires_in) - REFRESH_BEFORE


def credentials_for(config: ClientConfig) -> ApiKey | IdentityToken:
    """Identity federation when an identity token file is configured (it wins, as in the SDK), else the key."""
    if config.identity_token_file:
        return IdentityToken(config.base_url, config.identity_token_file)
    return ApiKey(config.api_key)
