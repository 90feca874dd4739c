"""One exception hierarchy for the whole service; `api/errors.py` maps it to HTTP responses.

Messages are written for the person who will read them: an operator in the browser (Russian, saying what to
do) or an admin at the terminal (English, naming the variable or file at fault).
"""


class AvibotError(Exception):
    """Base of every error the service raises on purpose."""

    status_code = 500


class ConfigError(AvibotError):
    """The configuration cannot work: a malformed variable, an unwritable directory, an unreachable server."""


class ServiceError(AvibotError):
    """An embedded or external service (PostgreSQL, Valkey, Ray) failed to start or answer."""

    status_code = 503


class AlreadyRunning(AvibotError):
    """Another avibot process owns this DATA_DIR's embedded services."""


class NotFound(AvibotError):
    status_code = 404


class Conflict(AvibotError):
    status_code = 409


class InvalidInput(AvibotError):
    status_code = 400


class TooLarge(AvibotError):
    status_code = 413


class UnsupportedMedia(AvibotError):
    status_code = 415


class AvitoUnavailable(AvibotError):
    """Avito refused or did not answer a call an operator made; nothing was lost, the operator may retry."""

    status_code = 502
