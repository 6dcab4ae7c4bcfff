"""Commands that set a deployment up and serve it: migrate, serve."""

from __future__ import annotations

from typing import Annotated

import typer

from accounting import runtime
from accounting.services import schema
from tasks.cli.common import console


def migrate() -> None:
    """Upgrade the database schema to the latest version (alembic upgrade head)."""
    schema.upgrade(runtime.database_url())
    console.print("schema is at head")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes")] = 1,
    shutdown_seconds: Annotated[
        int,
        typer.Option(
            min=0,
            help="At SIGTERM/SIGINT, how long open requests and event streams get to finish "
            "before they are closed (followers reconnect with Last-Event-ID and miss nothing)",
        ),
    ] = 5,
) -> None:
    """Run the HTTP service: job progress as Server-Sent Events, the queue and its controls,
    /metrics for Prometheus, the status page, and the OpenAPI schema at /docs."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    # The access log without query values (a stream ticket rides in the URL): web.access_log.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config.setdefault("filters", {})["query_redacted"] = {"()": "web.access_log.QueryRedacted"}
    log_config["handlers"]["access"]["filters"] = ["query_redacted"]
    uvicorn.run(
        "web.app:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=log_config,
        timeout_graceful_shutdown=shutdown_seconds,
    )
