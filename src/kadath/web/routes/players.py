"""/api/players: an account's characters. Nobody acts on a character they do not own, except
an admin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from kadath.domain.player import Player
from kadath.web.dependencies import AccountDep, RuntimeDep
from kadath.web.routes import Routes
from kadath.web.runtime import Runtime
from kadath.web.schemas import PlayerCreateIn, PlayerOut, error_responses

router = Routes(prefix="/api/players", tags=["players"])
_ERRORS = error_responses(400, 401, 403, 404, 409, 422)


def _out(runtime: Runtime, player: Player, professions: dict[int, str]) -> PlayerOut:
    online = runtime.game.presence.get(player.id)
    shown = online or player
    room = runtime.game.world.rooms.get(shown.room_id)
    return PlayerOut.of(
        shown,
        profession=professions.get(shown.profession_id),
        room_name=room.name if room else None,
        online=online is not None,
    )


@router.get("", response_model=list[PlayerOut], responses=_ERRORS)
async def list_players(
    account: AccountDep,
    runtime: RuntimeDep,
    all_accounts: Annotated[
        bool, Query(alias="all", description="Admins: every account's characters")
    ] = False,
) -> list[PlayerOut]:
    """Your characters (admins may ask for everyone's with ``?all=true``)."""
    if all_accounts and account.is_admin:
        roster = await runtime.characters.everyone(limit=1000)
    else:
        roster = await runtime.characters.roster(account)
    return [_out(runtime, p, roster.professions) for p in roster.players]


async def _profession_names(runtime: Runtime) -> dict[int, str]:
    return {p.id: p.name for p in await runtime.characters.professions()}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlayerOut, responses=_ERRORS)
async def create_player(
    body: PlayerCreateIn, account: AccountDep, runtime: RuntimeDep
) -> PlayerOut:
    """Create a character: pick a profession, and roll stats (``3d6``, ``4d6`` drop lowest)
    or buy them (``point_buy`` with ``stats``: each 8–15, 27 points)."""
    bought = body.stats.model_dump() if body.stats else None
    player = await runtime.characters.create(
        account, body.name, body.profession_id, body.stats_method, bought
    )
    return _out(runtime, player, await _profession_names(runtime))


@router.get("/{player_id}", response_model=PlayerOut, responses=_ERRORS)
async def get_player(player_id: uuid.UUID, account: AccountDep, runtime: RuntimeDep) -> PlayerOut:
    """One of your characters."""
    player = await runtime.characters.get(account, player_id)
    return _out(runtime, player, await _profession_names(runtime))


@router.delete(
    "/{player_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_ERRORS,
)
async def delete_player(player_id: uuid.UUID, account: AccountDep, runtime: RuntimeDep) -> Response:
    """Delete one of your characters (not while it is in play: quit first). What it carried,
    worn bags and their contents too, is left on the floor where it last stood."""
    await runtime.characters.delete(account, player_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
