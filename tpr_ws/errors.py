"""The error hierarchy: whose fault each error is, what the user sees, and every error code.

TprWsError
├── ConfigError            operator's fault: bad environment; the process refuses to start
├── ClientError            user's fault: a clear message, nothing changes, connection stays
│   ├── ProtocolError      malformed frame, unknown type, say before hello (code names it)
│   ├── Unauthorized       wrong or missing token (WebSocket close 4401, HTTP 401)
│   ├── ForbiddenOrigin    Origin not allowed (HTTP 403)
│   ├── TooLarge           frame or upload over the limit (HTTP 413)
│   ├── RateLimited        too many in a window (HTTP 429, `retry_after_s`): per socket,
│   │                      session, client address; new sessions; upload bytes
│   ├── LimitReached       too many held at once, per worker (HTTP 429): sockets, uploads
│   ├── TimedOut           no progress in time (HTTP 408): a stalled upload, a missing hello
│   ├── NotFound           unknown session or no results yet (HTTP 404)
│   ├── Conflict           a resumable upload is not at the offset the client said (HTTP 409)
│   ├── PreconditionFailed a resumable-upload protocol version we do not speak (HTTP 412)
│   ├── Unsupported        a content type or encoding we do not accept (HTTP 415)
│   ├── ChecksumMismatch   a chunk's checksum does not match its bytes (HTTP 460, tus)
│   └── UploadRejected     not a workbook, zip bomb, unusable workbook, parsing past the time
│                          limit: lists every problem
└── ServerError            our fault: logged, the user is asked to retry
    ├── StorageUnavailable Redis unreachable
    ├── LeaseLost          the turn's lease expired or was taken over; nothing was sent
    ├── Fenced             the commit was rejected by the fence; nothing was sent
    └── StateVersionError  a checkpoint written by a newer release

Every code the server sends (WebSocket `error` frames, HTTP error bodies) is a member of
`ErrorCode`; `CLOSE_CODES` names the fatal ones and `RETRYABLE` those worth sending again.
docs/PROTOCOL.md lists them all (a test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class ErrorCode(StrEnum):
    """Every error code of the protocol."""

    # A frame or request the server cannot read.
    BAD_REQUEST = "bad_request"
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    BAD_ID = "bad_id"
    BAD_LABEL = "bad_label"
    EMPTY_TEXT = "empty_text"
    HELLO_REQUIRED = "hello_required"
    ALREADY_GREETED = "already_greeted"
    BAD_UPLOAD = "bad_upload"
    BAD_KEY = "bad_key"
    # Resumable uploads (tus).
    TUS_VERSION = "tus_version"
    UNSUPPORTED = "unsupported"
    UNKNOWN_UPLOAD = "unknown_upload"
    CONFLICT = "conflict"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    BAD_ENCODING = "bad_encoding"
    # Who may do what, and how much.
    UNAUTHORIZED = "unauthorized"
    TOKEN_IN_URL = "token_in_url"
    BAD_LINK = "bad_link"
    LINK_EXPIRED = "link_expired"
    FORBIDDEN_ORIGIN = "forbidden_origin"
    UNKNOWN_SESSION = "unknown_session"
    NOT_FOUND = "not_found"
    UNKNOWN_RESULT = "unknown_result"
    TOO_LARGE = "too_large"
    # Limits (invariant 9); README's configuration table has their settings.
    RATE_LIMITED = "rate_limited"  # messages of one socket
    SESSION_RATE_LIMITED = "session_rate_limited"  # of one session: all its sockets, all workers
    CLIENT_RATE_LIMITED = "client_rate_limited"  # of one client address, all workers
    TOO_MANY_SESSIONS = "too_many_sessions"  # sessions created by one client address
    UPLOAD_QUOTA = "upload_quota"  # upload bytes of one client address in the window
    TOO_MANY_SOCKETS = "too_many_sockets"  # sockets of one client address on a worker
    TOO_MANY_UPLOADS = "too_many_uploads"  # uploads in progress per session / client address
    UPLOAD_STALLED = "upload_stalled"  # an upload body that stopped arriving
    HELLO_TIMEOUT = "hello_timeout"  # no valid hello in time after the upgrade
    # Uploads the server will not use (the body's `problems` lists every reason).
    UPLOAD_REJECTED = "upload_rejected"
    EMPTY_FILE = "empty_file"
    NOT_A_WORKBOOK = "not_a_workbook"
    ZIP_BOMB = "zip_bomb"
    UNSAFE_XML = "unsafe_xml"
    UNREADABLE = "unreadable"
    UNUSABLE_WORKBOOK = "unusable_workbook"
    DATASET_EXPIRED = "dataset_expired"
    PARSE_TIMEOUT = "parse_timeout"  # reading the file took longer than the time limit
    # The server's fault.
    SERVER_ERROR = "server_error"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    LEASE_LOST = "lease_lost"
    FENCED = "fenced"
    STATE_VERSION = "state_version"


CLOSE_CODES: Final[Mapping[ErrorCode, int]] = {
    ErrorCode.UNAUTHORIZED: 4401,
    ErrorCode.UNKNOWN_SESSION: 4404,
    ErrorCode.HELLO_TIMEOUT: 4408,
    ErrorCode.TOO_MANY_SOCKETS: 4429,
}
"""Fatal errors: the WebSocket is closed with this code after the error frame."""

RETRYABLE: Final = frozenset(
    {
        ErrorCode.RATE_LIMITED,
        ErrorCode.SESSION_RATE_LIMITED,
        ErrorCode.CLIENT_RATE_LIMITED,
        ErrorCode.SERVER_ERROR,
        ErrorCode.STORAGE_UNAVAILABLE,
        ErrorCode.LEASE_LOST,
        ErrorCode.FENCED,
        ErrorCode.STATE_VERSION,
    }
)
"""Errors after which the same message (same id) sent again later may succeed."""


class TprWsError(Exception):
    """Base of every error this package raises on purpose."""

    code: ErrorCode = ErrorCode.SERVER_ERROR


class ConfigError(TprWsError):
    """Never sent: the process refuses to start with the message."""


class ClientError(TprWsError):
    """The request was wrong; the message is safe to show to the user."""

    code = ErrorCode.BAD_REQUEST
    http_status = 400

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ProtocolError(ClientError):
    code = ErrorCode.BAD_FRAME


class Unauthorized(ClientError):
    code = ErrorCode.UNAUTHORIZED
    http_status = 401


class ForbiddenOrigin(ClientError):
    code = ErrorCode.FORBIDDEN_ORIGIN
    http_status = 403


class TooLarge(ClientError):
    code = ErrorCode.TOO_LARGE
    http_status = 413


class RateLimited(ClientError):
    """Past a window's limit; `retry_after_s` says when the window starts over (if known)."""

    code = ErrorCode.RATE_LIMITED
    http_status = 429

    def __init__(
        self, message: str, *, code: ErrorCode | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class LimitReached(ClientError):
    """Too many of something held open at once on a worker; one must finish first."""

    code = ErrorCode.TOO_MANY_UPLOADS
    http_status = 429


class TimedOut(ClientError):
    """The client made no progress for too long; what it held is released."""

    code = ErrorCode.UPLOAD_STALLED
    http_status = 408


class NotFound(ClientError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class Conflict(ClientError):
    code = ErrorCode.CONFLICT
    http_status = 409


class PreconditionFailed(ClientError):
    code = ErrorCode.TUS_VERSION
    http_status = 412


class Unsupported(ClientError):
    code = ErrorCode.UNSUPPORTED
    http_status = 415


class ChecksumMismatch(ClientError):
    code = ErrorCode.CHECKSUM_MISMATCH
    http_status = 460


class UploadRejected(ClientError):
    """A file that cannot be used; `problems` lists everything wrong with it."""

    code = ErrorCode.UPLOAD_REJECTED
    http_status = 422

    def __init__(self, problems: list[str], *, code: ErrorCode | None = None) -> None:
        self.problems = list(problems)
        text = problems[0] if len(problems) == 1 else "; ".join(problems)
        super().__init__(text, code=code)

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from its problems, not its text, when it crosses the parsing pool.
        return (type(self), (self.problems,), self.__dict__)


class ServerError(TprWsError):
    code = ErrorCode.SERVER_ERROR


class StorageUnavailable(ServerError):
    code = ErrorCode.STORAGE_UNAVAILABLE


class LeaseLost(ServerError):
    code = ErrorCode.LEASE_LOST


class Fenced(ServerError):
    code = ErrorCode.FENCED


class StateVersionError(ServerError):
    code = ErrorCode.STATE_VERSION
