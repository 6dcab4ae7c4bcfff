"""Lists of more ids than a statement can have parameters (65,535) travel as one array: the
store never fails client-side, and a statement the driver refuses is not retried (L7)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, text

from accounting.errors import PermanentError, TransientError
from accounting.services import documents, posting, queue
from accounting.services.recreate import request_recreate
from accounting.store.uow import UnitOfWork

from helpers import invoice

MANY = 70_000


def ids(known: str = "inv-1") -> list[str]:
    return [known, *(f"ghost-{n}" for n in range(MANY))]


@pytest.fixture
def stored(uow: Any, org: str) -> str:
    documents.upsert_documents(uow(), org, [invoice("inv-1")], max_documents=10)
    return org


def test_reads_of_many_documents_take_one_parameter(uow: Any, stored: str) -> None:
    assert documents.document_versions(uow(), stored, ids()) == {"inv-1": (1, 0)}
    assert list(documents.content_hashes(uow(), stored, ids())) == ["inv-1"]


def test_a_recreate_of_many_ids_finds_the_known_ones_and_rejects_the_rest(
    uow: Any, stored: str
) -> None:
    result = request_recreate(uow(), stored, ids(), hold_seconds=None)
    assert list(result.versions) == ["inv-1"]
    assert len(result.rejected) == MANY


def test_a_batch_of_many_versions_posts_the_known_one(uow: Any, stored: str) -> None:
    result = posting.post_documents(uow(), stored, dict.fromkeys(ids(), 1))
    assert result.posted == ["inv-1"]


def test_many_ids_can_be_released_revived_and_their_entries_read(
    engine: Engine, uow: Any, stored: str
) -> None:
    documents.release_documents(uow(), stored, ids())
    assert queue.retry_dead(uow(), stored, ids()) == 0
    with UnitOfWork(engine) as unit:
        assert unit.journal.posted_entries(stored, list(range(1, MANY + 1))) == []
        assert unit.queue.schedules(["acme", *ids()]).keys() == {"acme"}


def test_a_statement_the_driver_refuses_to_send_is_a_permanent_error(engine: Engine) -> None:
    """What every long list did before: libpq refuses more than 65,535 parameters before
    anything is sent, and the error (no SQLSTATE, like a lost connection) was retried."""
    statement = text("SELECT 1 WHERE 'a' IN :ids").bindparams(bindparam("ids", expanding=True))
    refusal = pytest.raises(PermanentError, match="number of parameters")
    with refusal as refused, UnitOfWork(engine) as unit:
        unit.connection.execute(statement, {"ids": ids()})
    assert not isinstance(refused.value, TransientError)
    with UnitOfWork(engine) as unit:  # the pool's connections are fine
        assert unit.connection.execute(text("SELECT 1")).scalar_one() == 1
