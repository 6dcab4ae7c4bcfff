"""Start and stop real Celery worker processes (the demo and the end-to-end tests use them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery


@dataclass
class WorkerProcess:
    name: str
    queue: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class WorkerPool:
    """Worker processes of one run; each is the leader of its own process group."""

    app: Celery
    env: Mapping[str, str]
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def start(
        self,
        queue: str,
        *,
        concurrency: int = 1,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> WorkerProcess:
        name = name or f"{queue.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:6]}@demo"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name.split('@')[0]}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks.app:app",
            "worker",
            "-Q",
            queue,
            "-n",
            name,
            "-c",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                env={**os.environ, **self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        worker = WorkerProcess(name, queue, process, log_path)
        self.workers.append(worker)
        return worker

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once every started worker answers a ping."""
        deadline = time.monotonic() + timeout
        waiting = {w.name for w in self.workers}
        while waiting:
            for worker in self.workers:
                if worker.process.poll() is not None:
                    raise RuntimeError(f"worker {worker.name} exited:\n{worker.log_tail()}")
            replies = self.app.control.ping(destination=list(waiting), timeout=0.5) or []
            for reply in replies:
                waiting -= set(reply)
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"workers not ready after {timeout}s: {sorted(waiting)}")

    def kill(self, worker: WorkerProcess, sig: int = signal.SIGKILL) -> None:
        """Signal the worker's whole process group (the main process and its pool children)."""
        with suppress(ProcessLookupError):
            os.killpg(worker.process.pid, sig)
        if sig == signal.SIGKILL:
            worker.process.wait()

    def terminate(self, worker: WorkerProcess, timeout: float = 60.0) -> int | None:
        """Warm shutdown as a deploy does it: :meth:`shut_down`, then :meth:`wait_exit`."""
        self.shut_down(worker)
        return self.wait_exit(worker, timeout)

    def shut_down(self, worker: WorkerProcess) -> None:
        """SIGTERM to the main process only, as docker's init and Kubernetes send it: Celery's
        warm shutdown. (SIGTERM to the whole group would also reach the prefork children, which
        restore the default action for it, and kill them mid-task.)"""
        with suppress(ProcessLookupError):
            os.kill(worker.process.pid, signal.SIGTERM)

    def wait_exit(self, worker: WorkerProcess, timeout: float = 60.0) -> int | None:
        """The worker's exit code once it has exited; None if it outlived ``timeout`` and had
        to be killed. Either way it leaves the pool."""
        try:
            code: int | None = worker.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        self.kill(worker, signal.SIGKILL)  # the group: no orphaned pool child survives
        self.workers.remove(worker)
        return code

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown of every worker (finish the current task), then SIGKILL what is left."""
        for worker in self.workers:
            if worker.process.poll() is None:
                self.shut_down(worker)
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            with suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            self.kill(worker, signal.SIGKILL)  # the group: no orphaned pool child survives
        self.workers.clear()


@contextmanager
def worker_pool(app: Celery, env: Mapping[str, str], log_dir: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(app, env, log_dir)
    try:
        yield pool
    finally:
        pool.stop()
