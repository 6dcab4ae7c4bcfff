"""The HTTP service: progress as Server-Sent Events, the queue, recreate/pause/resume/cancel,
Prometheus metrics and a status page (``accounting serve``)."""
