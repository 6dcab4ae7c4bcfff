"""A shop's Flask app that books its documents with accounting-impact through the client.

Its own Celery app, its own ``celeryconfig.py`` and ``tasks/`` package and its own
``@shared_task`` stay its own: the client sends by task name and changes none of them."""

import os

from celery import Celery
from flask import Flask, jsonify, request

from accounting_impact_client import AccountingClient

celery_app = Celery("shop")
celery_app.config_from_object("celeryconfig")

# Through the shop's own Celery app when accounting shares its broker; otherwise give
# AccountingClient the accounting broker's URL instead of celery_app.
accounting = AccountingClient(
    celery_app=celery_app,
    result_url=os.environ["ACCOUNTING_REDIS_URL"],
    api_url=os.environ["ACCOUNTING_API_URL"],
    api_token=os.environ["ACCOUNTING_API_TOKEN"],
)
app = Flask(__name__)


@app.post("/orgs/<org_id>/documents")
def sync_documents(org_id: str):
    """Returns once accounting has stored them: each one changed, unchanged or rejected."""
    result = accounting.sync_documents(org_id, request.get_json()["documents"])
    return jsonify(
        job_id=result.job_id,
        changed=list(result.changed),
        rejected=[rejection.as_dict() for rejection in result.rejected],
    )


@app.post("/orgs/<org_id>/recreate")
def recreate(org_id: str):
    result = accounting.recreate(org_id, request.get_json()["document_ids"])
    return jsonify(job_id=result.job_id, posted=list(result.posted), queued=result.queued)


@app.get("/jobs/<job_id>/events")
def job_events(job_id: str):
    """Every event of the job, followed over SSE until it is done."""
    return jsonify([{"type": e.type, "data": e.data} for e in accounting.events(job_id)])


@app.post("/signup")
def signup():
    """The shop's own task, on the shop's own queue."""
    from tasks.emails import send_welcome_email

    return jsonify(send_welcome_email.delay(request.get_json()["email"]).get(timeout=30))
