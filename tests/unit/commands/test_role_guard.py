"""The dispatcher's guard: a role too low, a frozen player, a muted speaker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from testkit import player_named

from kadath.commands.base import Command, CommandTable, Context, Dispatcher
from kadath.domain.account import Role
from kadath.domain.moderation import Sanction, SanctionKind
from kadath.services.clock import FakeClock
from kadath.services.presence import Presence
from kadath.services.sanctions import SanctionBook


class Echo(Command):
    names = ("echo",)
    speech = True

    async def run(self, ctx: Context) -> str:
        return ctx.args


class Glance(Command):
    names = ("glance",)
    while_frozen = True

    async def run(self, ctx: Context) -> str:
        return "You glance."


class Dig(Command):
    names = ("dig",)
    required_role = Role.BUILDER

    async def run(self, ctx: Context) -> str:
        return "Dug."


class Smite(Command):
    names = ("smite",)
    required_role = Role.ADMIN

    async def run(self, ctx: Context) -> str:
        return "Smitten."


class FakeGame:
    def __init__(self) -> None:
        self.presence, self.clock = Presence(), FakeClock()
        self.sanctions = SanctionBook(self.presence, self.clock)

    @property
    def mutes(self) -> Any:
        return self.sanctions.mutes


@pytest.fixture
def game() -> FakeGame:
    return FakeGame()


@pytest.fixture
def dispatch(game: FakeGame) -> Dispatcher:
    table = CommandTable()
    table.register(Echo(), Glance(), Dig(), Smite())
    return Dispatcher(table, game)  # type: ignore[arg-type]


def _sanction(game: FakeGame, account_id: Any, kind: SanctionKind, minutes: float) -> None:
    now = game.clock.now()
    ends = now + timedelta(minutes=minutes)
    game.sanctions.record(Sanction(account_id, account_id, kind, "", now, ends))


async def test_a_command_above_the_role_is_refused_by_name(dispatch: Dispatcher) -> None:
    builder = player_named("Bob")
    builder.role = Role.BUILDER
    assert (await dispatch.dispatch(builder, "dig")).text == "Dug."
    refused = await dispatch.dispatch(builder, "smite")
    assert (refused.ok, refused.text) == (False, "Only admins may use 'smite'.")
    player = player_named("Pat")
    refused = await dispatch.dispatch(player, "dig")
    assert refused.text == "Only builders, moderators and admins may use 'dig'."


async def test_prefixes_only_reach_commands_the_role_may_use(dispatch: Dispatcher) -> None:
    player = player_named("Pat")
    assert "Unknown command" in (await dispatch.dispatch(player, "sm")).text
    admin = player_named("Ada")
    admin.role = Role.ADMIN
    assert (await dispatch.dispatch(admin, "sm")).text == "Smitten."


def test_the_old_admin_flag_is_refused_at_registration() -> None:
    class Old(Command):
        names = ("old",)
        admin = True

    with pytest.raises(ValueError, match="required_role"):
        CommandTable().register(Old())


async def test_a_muted_player_cannot_speak_and_is_told_the_time_left(
    game: FakeGame, dispatch: Dispatcher
) -> None:
    speaker = player_named("Sam")
    game.presence.enter(speaker)
    _sanction(game, speaker.account_id, SanctionKind.MUTE, 10)
    game.clock.advance(2)

    refused = await dispatch.dispatch(speaker, "echo hello")

    assert (refused.ok, refused.text) == (
        False,
        "You are muted for another 9m 58s; you cannot speak.",
    )
    assert (await dispatch.dispatch(speaker, "glance")).ok
    game.clock.advance(600)
    assert (await dispatch.dispatch(speaker, "echo hello")).text == "hello"


async def test_a_frozen_player_can_only_use_what_works_while_frozen(
    game: FakeGame, dispatch: Dispatcher
) -> None:
    admin = player_named("Ada")
    admin.role = Role.ADMIN
    game.presence.enter(admin)
    game.sanctions.record(
        Sanction(admin.id, admin.account_id, SanctionKind.FREEZE, "", game.clock.now())
    )
    refused = await dispatch.dispatch(admin, "smite")
    assert refused.text.startswith("You are frozen until it is lifted")
    assert (await dispatch.dispatch(admin, "glance")).ok
    game.sanctions.lift(admin.account_id, SanctionKind.FREEZE)
    assert (await dispatch.dispatch(admin, "smite")).ok
