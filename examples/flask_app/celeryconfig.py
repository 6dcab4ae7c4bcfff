"""The shop's own Celery settings (Celery's usual convention): its broker, its own queue."""

import os

broker_url = os.environ["SHOP_BROKER_URL"]
result_backend = os.environ["SHOP_BROKER_URL"]
task_default_queue = "shop"
imports = ["tasks.emails"]
