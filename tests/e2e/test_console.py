"""The operator console in headless Chromium, against a real `accounting serve` and real
Celery workers: an operator opens it with an admin token, finds a dead document and its
reason, fixes the cause and retries it until it is posted, pauses an organization and sees its
backlog hold, follows its job, resumes it and sees it drain, and looks up a document's
entries."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from accounting import demo_data, runtime
from accounting.services import matrices, tokens
from accounting.services import queue as queue_service
from accounting.services.documents import upsert_documents
from accounting.volatile.progress import ProgressStream

from helpers import Server, invoice

pytestmark = pytest.mark.timeout(240)

PAYOUT = {
    "id": "po-1",
    "type": "payout",
    "date": "2026-03-02",
    "currency": "EUR",
    "gross": "100.00",
    "fees": "1.40",
    "net": "98.60",
    "group": "stripe",
}


def org_cell(org: str, name: str) -> str:
    return f"document.querySelector('#orgs tr[data-org={org}] .{name}')?.textContent"


def test_an_operator_retries_a_dead_document_pauses_follows_and_resumes(
    server: Server, browser: Any, workers: Any, uow: Any, make_org: Any
) -> None:
    workers.start("accounting.normal", concurrency=1)
    make_org("acme")
    make_org("globex")
    full = demo_data.matrix("acme")
    without_payouts = {k: r for k, r in full.rules.items() if k[0] != "payout"}
    matrices.publish_matrix(uow(), "acme", replace(full, rules=without_payouts))
    workers.wait_ready()
    upsert_documents(uow(), "acme", [invoice("inv-1"), PAYOUT], max_documents=9, job_id="a1")

    page = browser.new_page()
    page.goto(f"{server.url}/console")
    admin = tokens.create_admin_token(uow(), "operator")
    page.fill("#login input[name=token]", admin)
    page.click("#login button")
    page.wait_for_function(f"{org_cell('acme', 'dead')} == '1'")
    assert admin not in page.url
    assert page.evaluate("sessionStorage.getItem('accounting-admin-token')") == admin

    # A dead document: found by its error, its reason read, its cause fixed, retried, posted.
    page.fill("#dead-filter input[name=org]", "acme")
    page.fill("#dead-filter input[name=error]", "PAYOUT")
    page.click("#dead-filter button:has-text('Find')")
    row = "#dead tr[data-org=acme][data-document=po-1]"
    page.wait_for_selector(row)
    assert page.locator("#dead tbody tr").count() == 1  # inv-1 was posted
    reason = page.inner_text(f"{row} .reason")
    assert "payout" in reason
    assert page.inner_text(f"{row} .version") == "1"
    matrices.publish_matrix(uow(), "acme", full)  # the missing rules
    page.check(f"{row} .pick")
    page.click("#dead-retry-selected")
    page.wait_for_function("document.getElementById('dead-result').textContent == '1 retried'")
    page.wait_for_function(f"!document.querySelector('{row}')")
    page.wait_for_function(
        f"{org_cell('acme', 'dead')} == '0' && {org_cell('acme', 'pending-normal')} == '0'"
        f" && {org_cell('acme', 'in-flight')} == '0'"
    )
    page.fill("#doc-lookup input[name=org]", "acme")
    page.fill("#doc-lookup input[name=id]", "po-1")
    page.click("#doc-lookup button")
    page.wait_for_function("document.getElementById('doc-state').textContent == 'posted'")
    assert page.inner_text("#doc-versions") == "ready v1, posted v1, failed v0"
    active = page.locator("#doc-active .entry-set[data-status=active]")
    assert active.get_attribute("data-version") == "1"
    accounts = active.locator(".line .account").all_inner_texts()
    assert sorted(accounts) == ["1000", "1200", "6100"]  # bank and fee, from PSP clearing
    assert page.inner_text("#doc-past") == ""

    # Paused: its backlog holds while another organization's drains.
    page.click("#orgs tr[data-org=globex] button.pause")
    page.wait_for_function(f"{org_cell('globex', 'state')} == 'paused'")
    held = [invoice(f"g-{n}") for n in range(5)]
    upsert_documents(uow(), "globex", held, max_documents=9, job_id="g1")
    upsert_documents(uow(), "acme", [invoice("inv-2")], max_documents=9, job_id="a2")
    page.wait_for_function(f"{org_cell('globex', 'pending-normal')} == '5'")
    page.wait_for_function(
        f"{org_cell('acme', 'pending-normal')} == '0' && {org_cell('acme', 'in-flight')} == '0'"
    )
    assert queue_service.status(uow(), "globex")["posted"] == 0
    assert page.inner_text("#orgs tr[data-org=globex] .pending-normal") == "5"

    # Its job, found by organization and followed while it waits, then through the resume.
    page.fill("#job-filter input[name=org]", "globex")
    page.click("#job-filter button")
    page.wait_for_selector("#jobs tr[data-job=g1]")
    assert page.locator("#jobs tbody tr").count() == 1
    page.click("#jobs tr[data-job=g1] button.follow")
    page.wait_for_selector("#job-events li[data-type=accepted]")
    assert "0 of 5 posted" in page.inner_text("#job-counts")
    page.click("#orgs tr[data-org=globex] button.resume")
    page.wait_for_function(f"{org_cell('globex', 'state')} == 'running'")
    page.wait_for_selector("#job-events li[data-type=done]", timeout=60_000)
    assert "5 of 5 posted" in page.inner_text("#job-counts")
    page.wait_for_function(f"{org_cell('globex', 'pending-normal')} == '0'")
    shown = page.eval_on_selector_all("#job-events li", "items => items.map(i => i.dataset.id)")
    published = [event.id for event in ProgressStream(runtime.redis_client(), 60).read("g1")]
    assert shown == published  # every event once, in order
    assert queue_service.status(uow(), "globex")["posted"] == 5


def test_a_tenant_token_cannot_open_the_console(
    server: Server, browser: Any, uow: Any, org: str
) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/console")
    page.fill("#login input[name=token]", tokens.create_token(uow(), org))
    page.click("#login button")
    page.wait_for_function(
        "document.getElementById('login-error').textContent == 'that token is not an admin token'"
    )
    assert page.is_hidden("#console")
    assert page.evaluate("sessionStorage.getItem('accounting-admin-token')") is None
