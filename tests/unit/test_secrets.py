"""Secrets come only from the environment: the compose file requires them, never holds them,
and Flower is never served without authentication."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = (ROOT / "docker-compose.yml").read_text()
#: A URL's password, an environment value, or a Flower credential.
VALUE = r"(\$\{[^}]*\}|[^@\s]+)"
SECRET_SLOTS = re.compile(
    rf"://[^:/@\s]+:{VALUE}@"
    rf"|^\s*\w*(?:PASSWORD|SECRET|TOKEN)\w*:\s*{VALUE}"
    rf"|--basic-auth=(?:\$\{{[^}}]*\}}|[^:\s]+):{VALUE}",
    re.MULTILINE,
)


def test_every_secret_in_the_compose_file_is_a_required_environment_variable() -> None:
    slots = list(SECRET_SLOTS.finditer(COMPOSE))
    assert len(slots) >= 4  # both database URLs, Postgres's own, PgBouncer's, Flower's
    for match in slots:
        value = next(v for v in match.groups() if v is not None)
        assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", value), f"not from the environment: {value}"


def test_flower_requires_a_login() -> None:
    flower = COMPOSE.split("\n  flower:\n", 1)[1]
    assert "--basic-auth=" in flower


def test_the_env_file_with_the_real_secrets_is_never_committed_or_built_in() -> None:
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
