"""The Celery application: ``celery -A tasks.app:app worker -Q accounting.high`` (or normal)."""

from __future__ import annotations

from celery import Celery

from tasks.dispatcher import DispatcherStep

app = Celery("accounting", include=["tasks.documents", "tasks.posting"])
app.config_from_object("celeryconfig")
app.steps["worker"].add(DispatcherStep)
