"""Use cases of intake that could not be applied: keep the message whole, list it, send it
again. A message the workers accepted is applied, retried, or kept here: never dropped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from accounting.domain.intake import DeadMessage
from accounting.errors import shortened
from accounting.store.uow import UnitOfWork


def keep_dead_message(
    uow: UnitOfWork,
    *,
    task_id: str,
    task_name: str,
    args: Sequence[Any] | None,
    kwargs: dict[str, Any] | None,
    reason: str,
    deliveries: int = 1,
    org_id: str | None = None,
) -> None:
    """Keep a message that could not be applied (``args`` None: too large to keep whole; the
    reason says what it was, and ``org_id`` whose it was). The organization of a kept one is
    its first argument."""
    if org_id is None and args and isinstance(args[0], str) and len(args[0]) <= 200:
        org_id = args[0]
    with uow:
        uow.intake.record(
            task_id=task_id,
            task_name=task_name,
            org_id=org_id,
            args=args,
            kwargs=kwargs,
            reason=shortened(reason),
            deliveries=deliveries,
        )
        uow.commit()


def dead_messages(
    uow: UnitOfWork, org_id: str | None, limit: int = 100, *, retried: bool = False
) -> list[DeadMessage]:
    with uow:
        if org_id is not None:
            uow.organizations.get_or_raise(org_id)
        return uow.intake.listed(org_id, limit, retried=retried)


def send_dead_messages_again(
    uow: UnitOfWork,
    org_id: str,
    ids: Sequence[int] | None,
    send: Callable[[DeadMessage], None],
) -> list[DeadMessage]:
    """Send the organization's dead messages (the given ones, or all not retried yet) again,
    each under its own task id (its sender's job id), and mark them retried. A message that
    cannot be sent (the broker is down) is not marked: the whole call changes nothing. One
    refused for its size was not kept whole and cannot be sent again: its sender must."""
    with uow:
        uow.organizations.get_or_raise(org_id)
        taken = uow.intake.take_for_retry(org_id, ids)
        for message in taken:
            send(message)
        uow.commit()
    return taken
