"""Fixtures for the worker tests: a Redis server of their own, RQ targets, quiet sessions.

Redis tests start their own `redis-server` (no persistence, noeviction, a free loopback port,
a temporary directory) and are skipped, with the reason printed, when the binary is not on
PATH. When REDIS_URL is set (CI), the RQ round trip also runs against that server on a queue
name of its own, and every key the test made is deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker, Worker
from sqlalchemy.orm import Session

from billing.db import make_session_factory
from tests.conftest import REDIS_URL, free_port


class RedisServer:
    """A redis-server process of the test run's own; stop() and start() simulate an outage."""

    def __init__(self, directory: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction",
                "--dir", str(self.directory), "--daemonize", "no", "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = self.client()
        while True:
            try:
                client.ping()
                return
            except RedisConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        """Kill it the way an outage would (its data is gone: it keeps nothing on disk)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    if not shutil.which("redis-server"):
        pytest.skip("no redis-server binary on PATH (apt-get install redis-server to run this)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(redis_server) -> Iterator[RedisServer]:
    """The run's redis-server, running and empty at the start and the end of the test."""
    redis_server.start()
    redis_server.client().flushall()
    yield redis_server
    redis_server.start()
    redis_server.client().flushall()


@dataclass
class RQTarget:
    """Where a test's jobs go: a Redis URL, a queue name and a connection to both."""

    url: str
    queue_name: str
    connection: Redis

    @property
    def queue(self) -> Queue:
        return Queue(self.queue_name, connection=self.connection)

    def work(self, *, forking: bool = False) -> bool:
        """Run a real RQ worker in burst mode on the queue; True if it processed a job."""
        worker_class = Worker if forking else SimpleWorker
        name = f"{self.queue_name}-{uuid.uuid4().hex[:8]}"  # so cleanup finds its keys
        worker = worker_class([self.queue], connection=self.connection, name=name)
        return worker.work(burst=True, logging_level="WARNING")


GLOBAL_RQ_KEYS = ("rq:clean_groups",)  # lock keys a worker sets for every queue


def _delete_keys_of(connection: Redis, queue_name: str, keep: set[bytes]) -> None:
    """Delete every key RQ made for `queue_name` (job ids and worker names contain the queue
    name), and the global lock keys the test created (not those that were there before)."""
    keys = list(connection.scan_iter(match=f"*{queue_name}*", count=1000))
    keys += [key for key in GLOBAL_RQ_KEYS if key.encode() not in keep]
    if keys:
        connection.delete(*keys)
    connection.srem("rq:queues", f"rq:queue:{queue_name}")


@pytest.fixture(params=["own", "env"])
def rq_target(request) -> Iterator[RQTarget]:
    """An RQ target on the run's own redis-server, then (when REDIS_URL is set) on that one."""
    if request.param == "own":
        server = request.getfixturevalue("own_redis")
        target = RQTarget(server.url, "paydesk", server.client())
        yield target
        return
    if not REDIS_URL:
        pytest.skip("REDIS_URL is not set: the shared-Redis variant runs in CI")
    queue_name = f"paydesk-test-{uuid.uuid4().hex[:12]}"
    connection = Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    target = RQTarget(REDIS_URL, queue_name, connection)
    existing = {key.encode() for key in GLOBAL_RQ_KEYS if connection.exists(key)}
    try:
        yield target
    finally:
        _delete_keys_of(connection, queue_name, existing)
        connection.close()


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    """RQ workers install SIGINT/SIGTERM handlers; give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def quiet_session(session) -> Iterator[Session]:
    """A session on the test database whose commits dispatch nothing (no outbox listener), to
    arrange emails that are queued but whose send job never started."""
    with make_session_factory(session.get_bind())() as db_session:
        yield db_session


@pytest.fixture
def worker_env(settings) -> dict[str, str]:
    """PAYDESK_* variables describing the test's settings, for `python -m workers`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYDESK_")}
    env.update(
        PAYDESK_SECRET_KEY=settings.secret_key,
        PAYDESK_DATABASE_URL=settings.database_url,
        PAYDESK_BASE_URL=settings.base_url,
        PAYDESK_QUEUE_NAME=settings.queue_name,
    )
    if settings.redis_url:
        env["PAYDESK_REDIS_URL"] = settings.redis_url
    if settings.smtp_url:
        env["PAYDESK_SMTP_URL"] = settings.smtp_url
    return env
