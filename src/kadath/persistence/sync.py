"""A blocking facade over AsyncPersistenceLayer, for scripts and admin tools only.

Each call runs the async method on a private event loop in a daemon thread. The server never
uses it (an import-linter contract forbids it to server packages): it is a client of the async
layer, not a second, blocking implementation of persistence.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from kadath.domain.world import World
from kadath.persistence.layer import AsyncPersistenceLayer

if TYPE_CHECKING:
    from kadath.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")
Work = Callable[[AsyncPersistenceLayer], Coroutine[Any, Any, T]]

DEFAULT_TIMEOUT = 30.0
OPEN_TIMEOUT = 300.0  # migrations on a large database may take a while
_INSIDE_LOOP = (
    "SyncPersistenceLayer cannot be used from a running event loop (it would block it): "
    "use AsyncPersistenceLayer inside the server"
)
_thread_numbers = itertools.count(1)


def _refuse_inside_event_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(_INSIDE_LOOP)


class _LoopThread:
    """An event loop running forever in a daemon thread, until ``stop``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self._serve, name=f"kadath-sync-persistence-{next(_thread_numbers)}", daemon=True
        )
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run ``coro`` on the loop and wait for it; its exception is raised here.
        Raises TimeoutError (after cancelling the work) when it takes longer than ``timeout``."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            # Timed out or interrupted (Ctrl-C): do not leave the work running unobserved.
            future.cancel()
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


def _blocking(
    method: Callable[Concatenate[AsyncPersistenceLayer, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[SyncPersistenceLayer, P], T]:
    """A blocking method with the same parameters and result as the async ``method``."""

    def call(self: SyncPersistenceLayer, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.run(lambda layer: method(layer, *args, **kwargs))

    call.__name__ = method.__name__
    call.__qualname__ = f"SyncPersistenceLayer.{method.__name__}"
    call.__doc__ = f"Blocking ``AsyncPersistenceLayer.{method.__name__}``; raises as it does."
    return call


class SyncPersistenceLayer:
    """The one-call API of AsyncPersistenceLayer, blocking. Safe to share between threads;
    never call it from a running event loop (RuntimeError)."""

    def __init__(self, runner: _LoopThread, layer: AsyncPersistenceLayer, timeout: float) -> None:
        self._runner = runner
        self._layer = layer
        self._timeout = timeout
        self._closed = False
        self._close_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str,
        world: World,
        *,
        migrate_schema: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        **engine_options: Any,
    ) -> SyncPersistenceLayer:
        """Start the loop thread and open the async layer on it (migrating unless told not to).
        Raises RuntimeError inside a running event loop, and whatever opening raises."""
        _refuse_inside_event_loop()
        runner = _LoopThread()
        try:
            layer = runner.call(
                AsyncPersistenceLayer.open(
                    url, world, migrate_schema=migrate_schema, **engine_options
                ),
                OPEN_TIMEOUT,
            )
        except BaseException:
            runner.stop()
            raise
        return cls(runner, layer, timeout)

    @property
    def world(self) -> World:
        return self._layer.world

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def thread(self) -> threading.Thread:
        """The daemon thread running the private event loop."""
        return self._runner.thread

    def run(self, work: Work[T], *, timeout: float | None = None) -> T:
        """Run ``work(async_layer)`` on the private loop and return its result, e.g. to use a
        unit of work. Raises RuntimeError inside a running event loop or once closed,
        TimeoutError after ``timeout`` (default: the layer's), and whatever ``work`` raises."""
        _refuse_inside_event_loop()
        if self._closed:
            raise RuntimeError("this SyncPersistenceLayer is closed")
        return self._runner.call(work(self._layer), self._timeout if timeout is None else timeout)

    def close(self) -> None:
        """Dispose of the engine and stop the loop thread. Closing twice does nothing."""
        with self._close_lock:
            if self._closed:
                return
            _refuse_inside_event_loop()
            self._closed = True
        try:
            self._runner.call(self._layer.close(), self._timeout)
        finally:
            self._runner.stop()

    def __enter__(self) -> SyncPersistenceLayer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- players ---------------------------------------------------------------------------
    get_player_by_id = _blocking(AsyncPersistenceLayer.get_player_by_id)
    get_player_by_name = _blocking(AsyncPersistenceLayer.get_player_by_name)
    get_players_by_user = _blocking(AsyncPersistenceLayer.get_players_by_user)
    list_players = _blocking(AsyncPersistenceLayer.list_players)
    get_players_in_room = _blocking(AsyncPersistenceLayer.get_players_in_room)
    get_players_batch = _blocking(AsyncPersistenceLayer.get_players_batch)
    save_player = _blocking(AsyncPersistenceLayer.save_player)
    save_players = _blocking(AsyncPersistenceLayer.save_players)
    delete_player = _blocking(AsyncPersistenceLayer.delete_player)
    update_player_last_active = _blocking(AsyncPersistenceLayer.update_player_last_active)
    # -- rooms -----------------------------------------------------------------------------
    get_room_by_id = _blocking(AsyncPersistenceLayer.get_room_by_id)
    list_rooms = _blocking(AsyncPersistenceLayer.list_rooms)
    # -- health and experience ---------------------------------------------------------------
    damage_player = _blocking(AsyncPersistenceLayer.damage_player)
    heal_player = _blocking(AsyncPersistenceLayer.heal_player)
    update_player_health = _blocking(AsyncPersistenceLayer.update_player_health)
    gain_experience = _blocking(AsyncPersistenceLayer.gain_experience)
    update_player_stat_field = _blocking(AsyncPersistenceLayer.update_player_stat_field)
    # -- professions -------------------------------------------------------------------------
    get_all_professions = _blocking(AsyncPersistenceLayer.get_all_professions)
    get_profession_by_id = _blocking(AsyncPersistenceLayer.get_profession_by_id)
    # -- containers and items ----------------------------------------------------------------
    get_container = _blocking(AsyncPersistenceLayer.get_container)
    get_containers_in_room = _blocking(AsyncPersistenceLayer.get_containers_in_room)
    container_contents = _blocking(AsyncPersistenceLayer.container_contents)
    transfer_item = _blocking(AsyncPersistenceLayer.transfer_item)
    create_item = _blocking(AsyncPersistenceLayer.create_item)
    get_item = _blocking(AsyncPersistenceLayer.get_item)
    items_at = _blocking(AsyncPersistenceLayer.items_at)


_cached: tuple[int, SyncPersistenceLayer] | None = None
_cache_lock = threading.Lock()


def get_persistence(settings: Settings | None = None) -> SyncPersistenceLayer:
    """The process's shared blocking layer, opened on first use from ``settings`` (default:
    the environment); later calls return it, whatever settings they pass, until it is closed.
    Raises RuntimeError inside a running event loop, WorldFileError for bad world files."""
    global _cached
    _refuse_inside_event_loop()
    with _cache_lock:
        # A forked child cannot use its parent's loop thread: it opens its own.
        if _cached is not None and _cached[0] == os.getpid() and not _cached[1].closed:
            return _cached[1]
        layer = _open_from_settings(settings)
        _cached = (os.getpid(), layer)
        atexit.register(layer.close)
        return layer


def close_persistence() -> None:
    """Close the layer ``get_persistence`` shares, if open; the next call opens a new one."""
    global _cached
    with _cache_lock:
        cached, _cached = _cached, None
    if cached is not None and cached[0] == os.getpid():
        cached[1].close()


def _open_from_settings(settings: Settings | None) -> SyncPersistenceLayer:
    # Imported here: scripts pay for the world loader only when they ask for it.
    from kadath.settings import Settings
    from kadath.world import DEFAULT_WORLD_DIR, load_world

    settings = settings or Settings()
    world = load_world(settings.world_dir or DEFAULT_WORLD_DIR)
    return SyncPersistenceLayer.open(
        settings.resolved_database_url(),
        world,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        echo=settings.db_echo,
    )
