"""Errors the emulator raises, each carrying W&B's message and the way W&B delivers it.

Store and resolver code raises these; only ``app.py`` turns them into HTTP responses. A GraphQL
resolver error becomes an entry of ``errors`` in an HTTP 200 (as W&B does); ``http_status``
matters only for errors raised outside GraphQL execution (auth, files, uploads).
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base class: a W&B-shaped failure with the message W&B would send."""

    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(EmulatorError):
    """The request is well-formed GraphQL but its values break a W&B rule."""

    http_status = 400


class NotFound(EmulatorError):
    """The entity, project, collection, alias or artifact does not exist (or is not visible)."""

    http_status = 404


class PermissionDenied(EmulatorError):
    """The caller may see the object but not do this to it."""

    http_status = 403


class Unauthenticated(EmulatorError):
    """No API key, or one the server does not know."""

    http_status = 401


class Conflict(EmulatorError):
    """The request contradicts the current state (e.g. deleting an aliased version)."""

    http_status = 409
