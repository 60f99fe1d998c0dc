"""GraphQL over the transport: sends one operation, splits ``data`` from ``errors``, types the errors."""

from __future__ import annotations

from typing import Any

from ._queries import Operation
from ._transport import Transport, raise_for_status
from .errors import (
    AuthenticationError,
    InvalidValueError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProtectedAliasError,
    WandbError,
)


def graphql_error(operation: str, messages: list[str], what: str) -> WandbError:
    """Type the ``errors`` of an HTTP 200 by W&B's wording (W&B sends no error codes there)."""
    text = "; ".join(messages)
    lowered = text.lower()
    message = f"{what}: W&B answered: {text}"
    if "protected" in lowered:
        return ProtectedAliasError(message, operation=operation,
                                   hint="Only registry admins may change protected aliases; ask one.")
    if "permission" in lowered or "not permitted" in lowered or "forbidden" in lowered:
        return PermissionDeniedError(message, operation=operation,
                                     hint="Ask an admin of the entity for the member role, or use another key.")
    if "api key" in lowered or "not logged in" in lowered or "unauthorized" in lowered:
        return AuthenticationError(message, operation=operation,
                                   hint="Check the connection's API key or WANDB_API_KEY.")
    if "not found" in lowered:
        return NotFoundError(message, operation=operation)
    return InvalidValueError(message, operation=operation)


class GraphQLClient:
    def __init__(self, transport: Transport) -> None:
        from ._features import ServerFeatures

        self.transport = transport
        self.url = f"{transport.config.base_url}/graphql"
        self.features = ServerFeatures(self)  # asked once, on first use

    def execute(self, operation: Operation, variables: dict[str, Any] | None = None, *, what: str) -> dict[str, Any]:
        """Run ``operation`` and return its ``data``; ``what`` says what was asked, for messages."""
        response = self.transport.send(
            "POST", self.url, operation=operation.name, what=what,
            json={"query": operation.document, "variables": variables or {}, "operationName": operation.name},
        )
        raise_for_status(response, operation.name, what)
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors] \
                if isinstance(errors, list) else [str(errors)]
            raise graphql_error(operation.name, [self.transport.scrub(m) for m in messages], what)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise MalformedResponseError(f"{what}: W&B's answer has no 'data' object.", operation=operation.name,
                                         hint="A proxy may have answered instead of W&B; check the base URL.")
        return data
