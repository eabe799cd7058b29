"""Containers a player can use: chests in the room, bags carried, worn or on the floor, corpses;
their lids and locks, what is inside, and how a typed word finds one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from kadath.domain.errors import ContainerLocked, ContainerNotFound, NotAllowed
from kadath.domain.inventory import match_keyword
from kadath.domain.item import Container, ContainerKind, InContainer, InInventory, ItemInstance
from kadath.domain.player import Player
from kadath.domain.world import ItemPrototype, World
from kadath.services import messenger as frames
from kadath.services.messenger import Messenger
from kadath.services.rooms import join_words, summarize
from kadath.services.unit_of_work import UnitOfWork

CorpseGuard = Callable[[Player, Container], None]
_ARTICLES = ("a ", "an ", "the ", "some ")
_FILLER = {"a", "an", "the", "of", "some"}


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def bare(name: str) -> str:
    """A name without its article, for "your leather satchel"."""
    lowered = name.lower()
    for article in _ARTICLES:
        if lowered.startswith(article):
            return name[len(article) :]
    return name


def is_open(container: Container) -> bool:
    """Bags and corpses have no lid; a chest is closed until someone opens it."""
    if container.kind is not ContainerKind.ENVIRONMENT:
        return True
    return not container.locked and container.metadata.get("open") is True


def container_keywords(container: Container) -> tuple[str, ...]:
    stored = container.metadata.get("keywords")
    words = [str(k) for k in stored] if isinstance(stored, list) else []
    words += [w for w in container.name.lower().split() if w not in _FILLER]
    return tuple(words)


def pick_item(world: World, items: Sequence[ItemInstance], word: str) -> ItemInstance | None:
    """The item ``word`` names among ``items`` ("2.coin" is the second coin), or None."""
    candidates = [
        (proto.name, proto.keywords) for proto in (world.items[i.prototype_id] for i in items)
    ]
    index = match_keyword(word, candidates)
    return None if index is None else items[index]


def pick_all(world: World, items: Sequence[ItemInstance], word: str) -> list[ItemInstance]:
    """Every item for "all", or every one a keyword names for "all.coin"."""
    _, dot, keyword = word.partition(".")
    if not dot:
        return list(items)
    return [i for i in items if pick_item(world, [i], keyword) is not None]


def is_all(word: str) -> bool:
    return word.lower() == "all" or word.lower().startswith("all.")


class ContainerService:
    def __init__(
        self,
        world: World,
        uow: Callable[[], UnitOfWork],
        messenger: Messenger,
        corpse_guard: CorpseGuard | None = None,
    ) -> None:
        self._world, self._uow, self._messenger = world, uow, messenger
        self._corpse_guard = corpse_guard

    def prototype(self, item: ItemInstance) -> ItemPrototype:
        return self._world.items[item.prototype_id]

    def is_bag(self, item: ItemInstance) -> bool:
        return self.prototype(item).capacity > 0

    async def find(self, uow: UnitOfWork, player: Player, word: str) -> Container:
        """A container in the room, or a bag carried, worn or on the floor. Raises
        ContainerNotFound."""
        fixed = await uow.containers.get_containers_in_room(player.room_id)
        carried = await uow.items.items_at(InInventory(player.id))
        floor = await uow.items.items_at_floor(player.room_id)
        bags = [i for i in carried + floor if self.is_bag(i)]
        candidates = [(c.name, container_keywords(c)) for c in fixed]
        candidates += [(self.prototype(b).name, self.prototype(b).keywords) for b in bags]
        index = match_keyword(word, candidates)
        if index is None:
            raise ContainerNotFound(f"You see no container called '{word}' here.")
        if index < len(fixed):
            return fixed[index]
        return await self.ensure_bag(uow, bags[index - len(fixed)], player.id)

    async def ensure_bag(self, uow: UnitOfWork, item: ItemInstance, owner: uuid.UUID) -> Container:
        """The container row that lives in a bag item, created the first time it is needed."""
        existing = await uow.containers.get_container_by_item(item.id)
        if existing is not None:
            return existing
        proto = self.prototype(item)
        return await uow.containers.create_container(
            kind=ContainerKind.WEARABLE,
            name=proto.name,
            capacity=proto.capacity,
            item_id=item.id,
            owner_player_id=owner,
            metadata={"keywords": list(proto.keywords), "description": proto.description},
        )

    async def worn_bags(self, uow: UnitOfWork, player: Player) -> list[Container]:
        """The bags the player wears, in the order they were made."""
        carried = await uow.items.items_at(InInventory(player.id))
        worn = [i for i in carried if i.worn_slot is not None and self.is_bag(i)]
        return [await self.ensure_bag(uow, item, player.id) for item in worn]

    async def worn_bags_made(
        self, uow: UnitOfWork, carried: Sequence[ItemInstance]
    ) -> list[Container]:
        """The containers of the worn bags among ``carried``, making none: a read-only unit
        of work may not write (wearing a bag makes its container)."""
        worn = [i for i in carried if i.worn_slot is not None and self.is_bag(i)]
        found = [await uow.containers.get_container_by_item(item.id) for item in worn]
        return [bag for bag in found if bag is not None]

    def check_can_take(self, player: Player, container: Container) -> None:
        """Raises ContainerLocked, NotAllowed (closed, or a corpse still guarded)."""
        self._check_reachable(container)
        if container.kind is ContainerKind.CORPSE and self._corpse_guard is not None:
            self._corpse_guard(player, container)

    def check_can_put(self, container: Container) -> None:
        """Raises ContainerLocked, NotAllowed (closed, or a corpse)."""
        if container.kind is ContainerKind.CORPSE:
            raise NotAllowed("You cannot put things into a corpse.")
        self._check_reachable(container)

    def _check_reachable(self, container: Container) -> None:
        if container.locked:
            raise ContainerLocked(f"{cap(container.name)} is locked.")
        if not is_open(container):
            raise NotAllowed(f"{cap(container.name)} is closed.")

    async def open(self, player: Player, word: str) -> str:
        """Lift a chest's lid. Raises ContainerNotFound, ContainerLocked, NotAllowed."""
        async with self._uow() as uow:
            box = await self._lidded(uow, player, word)
            if box.locked:
                raise ContainerLocked(f"{cap(box.name)} is locked.")
            if is_open(box):
                raise NotAllowed(f"{cap(box.name)} is already open.")
            box = await uow.containers.update_container(
                box.id, metadata={**box.metadata, "open": True}
            )
            inside = await uow.containers.contents(box.id)
        self._tell_room(player, f"{player.name} opens {box.name}.")
        return f"You open {box.name}.\n{self.render_contents(box, inside)}"

    async def close(self, player: Player, word: str) -> str:
        """Shut a chest's lid. Raises ContainerNotFound, NotAllowed."""
        async with self._uow() as uow:
            box = await self._lidded(uow, player, word)
            if not is_open(box):
                raise NotAllowed(f"{cap(box.name)} is already closed.")
            await uow.containers.update_container(box.id, metadata={**box.metadata, "open": False})
        self._tell_room(player, f"{player.name} closes {box.name}.")
        return f"You close {box.name}."

    async def unlock(self, player: Player, word: str) -> str:
        """Unlock a chest with its key, carried. Raises ContainerNotFound, NotAllowed."""
        async with self._uow() as uow:
            box = await self._lidded(uow, player, word)
            if not box.locked:
                raise NotAllowed(f"{cap(box.name)} is not locked.")
            key = await self._key_for(uow, player, box)
            await uow.containers.update_container(box.id, locked=False)
        self._tell_room(player, f"{player.name} unlocks {box.name}.")
        return f"You unlock {box.name} with {key}."

    async def lock(self, player: Player, word: str) -> str:
        """Lock a closed chest with its key, carried. Raises ContainerNotFound, NotAllowed."""
        async with self._uow() as uow:
            box = await self._lidded(uow, player, word)
            if box.locked:
                raise NotAllowed(f"{cap(box.name)} is already locked.")
            if is_open(box):
                raise NotAllowed(f"You must close {box.name} first.")
            key = await self._key_for(uow, player, box)
            await uow.containers.update_container(
                box.id, locked=True, metadata={**box.metadata, "open": False}
            )
        self._tell_room(player, f"{player.name} locks {box.name}.")
        return f"You lock {box.name} with {key}."

    async def look_in(self, player: Player, word: str) -> str:
        """What is inside a container. Raises ContainerNotFound, ContainerLocked, NotAllowed."""
        async with self._uow() as uow:
            box = await self.find(uow, player, word)
            self._check_reachable(box)
            inside = await uow.containers.contents(box.id)
        return self.render_contents(box, inside)

    def describe(self, box: Container, inside: Sequence[ItemInstance]) -> str:
        """A container's description, its lid and lock, and if open what it holds."""
        description = str(box.metadata.get("description") or f"It is {box.name}.")
        lines = [cap(box.name), description]
        if box.kind is ContainerKind.ENVIRONMENT:
            state = "closed and locked" if box.locked else "open" if is_open(box) else "closed"
            lines.append(f"It is {state}.")
        if is_open(box):
            lines.append(self.render_contents(box, inside))
        return "\n".join(lines)

    def render_contents(self, box: Container, inside: Sequence[ItemInstance]) -> str:
        if not inside:
            return f"{cap(box.name)} is empty."
        names = summarize([self.prototype(i).name for i in inside])
        return f"In {box.name} ({len(inside)}/{box.capacity}): {join_words(names)}."

    async def _lidded(self, uow: UnitOfWork, player: Player, word: str) -> Container:
        box = await self.find(uow, player, word)
        if box.kind is not ContainerKind.ENVIRONMENT:
            raise NotAllowed(f"{cap(box.name)} has no lid or lock; it is always open.")
        return box

    async def _key_for(self, uow: UnitOfWork, player: Player, box: Container) -> str:
        """The name of the carried key that fits ``box``. Raises NotAllowed."""
        if box.key_prototype_id is None:
            raise NotAllowed(f"{cap(box.name)} has no keyhole.")
        carried = await uow.items.items_at(InInventory(player.id))
        for bag in await self.worn_bags(uow, player):
            carried += await uow.items.items_at(InContainer(bag.id))
        if any(i.prototype_id == box.key_prototype_id for i in carried):
            return self._world.items[box.key_prototype_id].name
        raise NotAllowed(f"You do not have the key to {box.name}.")

    def _tell_room(self, player: Player, text: str) -> None:
        self._messenger.to_room(player.room_id, frames.message("system", text), exclude=[player.id])
