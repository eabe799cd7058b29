"""``kadath serve``: uvicorn running the game, timed phase by phase from the process's start.

The CLI imports this module only to serve, so the other subcommands stay light.
"""

from __future__ import annotations

import contextlib
import gc
import socket
from collections.abc import Callable

import structlog
from fastapi import FastAPI
from uvicorn.config import Config
from uvicorn.server import Server

from kadath.bootstrap import create_app
from kadath.listening import listening_socket
from kadath.logs import configure_logging
from kadath.settings import Settings
from kadath.startup import StartupPhases
from kadath.web.websocket_protocol import AbortableWebSocketProtocol

log = structlog.get_logger(__name__)


class KadathServer(Server):
    """uvicorn, but players are told and their connections closed before uvicorn drops them,
    and a stuck WebSocket can be aborted by the game (``AbortableWebSocketProtocol``).
    Once it listens it logs how long each start-up phase took (``startup_phases``)."""

    def __init__(self, config: Config, phases: StartupPhases | None = None) -> None:
        if config.ws == "auto":
            config.ws = AbortableWebSocketProtocol
        super().__init__(config)
        self.phases = phases

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        config = self.config
        if sockets is None and config.uds is None and config.fd is None:
            # an address is bound here, not resolved by the loop (kadath.listening); a host
            # name, or an address that will not bind, is left to uvicorn and its messages
            with contextlib.suppress(OSError):
                sock = listening_socket(config.host, config.port, config.backlog)
                sockets = None if sock is None else [sock]
        await super().startup(sockets)
        if self.phases is not None and self.started:
            self.phases.mark("listeners")
            log.info(
                "startup_phases",
                total_ms=self.phases.total_ms,
                cpu_ms=self.phases.total_cpu_ms,
                phases_ms=self.phases.ms,
                phases_cpu_ms=self.phases.cpu_ms,
                phases_rss_kib=self.phases.rss_kib,
            )
        if not gc.isenabled():  # ``kadath serve`` starts with the collector off
            settle_garbage_collector()

    async def shutdown(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        app = self.config.app  # loaded_app may be a middleware wrapper without ``state``
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        if runtime is not None:
            await runtime.hub.shutdown()  # save everyone, then tell and close them
        await super().shutdown(sockets)  # type: ignore[arg-type]


# The collector's thresholds once serving. CPython's (700, 10, 10) suit a short script; a
# server holding a thousand players' sessions and connections ran a full collection (a stall
# of the whole loop, 150-320 ms each at that size) a dozen times in 30 s, 5.9 s in all; with
# these, 1.5 s (docs/performance.md, "CPU per command, second pass").
SERVING_GC_THRESHOLDS = (20_000, 20, 20)


def settle_garbage_collector() -> None:
    """After a start-up run with the collector off: freeze what it built (the modules, the
    world, the game: they live as long as the process, so no later collection need scan them),
    set the serving thresholds and turn the collector back on. No collection first: it would
    cost ~150 ms of CPU before the first request to find a few dozen unreachable objects (a
    few thousand after a migration), which stay frozen instead."""
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)
    gc.enable()


def serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    phases: StartupPhases | None = None,
    app: Callable[[Settings, StartupPhases], FastAPI] = create_app,
) -> None:
    """Run the server; ``app`` builds the ASGI app (``kadath serve --cluster`` passes its own)."""
    phases = phases or StartupPhases()
    logs = configure_logging(settings.log_level, json=settings.log_json)
    config = Config(
        app(settings, phases),
        host=host or settings.host,
        port=port if port is not None else settings.port,
        log_config=None,
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=10,
        proxy_headers=False,
    )
    print(f"Kadath is starting: open http://{config.host}:{config.port}/ in a browser.")
    phases.mark("app")  # logging, the FastAPI app and its routes, uvicorn's configuration
    try:
        KadathServer(config, phases).run()
    except KeyboardInterrupt:
        # uvicorn has already shut down gracefully and re-raises Ctrl-C for the exit status.
        print("Kadath has stopped; every character was saved.")
    finally:
        gc.enable()
        logs.stop()
