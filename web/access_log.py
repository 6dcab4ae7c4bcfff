"""uvicorn's access log without query values: a URL may carry a stream ticket (or, sent by an
old client, a token), and logs are read by more people than the API's tenants trust.
``accounting serve`` installs :class:`QueryRedacted` on the ``uvicorn.access`` handler."""

from __future__ import annotations

import logging
import re

_VALUE = re.compile(r"=[^&]*")


def redacted(path: str) -> str:
    """``path`` with each query value replaced: ``/x?ticket=abc&a=1`` -> ``/x?ticket=***&a=***``."""
    route, mark, query = path.partition("?")
    return route + mark + _VALUE.sub("=***", query) if mark else path


class QueryRedacted(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, path with query, HTTP version, status)
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redacted(args[2]), *args[3:])
        return True
