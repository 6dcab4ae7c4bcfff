"""Database engines: one small pool per process, safe behind PgBouncer in transaction mode."""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine

_engines: dict[tuple[int, str], Engine] = {}


def create_engine_for(
    url: str, *, pool_size: int, max_overflow: int, application_name: str = "accounting"
) -> Engine:
    """An engine with server-side prepared statements off, so PgBouncer's transaction pooling
    can hand any server connection to any transaction."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "prepare_threshold": None,
            "connect_timeout": 10,
            "application_name": application_name,
        },
    )


def engine_for_process(url: str, *, pool_size: int = 2, max_overflow: int = 2) -> Engine:
    """This process's engine for ``url``: a forked child gets its own pool, never its parent's
    sockets (Celery's prefork pool forks after the parent may have connected)."""
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        engine = create_engine_for(url, pool_size=pool_size, max_overflow=max_overflow)
        _engines[key] = engine
    return engine
