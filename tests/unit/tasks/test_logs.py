"""Structured log lines and the optional error reporting."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from accounting.config import Settings
from tasks import logs


def record(**extra: object) -> logging.LogRecord:
    line = logging.LogRecord(
        "tasks.posting", logging.WARNING, "x.py", 1, "document %s", ("d",), None
    )
    for key, value in extra.items():
        setattr(line, key, value)
    return line


def test_a_line_is_one_json_object_with_the_context_it_was_given() -> None:
    parsed = json.loads(logs.JsonFormatter().format(record(org_id="acme", document_id="inv-1")))
    assert parsed["message"] == "document d"
    assert (parsed["level"], parsed["logger"]) == ("WARNING", "tasks.posting")
    assert (parsed["org_id"], parsed["document_id"]) == ("acme", "inv-1")
    assert "task_id" not in parsed  # outside a task


def test_an_exception_travels_inside_the_json_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        line = record()
        line.exc_info = sys.exc_info()
    parsed = json.loads(logs.JsonFormatter().format(line))
    assert "ValueError: boom" in parsed["exception"]


def test_json_logs_are_switched_on_by_the_setting_only() -> None:
    logger = logging.getLogger("test-json-logs")
    logger.addHandler(logging.StreamHandler())
    logs.configure(Settings(log_format="text"), logger)
    assert not isinstance(logger.handlers[0].formatter, logs.JsonFormatter)
    logs.configure(Settings(log_format="json"), logger)
    assert isinstance(logger.handlers[0].formatter, logs.JsonFormatter)


def test_errors_go_to_sentry_with_the_celery_integration_only_when_a_dsn_is_set() -> None:
    import sentry_sdk

    assert logs.report_errors(Settings(sentry_dsn=None)) is False
    dsn = "http://public@127.0.0.1:9/1"
    assert logs.report_errors(Settings(sentry_dsn=SecretStr(dsn))) is True
    client = sentry_sdk.get_client()
    assert client.dsn == dsn
    assert "celery" in {integration for integration in client.integrations}
    sentry_sdk.init()  # switched off again for the other tests


@pytest.mark.parametrize("value", ["xml", ""])
def test_an_unknown_log_format_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format=value)  # type: ignore[arg-type]
