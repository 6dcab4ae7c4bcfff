"""Celery settings for tasks.app:app. URLs come from accounting's settings (ACCOUNTING_*)."""

from __future__ import annotations

from celery.schedules import crontab
from kombu.entity import Exchange, Queue

from accounting.config import get_settings
from accounting.domain.lanes import Lane

HIGH_QUEUE = Lane.HIGH.queue
NORMAL_QUEUE = Lane.NORMAL.queue

_redis = get_settings().redis_url
if not _redis:
    # No default: a worker or producer with a forgotten variable must not join whatever
    # broker happens to listen on the host. The demo and the tests start embedded services and
    # set the variable themselves.
    raise RuntimeError(
        "ACCOUNTING_REDIS_URL is not set: workers, beat and producers need the broker's URL "
        "(redis://host:6379/0)"
    )

broker_url = _redis
# Results keep the worker, retries and queue (Flower shows them) but not the arguments.
result_backend = f"tasks.results:ResultBackend+{_redis}"
broker_connection_retry_on_startup = True
# Longer than the hard time limit, so a slow task is not delivered twice while it runs. Never
# relied on for correctness: a lost message is recovered by the dispatcher's lease expiry.
broker_transport_options = {"visibility_timeout": 900}
result_backend_transport_options = {"retry_policy": {"timeout": 5.0}}
result_expires = 24 * 3600
result_extended = True

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]

task_queues = (
    Queue(HIGH_QUEUE, Exchange(HIGH_QUEUE, type="direct"), routing_key=HIGH_QUEUE),
    Queue(NORMAL_QUEUE, Exchange(NORMAL_QUEUE, type="direct"), routing_key=NORMAL_QUEUE),
)
task_default_queue = NORMAL_QUEUE
task_default_exchange = NORMAL_QUEUE
task_default_routing_key = NORMAL_QUEUE
task_create_missing_queues = False
# Recreates to the high lane, urgent when small enough for the fast path (tasks.routes).
task_routes = ("tasks.routes.route",)

# Every task is idempotent, so acknowledge after the work and requeue if the worker dies.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
worker_cancel_long_running_tasks_on_connection_loss = True
task_soft_time_limit = 240
task_time_limit = 300
worker_max_tasks_per_child = 10_000
# A pool process that grew past this (a huge document, a leak) is replaced after its task.
worker_max_memory_per_child = get_settings().worker_max_memory_mb * 1024  # KiB

# Flower and `celery events` see every task.
worker_send_task_events = True
task_send_sent_event = True

timezone = "UTC"
enable_utc = True

# The scheduled jobs (one `celery beat` runs them). Each expires if no worker takes it in time,
# so a backlog of stale runs cannot pile up while the workers are down.
beat_schedule = {
    "reclaim-expired-leases": {
        "task": "accounting.reclaim_leases",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "nightly-audit": {
        "task": "accounting.audit",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 6 * 3600},
    },
    "hourly-cleanup": {
        "task": "accounting.cleanup",
        "schedule": crontab(minute=15),
        "options": {"expires": 3600},
    },
}
