"""The Celery application: ``celery -A tasks.app:app worker -Q accounting.high`` (or normal)."""

from __future__ import annotations

from celery import Celery

from tasks import worker

app = Celery(
    "accounting",
    include=["tasks.documents", "tasks.posting", "tasks.baseline", "tasks.maintenance"],
)
app.config_from_object("celeryconfig")
worker.install(app)
