"""/api/players: an account's characters. Nobody acts on a character they do not own, except
an admin."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from kadath.domain.errors import Conflict
from kadath.domain.player import Player
from kadath.web.dependencies import AccountDep, RuntimeDep
from kadath.web.runtime import Runtime
from kadath.web.schemas import PlayerCreateIn, PlayerOut, error_responses

router = APIRouter(prefix="/api/players", tags=["players"])
_ERRORS = error_responses(400, 401, 403, 404, 409, 422)


async def _out(runtime: Runtime, player: Player) -> PlayerOut:
    online = runtime.game.presence.get(player.id)
    shown = online or player
    room = runtime.game.world.rooms.get(shown.room_id)
    professions = {p.id: p.name for p in await runtime.characters.professions()}
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
        players = await runtime.persistence.list_players(limit=1000)
    else:
        players = await runtime.characters.owned(account)
    return [await _out(runtime, p) for p in players]


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
    return await _out(runtime, player)


@router.get("/{player_id}", response_model=PlayerOut, responses=_ERRORS)
async def get_player(player_id: uuid.UUID, account: AccountDep, runtime: RuntimeDep) -> PlayerOut:
    """One of your characters."""
    return await _out(runtime, await runtime.characters.get(account, player_id))


@router.delete(
    "/{player_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_ERRORS,
)
async def delete_player(player_id: uuid.UUID, account: AccountDep, runtime: RuntimeDep) -> Response:
    """Delete one of your characters, with everything it carries. Not while it is in play."""
    player = await runtime.characters.get(account, player_id)
    if player.id in runtime.game.presence:
        raise Conflict("That character is in the world; quit first.")
    await runtime.characters.delete(account, player_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
