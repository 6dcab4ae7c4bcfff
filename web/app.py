"""The ASGI application: ``uvicorn web.app:app`` (``accounting serve``)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from accounting import runtime
from accounting.config import get_settings
from accounting.errors import (
    AccountingError,
    ContractError,
    JobNotCancellable,
    PermanentError,
    TransientError,
    UnknownJob,
    UnknownOrganization,
    shortened,
)
from web import admin_routes, console_routes, events, intake_routes, routes, stream_hub, tickets
from web.guard import RequestGuard
from web.metrics import AuditCollector, QueueCollector

log = logging.getLogger(__name__)
#: How much of a refused input (or message) a 422 sends back.
ECHO_LIMIT = 1000
STATUS_PAGE = Path(__file__).parent / "static" / "status.html"


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await stream_hub.close_hub()


def create_app() -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="accounting-impact",
        version="1",
        description="Progress of accounting jobs, the queue, and its controls. Every /v1 path "
        "needs `Authorization: Bearer <token>` (`accounting token create ORG`); a token opens "
        "one organization; the onboarding paths need an admin token (`accounting token create "
        "--admin`).",
    )
    for module in (routes, events, tickets, admin_routes, intake_routes, console_routes):
        app.include_router(module.router)
    app.add_middleware(RequestGuard)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(AccountingError, _accounting_error)  # type: ignore[arg-type]
    app.add_exception_handler(ContractError, _contract_error)  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(QueueCollector(runtime.unit_of_work, runtime.redis_client, get_settings()))
    registry.register(AuditCollector(runtime.unit_of_work))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def status_page() -> HTMLResponse:
        """Per-lane backlog, and a job's progress bar fed by its events."""
        return HTMLResponse(STATUS_PAGE.read_text())

    app.get("/healthz", tags=["health"])(healthz)
    return app


def healthz() -> JSONResponse:
    """200 when Postgres and Redis answer; 503 naming the one that does not (why, with hosts
    and driver messages, goes to the server's log, not to whoever asks)."""
    problems = {}
    try:
        runtime.engine().connect().close()
    except Exception as exc:
        log.warning("healthz: Postgres unavailable: %s", str(exc).splitlines()[0][:500])
        problems["postgres"] = "unavailable"
    try:
        runtime.redis_client().ping()
    except Exception as exc:
        log.warning("healthz: Redis unavailable: %s", str(exc)[:500])
        problems["redis"] = "unavailable"
    code = status.HTTP_503_SERVICE_UNAVAILABLE if problems else status.HTTP_200_OK
    return JSONResponse({"ok": not problems, **problems}, status_code=code)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each field at fault, without echoing what was sent: an input or message
    is cut to 1,000 characters (a 10 MB id is not sent back)."""
    return JSONResponse({"detail": [_shortened(e) for e in exc.errors()]}, status_code=422)


def _shortened(error: Any) -> Any:
    error = {key: value for key, value in error.items() if key != "ctx"}
    if "msg" in error:
        error["msg"] = shortened(str(error["msg"]), ECHO_LIMIT)
    if "input" in error:
        value = jsonable_encoder(error["input"])
        text = value if isinstance(value, str) else json.dumps(value)
        error["input"] = shortened(text, ECHO_LIMIT) if len(text) > ECHO_LIMIT else value
    return jsonable_encoder(error)


def _contract_error(request: Request, exc: ContractError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=422)


def _accounting_error(request: Request, exc: AccountingError) -> JSONResponse:
    if isinstance(exc, UnknownOrganization | UnknownJob):
        return JSONResponse({"detail": "not found"}, status_code=404)
    if isinstance(exc, JobNotCancellable):
        return JSONResponse({"detail": str(exc)}, status_code=409)
    if isinstance(exc, TransientError):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})
    code = 422 if isinstance(exc, PermanentError) else 500
    return JSONResponse({"detail": str(exc)}, status_code=code)


app = create_app()
