"""The processes around the product: the Celery adapter (the app, thin tasks, worker wiring,
the producer client), the ``accounting`` command line (``tasks.cli``) and the tools that drive
real workers (``tasks.tools``)."""
