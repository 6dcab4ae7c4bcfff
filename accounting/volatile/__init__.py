"""What lives in Redis and may be lost at any moment: the matrix cache, the dispatcher's wake-up,
rate limits, job progress streams and the metrics counters. Postgres stays the truth; every
module here degrades to "slower" or "stale for a moment", never to "wrong"."""
