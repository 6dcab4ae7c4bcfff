"""The Celery side of accounting-impact: the app, its tasks and the dispatcher bootstep."""
