"""The one error hierarchy of Borealis.

    BorealisError                      base; carries an HTTP status, a slug and a retryable flag
    ├── InvalidInput (400)             a request or command argument is wrong
    ├── NotAuthenticated (401)         no or bad credentials
    ├── Forbidden (403)                credentials lack a scope
    ├── NotFound (404)
    ├── Conflict (409)                 state does not allow it (already exists, revoked, newer version)
    ├── PayloadTooLarge (413)
    ├── EnrollmentRefused (403)        install code wrong, expired, used up or revoked
    ├── ConfigError                    a home, file or setting is unusable (exit code 2)
    ├── ProtocolError                  a peer broke the wire contract; carries a WebSocket close code
    └── TransientError (503)           retryable: a dependency is down for now

They are translated exactly once at each edge: to problem+json in `server.problems`, to a close code
in `server.gateway`, and to an exit code in `cli.main`.
"""

from __future__ import annotations


class BorealisError(Exception):
    status: int = 500
    slug: str = "error"
    title: str = "Error"
    retryable: bool = False
    exit_code: int = 1

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(BorealisError):
    status = 400
    slug = "invalid-input"
    title = "Invalid input"
    exit_code = 2


class NotAuthenticated(BorealisError):
    status = 401
    slug = "not-authenticated"
    title = "Authentication required"


class Forbidden(BorealisError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(BorealisError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(BorealisError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(BorealisError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class EnrollmentRefused(BorealisError):
    status = 403
    slug = "enrollment-refused"
    title = "Enrollment refused"


class ConfigError(BorealisError):
    slug = "config-error"
    title = "Configuration error"
    exit_code = 2


class ProtocolError(BorealisError):
    status = 400
    slug = "protocol-error"
    title = "Protocol error"

    def __init__(self, detail: str, close_code: int = 1008, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.close_code = close_code


class TransientError(BorealisError):
    status = 503
    slug = "unavailable"
    title = "Temporarily unavailable"
    retryable = True
