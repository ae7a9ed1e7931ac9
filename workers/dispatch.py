"""Job dispatchers: RQ when a Redis URL is configured, in-process otherwise (the demo)."""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from redis import Redis
from rq import Queue, Retry

from config import Settings
from workers.jobs import TASKS

log = logging.getLogger(__name__)

RETRY = Retry(max=5, interval=[10, 30, 60, 300, 900])


def job_function(task: str):
    module, _, name = TASKS[task].rpartition(".")
    return getattr(import_module(module), name)


class InlineDispatcher:
    """Runs the job right away in this process (after the commit that deferred it)."""

    def dispatch(self, task: str, **ids: Any) -> None:
        try:
            job_function(task)(**ids)
        except Exception:
            log.exception("in-process job %s %s failed; its row stays for the sweeper", task, ids)


class RQDispatcher:
    """Enqueues the job on RQ; raises if Redis is unreachable (the sweeper re-dispatches)."""

    def __init__(self, connection: Redis, queue_name: str) -> None:
        self.queue = Queue(queue_name, connection=connection)

    def dispatch(self, task: str, **ids: Any) -> None:
        self.queue.enqueue(TASKS[task], kwargs=ids, retry=RETRY, job_timeout=300)


def redis_connection(settings: Settings) -> Redis:
    return Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)


def make_dispatcher(settings: Settings) -> InlineDispatcher | RQDispatcher:
    if settings.jobs_inline:
        return InlineDispatcher()
    return RQDispatcher(redis_connection(settings), settings.queue_name)


def queue_health(settings: Settings) -> str:
    """'inline' without Redis, 'ok' when Redis answers, else an error description."""
    if settings.jobs_inline:
        return "inline"
    try:
        redis_connection(settings).ping()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
