"""Log lines: one format wherever logging is set up (a gunicorn worker, `tpr-ws worker`,
gunicorn's own lines), each line carrying its level."""

from __future__ import annotations

import logging
from typing import Any, Final

LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(process)d %(name)s %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr in LOG_FORMAT (a no-op where the process has set up logging already,
    as gunicorn has through `gunicorn_logconfig()`)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)


def gunicorn_logconfig() -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its own lines and the workers' in LOG_FORMAT, on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": LOG_FORMAT}},
        "handlers": {"stderr": handler},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        },
    }
