"""accounting-impact: business documents in, balanced general-ledger entries out.

Postgres is the truth, Redis may lose everything; the packages say which is which:

- ``domain``: pure rules (documents, money, posting, scheduling decisions): no I/O;
- ``store``: Postgres: the schema, every SQL statement, the unit of work;
- ``volatile``: what lives in Redis and may be lost (cache, wake-up, rate limits, progress,
  counters);
- ``services``: the use cases, the only API entrypoints call;
- ``runtime``: the composition root that builds them for a process.

Nothing here imports Celery, the CLI or the HTTP service."""
