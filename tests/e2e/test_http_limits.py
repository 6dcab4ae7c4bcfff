"""A real ``accounting serve`` under the review's H3 attack: four concurrent 100 MB bodies
without a token (declared, and chunked) are refused at once, and the server's peak memory
(its VmHWM) stays where it was: not a byte of them is held."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from accounting.services import tokens

from helpers import Server

pytestmark = pytest.mark.timeout(120)
BODY_MB = 100


def peak_rss_mb(server: Server) -> float:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def attack(port: int, token: str | None, chunked: bool) -> tuple[int, float]:
    """POST 100 MB to /recreate (as fast as the server takes it): its status, how long."""
    started = time.monotonic()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_MB << 20}"
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST /v1/orgs/acme/recreate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{auth}{framing}\r\n\r\n"
    )
    chunk = b"[" * (1 << 20)
    if chunked:
        chunk = b"100000\r\n" + chunk + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head.encode())
        try:
            for _ in range(BODY_MB):
                connection.sendall(chunk)
        except OSError:
            pass  # the server answered and closed: it will not read the rest
        answer = connection.recv(4096)
    return int(answer.split(b" ", 2)[1]), time.monotonic() - started


def test_unauthenticated_and_oversize_bodies_do_not_grow_the_server(
    server: Server, uow: Any, org: str
) -> None:
    token = tokens.create_token(uow(), org)
    before = peak_rss_mb(server)
    cases = [(None, False), (None, True), ("acc_nope", True), (token, False), (token, True)]
    with ThreadPoolExecutor(4) as pool:
        for who, chunked in cases:
            answers = list(pool.map(attack, [server.port] * 4, [who] * 4, [chunked] * 4))
            expected = 413 if who == token else 401
            if who is None and not chunked:
                expected = 413  # a declared length over the limit: refused before the token
            assert [code for code, _ in answers] == [expected] * 4, (who, chunked)
            assert max(seconds for _, seconds in answers) < 5, (who, chunked)
    assert peak_rss_mb(server) - before < 50
