"""The error hierarchy: whose fault each error is and what the user sees.

TprWsError
├── ConfigError            operator's fault: bad environment; the process refuses to start
├── ClientError            user's fault: a clear message, nothing changes, connection stays
│   ├── ProtocolError      malformed frame, unknown type, say before hello (code names it)
│   ├── Unauthorized       wrong or missing token (WebSocket close 4401, HTTP 401)
│   ├── ForbiddenOrigin    Origin not allowed (HTTP 403)
│   ├── TooLarge           frame or upload over the limit (HTTP 413)
│   ├── RateLimited        too many messages (HTTP 429)
│   ├── NotFound           unknown session or no results yet (HTTP 404)
│   └── UploadRejected     not a workbook, zip bomb, unusable workbook: lists every problem
└── ServerError            our fault: logged, the user is asked to retry
    ├── StorageUnavailable Redis unreachable
    ├── LeaseLost          the turn's lease expired or was taken over; nothing was sent
    ├── Fenced             the commit was rejected by the fence; nothing was sent
    └── StateVersionError  a checkpoint written by a newer release
"""

from __future__ import annotations


class TprWsError(Exception):
    """Base of every error this package raises on purpose."""

    code = "internal"


class ConfigError(TprWsError):
    code = "config"


class ClientError(TprWsError):
    """The request was wrong; the message is safe to show to the user."""

    code = "bad_request"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ProtocolError(ClientError):
    code = "bad_frame"


class Unauthorized(ClientError):
    code = "unauthorized"
    http_status = 401


class ForbiddenOrigin(ClientError):
    code = "forbidden_origin"
    http_status = 403


class TooLarge(ClientError):
    code = "too_large"
    http_status = 413


class RateLimited(ClientError):
    code = "rate_limited"
    http_status = 429


class NotFound(ClientError):
    code = "not_found"
    http_status = 404


class UploadRejected(ClientError):
    """A file that cannot be used; `problems` lists everything wrong with it."""

    code = "upload_rejected"
    http_status = 422

    def __init__(self, problems: list[str], *, code: str | None = None) -> None:
        self.problems = list(problems)
        text = problems[0] if len(problems) == 1 else "; ".join(problems)
        super().__init__(text, code=code)

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from its problems, not its text, when it crosses the parsing pool.
        return (type(self), (self.problems,), self.__dict__)


class ServerError(TprWsError):
    code = "server_error"


class StorageUnavailable(ServerError):
    code = "storage_unavailable"


class LeaseLost(ServerError):
    code = "lease_lost"


class Fenced(ServerError):
    code = "fenced"


class StateVersionError(ServerError):
    code = "state_version"
