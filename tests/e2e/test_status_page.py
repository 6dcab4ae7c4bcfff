"""The status page in headless Chromium, against a real `accounting serve`: the backlog per
lane, a job's progress bar fed by its events, and a reconnect after the server went away that
replays every missed event exactly once, in order."""

from __future__ import annotations

from typing import Any

import pytest

from accounting import runtime
from accounting.services import posting, tokens
from accounting.services.documents import upsert_documents
from accounting.volatile.progress import ProgressStream

from helpers import Server, invoice

pytestmark = pytest.mark.timeout(180)


def open_page(browser: Any, server: Server, token: str, org: str, job: str) -> Any:
    """The page as a user opens it: the token in the tab's sessionStorage, never in the URL."""
    page = browser.new_page()
    page.goto(f"{server.url}/?org={org}")
    page.evaluate("token => sessionStorage.setItem('token', token)", token)
    page.goto(f"{server.url}/?org={org}&job={job}")
    return page


def post_and_tell(uow: Any, org: str, ids: list[str]) -> None:
    """What a worker does: post a batch; its commit tells the jobs it moved on."""
    posting.post_documents(uow(), org, dict.fromkeys(ids, 1))


def test_the_page_shows_the_backlog_and_follows_a_job_across_a_server_restart(
    server: Server, browser: Any, uow: Any, org: str
) -> None:
    ids = [f"inv-{n}" for n in range(6)]
    upsert_documents(uow(), org, [invoice(i) for i in ids], max_documents=9, job_id="j1")
    token = tokens.create_token(uow(), org)
    page = open_page(browser, server, token, org, "j1")

    page.wait_for_function(
        "document.querySelector('tr[data-lane=normal] .pending').textContent == '6'"
    )
    page.wait_for_function("document.getElementById('bar').max == 6")
    post_and_tell(uow, org, ids[:2])
    page.wait_for_function("document.getElementById('bar').value == 2")

    server.stop()  # the page's connection drops; what happens now, it must not miss
    post_and_tell(uow, org, ids[2:4])
    post_and_tell(uow, org, ids[4:])
    server.start()
    page.wait_for_function("document.getElementById('counts').classList.contains('done')")

    assert page.inner_text("#counts") == "6 of 6 posted"
    received = page.eval_on_selector_all("#events li", "items => items.map(i => i.dataset.id)")
    published = [event.id for event in ProgressStream(runtime.redis_client(), 60).read("j1")]
    assert received == published  # every event once, in order, none lost in the restart
    assert [e.type for e in ProgressStream(runtime.redis_client(), 60).read("j1")][-1] == "done"
    log = server.log.read_text()
    assert "ticket=***" in log and token not in log  # the access log keeps no query value


def test_the_page_lists_a_syncs_rejections_and_says_why_a_job_was_refused(
    server: Server, browser: Any, engine: Any, uow: Any, org: str
) -> None:
    from accounting.store.uow import UnitOfWork
    from tasks.documents import upsert_documents as task

    announcing = UnitOfWork(engine, runtime.effects())
    bad = {**invoice("inv-2"), "currency": "EURO"}
    upsert_documents(announcing, org, [invoice("inv-1"), bad], max_documents=9, job_id="j2")
    task.apply(args=[org, [invoice("inv-3")]], kwargs={"schema": 99}, task_id="j3")
    token = tokens.create_token(uow(), org)
    page = open_page(browser, server, token, org, "j2")
    page.wait_for_function("document.querySelectorAll('#failures li').length == 1")
    assert page.inner_text("#failures li").startswith("inv-2: rejected, currency:")
    page.goto(f"{server.url}/?org={org}&job=j3")
    page.wait_for_function("document.getElementById('counts').textContent.startsWith('refused')")
    assert "schema" in page.inner_text("#counts")
    assert page.inner_text("#place") == "UnsupportedPayload"
