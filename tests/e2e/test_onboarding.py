"""An organization set up from scratch without Python: from the command line (org create,
account import, a matrix drafted from CSV and published, documents imported onto real
workers) and over HTTP with an admin token, which a tenant's token cannot use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from accounting.services import documents as documents_service
from accounting.services import organizations, posting, reports, tokens
from accounting.services import queue as queue_service
from tasks.cli import cli
from web.app import create_app

from helpers import invoice

pytestmark = pytest.mark.timeout(240)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "onboarding"


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, f"accounting {' '.join(args)}:\n{result.output}"
    return result.output


def test_an_organization_set_up_with_the_cli_alone_gets_its_documents_posted(
    workers: Any, uow: Any, tmp_path: Path
) -> None:
    workers.start("accounting.high", concurrency=1)
    workers.start("accounting.normal", concurrency=1)
    run("org", "create", "shop", "--name", "Shop GmbH", "--currency", "EUR")
    assert "10 accounts added" in run("account", "import", "shop", str(EXAMPLES / "accounts.csv"))
    # A second import of a file with one renamed account renames it and adds nothing.
    renamed = tmp_path / "accounts.csv"
    renamed.write_text((EXAMPLES / "accounts.csv").read_text().replace("PSP clearing", "Stripe"))
    assert "0 accounts added, 1 renamed" in run("account", "import", "shop", str(renamed))
    assert "draft version 1" in run("matrix", "draft", "shop", str(EXAMPLES / "matrix.csv"))
    assert "version 1 published" in run("matrix", "publish", "shop")
    listed = json.loads(run("org", "list", "--json"))
    assert [(o["id"], o["matrix_version"], o["accounts"]) for o in listed] == [("shop", 1, 10)]

    workers.wait_ready()
    count = len((EXAMPLES / "documents.jsonl").read_text().splitlines())
    imported = run("import", "shop", str(EXAMPLES / "documents.jsonl"), "--wait", "120")
    assert f"{count} of {count} posted, 0 failed" in imported
    assert queue_service.status(uow(), "shop")["posted"] == count
    balance = reports.trial_balance(uow(), "shop", None)
    assert balance.rows and sum((r.debit - r.credit for r in balance.rows), Decimal(0)) == 0


def test_a_bad_chart_row_is_named_and_nothing_is_imported(uow: Any, tmp_path: Path) -> None:
    run("org", "create", "shop", "--name", "Shop GmbH", "--currency", "EUR")
    bad = tmp_path / "accounts.csv"
    bad.write_text("code,name,kind\n1000,Bank,asset\n2000,Loans,debt\n")
    result = CliRunner().invoke(cli, ["account", "import", "shop", str(bad)])
    assert result.exit_code != 0
    assert "line 3, kind: 'debt' is not one of" in str(result.exception or result.output)
    listed = organizations.list_organizations(uow())
    assert [(o.id, o.accounts) for o in listed] == [("shop", 0)]
    taken = CliRunner().invoke(cli, ["org", "create", "shop", "--name", "X", "--currency", "EUR"])
    assert "exists already" in str(taken.exception or taken.output)


@pytest.fixture
def api(engine: Any, redis_client: Any) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def test_an_admin_token_onboards_an_organization_over_http_and_a_tenant_token_cannot(
    api: TestClient, uow: Any, org: str
) -> None:
    admin = {"Authorization": f"Bearer {tokens.create_admin_token(uow(), 'onboarding')}"}
    tenant = {"Authorization": f"Bearer {tokens.create_token(uow(), org)}"}
    chart = [
        {"code": "1100", "name": "Receivables", "kind": "asset"},
        {"code": "2200", "name": "VAT", "kind": "liability"},
        {"code": "4000", "name": "Revenue", "kind": "revenue"},
    ]
    body = {"id": "shop", "name": "Shop GmbH", "functional_currency": "EUR"}

    assert api.post("/v1/orgs", json=body, headers=tenant).status_code == 403
    assert api.post("/v1/orgs", json=body).status_code == 401
    assert (
        api.put(f"/v1/orgs/{org}/accounts", json={"accounts": chart}, headers=tenant).status_code
        == 403
    )
    assert api.get("/v1/orgs/shop/queue", headers=admin).status_code == 401  # no tenant data

    created = api.post("/v1/orgs", json=body | {"accounts": chart[:1]}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json() == {"org_id": "shop", "functional_currency": "EUR", "accounts": 1}
    bad = api.put(
        "/v1/orgs/shop/accounts",
        json={"accounts": [*chart, {"code": "9", "name": "x", "kind": "debt"}]},
        headers=admin,
    )
    assert bad.status_code == 422 and "accounts[3], kind" in bad.json()["detail"]
    imported = api.put("/v1/orgs/shop/accounts", json={"accounts": chart}, headers=admin)
    assert imported.json() == {"added": ["2200", "4000"], "renamed": [], "unchanged": ["1100"]}

    rules = [
        {"document_type": "invoice", "component": "net", "debit": "1100", "credit": "4000"},
        {"document_type": "invoice", "component": "tax", "debit": "1100", "credit": "9999"},
    ]
    gap = api.post("/v1/orgs/shop/matrix/draft", json={"rules": rules}, headers=admin)
    assert gap.status_code == 422 and "credit account '9999' is not in the chart" in gap.text
    rules[1]["credit"] = "2200"
    draft = api.post("/v1/orgs/shop/matrix/draft", json={"rules": rules}, headers=admin)
    assert draft.json() == {"org_id": "shop", "version": 1, "recreated": 0}
    published = api.post("/v1/orgs/shop/matrix/publish", headers=admin)
    assert published.status_code == 200 and published.json()["version"] == 1
    assert api.post("/v1/orgs/nowhere/matrix/publish", headers=admin).status_code == 404
    huge = api.post("/v1/orgs", content=b"{" + b" " * 6_000_000 + b"}", headers=admin)
    assert huge.status_code == 413

    documents_service.upsert_documents(uow(), "shop", [invoice("inv-1")], max_documents=9)
    posting.post_documents(uow(), "shop", {"inv-1": 1})
    assert queue_service.status(uow(), "shop")["posted"] == 1
