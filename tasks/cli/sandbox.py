"""The embedded default of the command line: with no ``ACCOUNTING_DATABASE_URL`` and
``ACCOUNTING_REDIS_URL``, a command that needs them uses the embedded Postgres and Redis of the
data folder (the demo's), migrated; the ones ``accounting up`` keeps running if it does, else
its own, stopped when it ends. ``accounting up`` and ``accounting down`` start and stop them in
the background, for workers, Flower and ``serve`` to share.

Workers, beat and the Celery CLI are not started through here: they still refuse to start
without URLs (a worker on a data folder of its own would post into nothing anyone reads)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated

import psutil  # type: ignore[import-untyped, unused-ignore]
import typer

from accounting import embedded, runtime
from accounting.config import Settings, get_settings
from accounting.errors import InvalidSetting
from accounting.services import schema
from tasks.cli.arguments import RAW_ARGUMENTS
from tasks.cli.common import console, notices

#: Commands that start (or need no) services of their own.
SELF_MANAGED = frozenset({"demo", "bench", "chaos", "up", "down", "schema"})
#: How long ``up`` waits for the servers to answer, and ``down`` for them to stop.
START_SECONDS = 120.0
STOP_SECONDS = 60.0


def embedded_default(ctx: typer.Context) -> None:
    """Before every command: give it the embedded services when no URLs are configured."""
    if ctx.resilient_parsing or ctx.invoked_subcommand in SELF_MANAGED or _asks_for_help(ctx):
        return
    settings = get_settings()
    if settings.database_url and settings.redis_url:
        return
    try:
        urls = ctx.with_resource(embedded.services(settings))
    except embedded.DataDirInUse:
        raise InvalidSetting(
            f"the embedded services of {settings.data_dir} are in use by another command (a "
            "demo?): wait for it, or share them with `accounting up`"
        ) from None
    _use(urls)


def _asks_for_help(ctx: typer.Context) -> bool:
    """Whether the command line asks for a command's help (which needs no services)."""
    return any(arg == "--help" for arg in ctx.meta.get(RAW_ARGUMENTS, ()))


def _use(urls: embedded.ServiceUrls) -> None:
    """Make ``urls`` this process's (and its children's) services, migrated."""
    os.environ["ACCOUNTING_DATABASE_URL"] = urls.database_url
    os.environ["ACCOUNTING_REDIS_URL"] = urls.redis_url
    get_settings.cache_clear()
    if not runtime.schema_state().ready:
        schema.upgrade(urls.database_url)


def up(
    foreground: Annotated[
        bool, typer.Option("--foreground", help="Keep them up in this process until Ctrl-C")
    ] = False,
    ready_fd: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Start the embedded Postgres and Redis of the data folder (migrated) and keep them
    running in the background; print the URLs to export for workers, Flower and `serve`.
    Every other command on this data folder uses them until `accounting down`."""
    settings = get_settings()
    data_dir = _data_dir(settings)
    if settings.database_url and settings.redis_url:
        raise InvalidSetting("ACCOUNTING_DATABASE_URL and ACCOUNTING_REDIS_URL are set: no up")
    shared = embedded.running(data_dir)
    if shared is not None:
        notices.print(f"already up in {data_dir}")
        _print_exports(shared)
        return
    if foreground or ready_fd is not None:
        _keep_up(settings, data_dir, ready_fd)
        return
    urls = _start_in_background(data_dir)
    notices.print(f"embedded services up in {data_dir}; `accounting down` stops them")
    _print_exports(urls)


def down() -> None:
    """Stop the embedded services `accounting up` keeps running."""
    data_dir = _data_dir(get_settings())
    state = data_dir / embedded.STATE_FILE
    if embedded.running(data_dir) is None:
        console.print(f"nothing is up in {data_dir}")
        return
    pid = int(json.loads(state.read_text())["pid"])
    try:
        holder = psutil.Process(pid)
        holder.send_signal(signal.SIGTERM)
        holder.wait(STOP_SECONDS)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        raise InvalidSetting(f"process {pid} did not stop within {STOP_SECONDS:.0f} s") from None
    console.print(f"embedded services of {data_dir} stopped")


def _data_dir(settings: Settings) -> Path:
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def _keep_up(settings: Settings, data_dir: Path, ready_fd: int | None) -> None:
    """Hold the services (and the data folder's lock) until SIGTERM or Ctrl-C; their URLs are
    recorded in the data folder meanwhile, and written as JSON to ``ready_fd`` once ready."""
    with (
        embedded.services(settings) as urls,
        embedded.recorded(data_dir, urls, os.getpid()),
    ):
        _use(urls)
        if ready_fd is not None:
            with os.fdopen(ready_fd, "w") as ready:
                ready.write(json.dumps(urls.__dict__) + "\n")
        else:
            _print_exports(urls)
            notices.print("Ctrl-C stops them")
        threading.Event().wait()  # until SIGTERM or Ctrl-C unwinds (see tasks.cli.main)


def _start_in_background(data_dir: Path) -> embedded.ServiceUrls:
    """Run ``accounting up --foreground`` detached, and wait for it to say it is ready."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "up.log"
    read_end, write_end = os.pipe()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tasks.cli", "up", "--ready-fd", str(write_end)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
            start_new_session=True,  # outlives this command and its terminal's Ctrl-C
        )
    os.close(write_end)
    reader = threading.Timer(START_SECONDS, process.kill)  # a hung start does not hang us
    reader.start()
    try:
        with os.fdopen(read_end) as ready:
            line = ready.readline()  # the URLs, or end of file when the process died
    finally:
        reader.cancel()
    if not line:
        process.wait()
        tail = log.read_text(errors="replace")[-2000:]
        raise InvalidSetting(f"the embedded services did not start (see {log}):\n{tail}")
    recorded = json.loads(line)
    return embedded.ServiceUrls(recorded["database_url"], recorded["redis_url"])


def _print_exports(urls: embedded.ServiceUrls) -> None:
    print(f"export ACCOUNTING_DATABASE_URL='{urls.database_url}'")
    print(f"export ACCOUNTING_REDIS_URL='{urls.redis_url}'")
