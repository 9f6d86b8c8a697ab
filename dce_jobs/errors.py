"""Domain errors. Lower layers raise these; the API middleware maps them to HTTP."""

from __future__ import annotations


class DceJobsError(Exception):
    """Root of every error this service raises on purpose."""

    error_id = "internal_error"

    def __init__(self, message: str = "", *, error_id: str | None = None) -> None:
        super().__init__(message or error_id or self.error_id)
        self.message = message or error_id or self.error_id
        if error_id is not None:
            self.error_id = error_id


class InvalidInput(DceJobsError):
    """The request is malformed or names something that does not fit (HTTP 400)."""

    error_id = "invalid_request"


class RangeNotSatisfiable(DceJobsError):
    """A byte range of a log that holds none of it (HTTP 416 with `Content-Range: bytes */<total>`)."""

    error_id = "range_not_satisfiable"

    def __init__(self, message: str, *, total: int) -> None:
        super().__init__(message)
        self.total = total


class Conflict(DceJobsError):
    """The request clashes with stored state, e.g. a duplicate job name (HTTP 400 in the seed)."""

    error_id = "conflict"


class NotFound(DceJobsError):
    """A job, execution or container that the request names does not exist (HTTP 404)."""

    error_id = "not_found"


class Unauthorized(DceJobsError):
    """The request lacks the API token (HTTP 401)."""

    error_id = "unauthorized"


class Forbidden(DceJobsError):
    """A browser request from another site to a state-changing route (HTTP 403)."""

    error_id = "cross_site_request"


class PayloadTooLarge(DceJobsError):
    """The request body is over the configured limit (HTTP 413)."""

    error_id = "payload_too_large"


class ConfigError(DceJobsError):
    """A DCE_JOBS_* setting is invalid; start-up stops with this one-line message."""

    error_id = "config_error"


class SecretUndecryptable(DceJobsError):
    """A stored secret cannot be decrypted with any configured key."""

    error_id = "secret_undecryptable"


class StoreUnavailable(DceJobsError):
    """The store cannot be reached."""

    error_id = "store_unavailable"


class InvalidTransition(DceJobsError):
    """A status change that the state machine does not allow (a bug, never user input)."""

    error_id = "invalid_transition"


class EngineError(DceJobsError):
    """A Docker engine refused or failed a call; message carries the engine's words."""

    error_id = "engine_error"


class NodeUnreachable(EngineError):
    """The Docker engine of a node cannot be reached (or is not the node we meant)."""

    error_id = "node_unreachable"


class ContainerUnavailable(EngineError):
    """The target container does not exist or is not running on its node."""

    error_id = "container_unavailable"


class ServiceUnavailable(DceJobsError):
    """The server is shutting down and takes no new runs (HTTP 503)."""

    error_id = "shutting_down"


class OwnedElsewhere(DceJobsError):
    """The execution is run by another live replica of the service (HTTP 409)."""

    error_id = "execution_owned_elsewhere"
