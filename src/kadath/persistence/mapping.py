"""Mapping between table rows and domain objects."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kadath.domain.account import Account, Profession, Role
from kadath.domain.item import (
    Container,
    ContainerKind,
    InContainer,
    InInventory,
    ItemInstance,
    Location,
    OnFloor,
)
from kadath.domain.player import Player, name_key
from kadath.domain.stats import STAT_NAMES, Stats
from kadath.persistence.models import (
    AccountRow,
    ContainerRow,
    ItemRow,
    PlayerRow,
    ProfessionRow,
    utcnow,
)


def player_from_row(row: PlayerRow) -> Player:
    return Player(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        room_id=row.room_id,
        respawn_room_id=row.respawn_room_id,
        stats=Stats(**{s: getattr(row, s) for s in STAT_NAMES}),
        health=row.health,
        max_health=row.max_health,
        profession_id=row.profession_id,
        lucidity=row.lucidity,
        experience=row.experience,
        level=row.level,
        role=Role(row.role) if row.role else Role.PLAYER,
        created_at=row.created_at,
        last_active_at=row.last_active_at,
        extra=dict(row.extra or {}),
    )


def player_values(player: Player) -> dict[str, Any]:
    """Column values for an insert or update of ``player``."""
    values: dict[str, Any] = {
        "id": player.id,
        "account_id": player.account_id,
        "name": player.name,
        "name_key": name_key(player.name),
        "room_id": player.room_id,
        "respawn_room_id": player.respawn_room_id,
        "health": player.health,
        "max_health": player.max_health,
        "lucidity": player.lucidity,
        "experience": player.experience,
        "level": player.level,
        "profession_id": player.profession_id,
        "extra": player.extra,
    }
    values.update(player.stats.as_dict())
    # Every row of an executemany needs the same keys, so new players get "now" here.
    now = utcnow()
    values["created_at"] = player.created_at or now
    values["last_active_at"] = player.last_active_at or now
    return values


def account_from_row(row: AccountRow) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        role=Role(row.role),
        created_at=row.created_at,
    )


def profession_from_row(row: ProfessionRow) -> Profession:
    return Profession(
        id=row.id,
        name=row.name,
        description=row.description,
        requirements=dict(row.requirements or {}),
    )


def location_of(row: ItemRow) -> Location:
    if row.owner_player_id is not None:
        return InInventory(row.owner_player_id)
    if row.container_id is not None:
        return InContainer(row.container_id)
    assert row.room_id is not None, "one_location constraint guarantees a place"
    return OnFloor(row.room_id)


def location_values(location: Location) -> dict[str, Any]:
    """The three location columns for ``location``: exactly one is set."""
    values: dict[str, Any] = {"owner_player_id": None, "container_id": None, "room_id": None}
    match location:
        case InInventory(player_id):
            values["owner_player_id"] = player_id
        case InContainer(container_id):
            values["container_id"] = container_id
        case OnFloor(room_id):
            values["room_id"] = room_id
    return values


def item_from_row(row: ItemRow) -> ItemInstance:
    return ItemInstance(
        id=row.id,
        prototype_id=row.prototype_id,
        location=location_of(row),
        worn_slot=row.worn_slot,
        created_at=row.created_at,
    )


def container_from_row(row: ContainerRow) -> Container:
    return Container(
        id=row.id,
        kind=ContainerKind(row.kind),
        name=row.name,
        capacity=row.capacity,
        room_id=row.room_id,
        owner_player_id=row.owner_player_id,
        item_id=row.item_id,
        world_key=row.world_key,
        locked=row.locked,
        key_prototype_id=row.key_prototype_id,
        decays_at=row.decays_at,
        created_at=row.created_at,
        metadata=dict(row.meta or {}),
    )


def location_filter(location: Location) -> sa.ColumnElement[bool]:
    """A WHERE clause matching the items at ``location``."""
    match location:
        case InInventory(player_id):
            return ItemRow.owner_player_id == player_id
        case InContainer(container_id):
            return ItemRow.container_id == container_id
        case OnFloor(room_id):
            return ItemRow.room_id == room_id
