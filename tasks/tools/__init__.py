"""Tools that drive real workers: the demo, the benches, the chaos run and the worker pool
they share. The Celery tasks never import them; the CLI registers their commands."""
