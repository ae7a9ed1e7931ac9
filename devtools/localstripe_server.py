"""Run localstripe (a fake Stripe server; GPL, a dev/demo dependency only) on 127.0.0.1 with its
state in memory.

localstripe's own CLI binds every interface and pickles its state to one fixed file in the
system temp folder after every write. This runs its aiohttp app instead, on loopback only, with
`Store.dump_to_disk` replaced by a no-op, so state lives in this process and dies with it.

    python -m devtools.localstripe_server --port 8420            # state in memory
    python -m devtools.localstripe_server --port 8420 --webhook URL --webhook-secret whsec_… \
        --state-file instance/localstripe.pickle                  # what `make demo` runs

`start_in_thread(port)` does the same in a daemon thread of the calling process (the tests'
fixture); it returns a handle with the base URL, `clear()` (all objects and webhooks) and
`stop()`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass

HOST = "127.0.0.1"


def _in_memory() -> None:
    from localstripe import resources

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]


def _kept_in(path: str) -> None:
    """Keep state in `path` (the demo's instance/ folder) instead of the shared temp file, so
    a restarted demo still knows the customers and cards its database refers to."""
    import os
    import pickle

    from localstripe import resources

    def dump(store) -> None:
        temporary = f"{path}.tmp"
        with open(temporary, "wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)

    resources.Store.dump_to_disk = dump  # type: ignore[method-assign]
    if os.path.exists(path):
        with open(path, "rb") as f:
            resources.store.update(pickle.load(f))  # noqa: S301 (our own demo file)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Handle:
    base_url: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def clear(self) -> None:
        """Forget every object (DELETE /_config/data) and every registered webhook."""
        from localstripe import webhooks

        url = self.base_url + "/_config/data"
        request = urllib.request.Request(url, method="DELETE")  # noqa: S310 (loopback)
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 (loopback URL)
        webhooks._webhooks.clear()

    def register_webhook(self, name: str, url: str, secret: str) -> None:
        register_webhook(self.base_url, name, url, secret)

    def stop(self) -> None:
        def _stop() -> None:
            for task in asyncio.all_tasks(self.loop):  # webhooks still waiting to be sent
                task.cancel()
            self.loop.stop()

        self.loop.call_soon_threadsafe(_stop)
        self.thread.join(timeout=10)


def register_webhook(base_url: str, name: str, url: str, secret: str) -> None:
    """Ask localstripe to deliver its events to `url`, signed with `secret`."""
    from urllib.parse import urlencode

    data = urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(f"{base_url}/_config/webhooks/{name}", data=data)  # noqa: S310
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 (loopback URL)


def _serve(port: int, started: threading.Event, holder: dict) -> None:
    from aiohttp import web
    from localstripe.server import app

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, HOST, port).start())
    holder["loop"] = loop
    started.set()
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(runner.cleanup())
        loop.close()


def start_in_thread(port: int | None = None, state_file: str | None = None) -> Handle:
    """localstripe on 127.0.0.1:`port` (a free one by default) in a daemon thread, its state in
    memory (or kept in `state_file`)."""
    if state_file:
        _kept_in(state_file)
    else:
        _in_memory()
    port = port or free_port()
    started = threading.Event()
    holder: dict = {}
    thread = threading.Thread(
        target=_serve, args=(port, started, holder), name="localstripe", daemon=True
    )
    thread.start()
    if not started.wait(15):
        raise RuntimeError("localstripe did not start within 15 s")
    base_url = f"http://{HOST}:{port}"
    _wait_until_up(base_url)
    return Handle(base_url=base_url, loop=holder["loop"], thread=thread)


def _wait_until_up(base_url: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(base_url + "/js.stripe.com/v3/", timeout=2).close()  # noqa: S310
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--webhook", help="deliver events to this URL")
    parser.add_argument("--webhook-secret", help="sign delivered events with this secret")
    parser.add_argument("--state-file", help="keep state in this file (default: memory only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    handle = start_in_thread(args.port, state_file=args.state_file)
    if args.webhook:
        if not args.webhook_secret:
            parser.error("--webhook needs --webhook-secret")
        handle.register_webhook("paydesk", args.webhook, args.webhook_secret)
    kept = f"state in {args.state_file}" if args.state_file else "state in memory"
    print(f"localstripe (fake Stripe, for the demo) on {handle.base_url}, {kept}", flush=True)
    try:
        handle.thread.join()
    except KeyboardInterrupt:
        handle.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
