"""What the HTTP tests share: the app, served in-process, and acme's token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accounting.services import tokens
from web.app import create_app


@pytest.fixture
def api(engine: Any, redis_client: Any) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


@pytest.fixture
def acme(uow: Any, make_org: Any) -> dict[str, str]:
    """acme's token, as headers; globex exists too."""
    make_org("acme")
    make_org("globex")
    return {"Authorization": f"Bearer {tokens.create_token(uow(), 'acme')}"}
