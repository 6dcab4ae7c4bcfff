"""The use cases: the only API entrypoints (Celery tasks, the CLI, the HTTP service) call. Each
takes a unit of work (or a factory of them), runs one transaction per step, and records what
its commits set in motion (:mod:`accounting.domain.events`)."""
