"""What a character carries and wears: getting, dropping, putting, wearing, and examining things.

Hands hold ``BASE_CARRY_SLOTS`` items (worn things do not count); a worn bag holds its own.
Every item moves in its own unit of work through ``transfer_item``'s compare-and-set, so in
``get all`` an item someone else grabbed first is skipped and the others still move."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from kadath.domain.errors import (
    ContainerFull,
    DomainError,
    InfrastructureError,
    ItemMoved,
    ItemNotFound,
    NotAllowed,
)
from kadath.domain.inventory import BASE_CARRY_SLOTS, match_keyword
from kadath.domain.item import (
    Container,
    InContainer,
    InInventory,
    ItemInstance,
    OnFloor,
)
from kadath.domain.player import Player
from kadath.domain.world import ItemPrototype, World
from kadath.services import messenger as frames
from kadath.services.containers import (
    ContainerService,
    bare,
    cap,
    container_keywords,
    is_all,
    pick_all,
    pick_item,
)
from kadath.services.messenger import Messenger
from kadath.services.rooms import join_words, summarize
from kadath.services.unit_of_work import UnitOfWork

Source = OnFloor | InContainer
Moved = list[tuple[ItemInstance, Container | None]]
# Items moved before an outage are committed: the reply says so, and that the rest stay put.
CUT_SHORT = "The world wavers; the rest stays where it is for now."


class InventoryService:
    def __init__(
        self,
        world: World,
        uow: Callable[[], UnitOfWork],
        messenger: Messenger,
        containers: ContainerService,
        *,
        reading: Callable[[], UnitOfWork],
    ) -> None:
        self._world, self._uow, self._messenger = world, uow, messenger
        self._reading = reading  # for looking, which never writes
        self._containers = containers
        # Told the player's id whenever worn or wielded gear changes (combat caches gear).
        self.gear_listeners: list[Callable[[uuid.UUID], None]] = []

    def _gear_changed(self, player: Player) -> None:
        for listener in self.gear_listeners:
            listener(player.id)

    # -- looking -------------------------------------------------------------------------

    async def inventory(self, player: Player) -> str:
        """What the player holds, wears, and carries in worn bags."""
        async with self._reading() as uow:
            carried = await uow.items.items_at(InInventory(player.id))
            bags = [
                (bag, await uow.containers.contents(bag.id))
                for bag in await self._containers.worn_bags_made(uow, carried)
            ]
        hands = [i for i in carried if i.worn_slot is None]
        slots = f"{len(hands)}/{BASE_CARRY_SLOTS} slots"
        lines = [
            f"You are carrying ({slots}):" if hands else f"You are carrying nothing ({slots})."
        ]
        lines += [f"  {name}" for name in summarize(self._names(hands))]
        worn = [i for i in carried if i.worn_slot is not None]
        lines.append("You are wearing:" if worn else "You are wearing nothing.")
        lines += [f"  <{i.worn_slot}>".ljust(12) + self._name(i) for i in worn]
        for bag, inside in bags:
            things = join_words(summarize(self._names(inside))) or "nothing"
            lines.append(f"In your {bare(bag.name)} ({len(inside)}/{bag.capacity}): {things}.")
        return "\n".join(lines)

    async def examine(self, player: Player, word: str) -> str:
        """Describe something carried, worn, on the floor or a container here; "in <x>" lists
        what a container holds. Raises NotFound, NotAllowed, ContainerLocked."""
        word = word.strip()
        if word.lower().startswith("in "):
            return await self._containers.look_in(player, word[3:].strip())
        async with self._reading() as uow:
            carried = _hands_first(await uow.items.items_at(InInventory(player.id)))
            floor = await uow.items.items_at_floor(player.room_id)
            fixed = await uow.containers.get_containers_in_room(player.room_id)
            candidates = [self._keys(i) for i in carried]
            candidates += [(c.name, container_keywords(c)) for c in fixed]
            candidates += [self._keys(i) for i in floor]
            index = match_keyword(word, candidates)
            if index is None:
                raise ItemNotFound(f"You see no '{word}' here.")
            if len(carried) <= index < len(carried) + len(fixed):
                box = fixed[index - len(carried)]
                return self._containers.describe(box, await uow.containers.contents(box.id))
            item = (carried + floor)[index if index < len(carried) else index - len(fixed)]
            bag = await uow.containers.get_container_by_item(item.id)
            inside = await uow.containers.contents(bag.id) if bag is not None else []
        return self._describe_item(item, bag, inside)

    # -- getting -------------------------------------------------------------------------

    async def get(self, player: Player, word: str, target: str | None = None) -> str:
        """Pick up an item, or "all"/"all.<kw>", from the floor or from ``target``; into the
        hands, or a worn bag when the hands are full. Raises NotFound, ItemMoved,
        ContainerFull, ContainerLocked, NotAllowed."""
        async with self._uow() as uow:
            box = None
            if target is not None:
                box = await self._containers.find(uow, player, target)
                self._containers.check_can_take(player, box)
            source: Source = OnFloor(player.room_id) if box is None else InContainer(box.id)
            present = [i for i in await uow.items.items_at(source) if i.worn_slot is None]
        where = "here" if box is None else f"in {box.name}"
        if is_all(word):
            chosen = pick_all(self._world, present, word)
            if not chosen:
                raise ItemNotFound(f"There is nothing {where} to take.")
            moved, refusal = await self._take_each(player, chosen, source, box)
        else:
            item = pick_item(self._world, present, word)
            if item is None:
                raise ItemNotFound(f"You see no '{word}' {where}.")
            moved, refusal = [(item, await self._take_one(player, item, source, box))], None
        return self._report_taken(player, box, moved, refusal)

    async def _take_each(
        self, player: Player, items: Sequence[ItemInstance], source: Source, box: Container | None
    ) -> tuple[Moved, DomainError | None]:
        moved: Moved = []
        for item in items:
            try:
                moved.append((item, await self._take_one(player, item, source, box)))
            except (ItemMoved, ItemNotFound):
                continue  # someone was quicker; the rest may still be there
            except DomainError as exc:
                return moved, exc
            except InfrastructureError:
                if not moved:
                    raise
                return moved, DomainError(CUT_SHORT)
        return moved, None

    async def _take_one(
        self, player: Player, item: ItemInstance, source: Source, box: Container | None
    ) -> Container | None:
        """Move one item to the hands or a worn bag; returns the bag used, if any."""
        async with self._uow() as uow:
            if box is not None:
                self._containers.check_can_take(player, await uow.containers.get_container(box.id))
            carried = await uow.items.items_at(InInventory(player.id))
            capacity = BASE_CARRY_SLOTS + sum(1 for i in carried if i.worn_slot is not None)
            bag = None
            if len(carried) >= capacity:
                bag = await self._bag_with_room(uow, player, box)
            destination = InInventory(player.id) if bag is None else InContainer(bag.id)
            try:
                await uow.containers.transfer_item(
                    item.id, source, destination, actor_id=player.id, carry_capacity=capacity
                )
            except ItemMoved as exc:
                raise ItemMoved(f"{cap(self._name(item))} is no longer there.") from exc
        return bag

    async def _bag_with_room(
        self, uow: UnitOfWork, player: Player, source: Container | None
    ) -> Container:
        bags = await self._containers.worn_bags(uow, player)
        bags = [b for b in bags if source is None or b.id != source.id]
        for bag in bags:
            if len(await uow.containers.contents(bag.id)) < bag.capacity:
                return bag
        if not bags:
            raise ContainerFull("Your hands are full.")
        full = join_words([f"your {bare(b.name)}" for b in bags])
        verb = "is" if len(bags) == 1 else "are"
        raise ContainerFull(f"Your hands are full, and so {verb} {full}.")

    def _report_taken(
        self, player: Player, box: Container | None, moved: Moved, refusal: DomainError | None
    ) -> str:
        if not moved:
            raise refusal or ItemMoved("Someone was quicker; there is nothing left to take.")
        held = self._names([i for i, bag in moved if bag is None])
        names = join_words(summarize(self._names([i for i, _ in moved])))
        lines = []
        if box is None:
            self._tell_room(player, f"{player.name} picks up {names}.")
            if held:
                lines.append(f"You pick up {join_words(summarize(held))}.")
        else:
            self._tell_room(player, f"{player.name} takes {names} from {box.name}.")
            if held:
                lines.append(f"You take {join_words(summarize(held))} from {box.name}.")
        for bag in {b.id: b for _, b in moved if b is not None}.values():
            stashed = self._names([i for i, b in moved if b is not None and b.id == bag.id])
            lines.append(f"You put {join_words(summarize(stashed))} in your {bare(bag.name)}.")
        if refusal is not None:
            lines.append(str(refusal))
        return "\n".join(lines)

    # -- dropping and putting ------------------------------------------------------------

    async def drop(self, player: Player, word: str) -> str:
        """Drop an item (a worn one is taken off first), or "all"/"all.<kw>" of what the hands
        hold. Raises NotFound, ItemMoved."""
        async with self._reading() as uow:
            carried = _hands_first(await uow.items.items_at(InInventory(player.id)))
        chosen = self._choose(carried, word, "drop")
        floor = OnFloor(player.room_id)
        moved, refusal = await self._move_each(player, chosen, floor, _no_check)
        names = join_words(summarize(self._names(moved)))
        self._tell_room(player, f"{player.name} drops {names}.")
        verb = "drop"
        if any(i.worn_slot for i in moved):
            verb = "take off and drop"
            self._gear_changed(player)
        return _with_refusal(f"You {verb} {names}.", refusal)

    async def put(self, player: Player, word: str, target: str) -> str:
        """Put an item, or "all"/"all.<kw>", from the hands into a container.
        Raises NotFound, ContainerFull, ContainerLocked, NotAllowed, ItemMoved."""
        async with self._uow() as uow:
            box = await self._containers.find(uow, player, target)
            self._containers.check_can_put(box)
            carried = await uow.items.items_at(InInventory(player.id))
        hands = [i for i in carried if i.worn_slot is None and i.id != box.item_id]
        chosen = self._choose(hands, word, "put away")
        label = f"your {bare(box.name)}" if any(i.id == box.item_id for i in carried) else box.name

        async def still_open(uow: UnitOfWork) -> None:
            self._containers.check_can_put(await uow.containers.get_container(box.id))

        moved, refusal = await self._move_each(player, chosen, InContainer(box.id), still_open)
        names = join_words(summarize(self._names(moved)))
        self._tell_room(player, f"{player.name} puts {names} in {box.name}.")
        return _with_refusal(f"You put {names} in {label}.", refusal)

    def _choose(self, items: Sequence[ItemInstance], word: str, verb: str) -> list[ItemInstance]:
        if is_all(word):
            chosen = pick_all(self._world, [i for i in items if i.worn_slot is None], word)
            if not chosen:
                raise ItemNotFound(f"You have nothing to {verb}.")
            return chosen
        item = pick_item(self._world, items, word)
        if item is None:
            raise ItemNotFound(f"You are not carrying '{word}'.")
        return [item]

    async def _move_each(
        self,
        player: Player,
        items: Sequence[ItemInstance],
        destination: OnFloor | InContainer,
        check: Callable[[UnitOfWork], Awaitable[None]],
    ) -> tuple[list[ItemInstance], DomainError | None]:
        """Move carried items one unit of work each; stops at the first refusal, which is
        raised when nothing moved."""
        moved: list[ItemInstance] = []
        for item in items:
            try:
                async with self._uow() as uow:
                    await check(uow)
                    await uow.containers.transfer_item(
                        item.id, InInventory(player.id), destination, actor_id=player.id
                    )
            except (ItemMoved, ItemNotFound):
                continue  # already gone (another command of the same player)
            except DomainError as exc:
                if not moved:
                    raise
                return moved, exc
            except InfrastructureError:
                if not moved:
                    raise
                return moved, DomainError(CUT_SHORT)
            moved.append(item)
        if not moved:
            raise ItemMoved("You no longer have that.")
        return moved, None

    # -- wearing ---------------------------------------------------------------------------

    async def wear(self, player: Player, word: str) -> str:
        """Wear (or wield) a carried item in its slot. Raises NotFound, NotAllowed."""
        return await self._don(player, word, lambda p: p.slot is not None, "wear")

    async def wield(self, player: Player, word: str) -> str:
        """Take a weapon in hand. Raises NotFound, NotAllowed."""
        return await self._don(player, word, lambda p: p.slot == "wield", "wield")

    async def _don(
        self, player: Player, word: str, fits: Callable[[ItemPrototype], bool], verb: str
    ) -> str:
        async with self._uow() as uow:
            carried = await uow.items.items_at(InInventory(player.id))
            item = pick_item(self._world, [i for i in carried if i.worn_slot is None], word)
            if item is None:
                raise ItemNotFound(f"You are not holding '{word}'.")
            proto = self._world.items[item.prototype_id]
            if proto.slot is None or not fits(proto):
                raise NotAllowed(f"You cannot {verb} {proto.name}.")
            for other in carried:
                if other.worn_slot == proto.slot:
                    raise NotAllowed(f"You are already {_wearing(proto.slot, self._name(other))}.")
            await uow.items.set_worn(item.id, player.id, proto.slot)
            if proto.capacity > 0:
                await self._containers.ensure_bag(uow, item, player.id)
        self._gear_changed(player)
        if proto.slot == "wield":
            self._tell_room(player, f"{player.name} wields {proto.name}.")
            return f"You wield {proto.name}."
        self._tell_room(player, f"{player.name} puts on {proto.name}.")
        return f"You wear {proto.name} on your {proto.slot}."

    async def remove(self, player: Player, word: str) -> str:
        """Take off a worn item into the hands. Raises NotFound, ContainerFull."""
        async with self._uow() as uow:
            carried = await uow.items.items_at(InInventory(player.id))
            item = pick_item(self._world, [i for i in carried if i.worn_slot is not None], word)
            if item is None:
                raise ItemNotFound(f"You are not wearing '{word}'.")
            if sum(1 for i in carried if i.worn_slot is None) >= BASE_CARRY_SLOTS:
                raise ContainerFull("Your hands are full; put something down first.")
            await uow.items.set_worn(item.id, player.id, None)
        self._gear_changed(player)
        name = self._name(item)
        self._tell_room(player, f"{player.name} takes off {name}.")
        return f"You take off {name}."

    # -- rendering -------------------------------------------------------------------------

    def _describe_item(
        self, item: ItemInstance, bag: Container | None, inside: Sequence[ItemInstance]
    ) -> str:
        proto = self._world.items[item.prototype_id]
        lines = [cap(proto.name), proto.description]
        if item.worn_slot is not None:
            lines.append(f"You are {_wearing(item.worn_slot, 'it')}.")
        if proto.capacity > 0:
            lines.append(
                self._containers.render_contents(bag, inside)
                if bag is not None
                else f"It is empty (it holds {proto.capacity})."
            )
        return "\n".join(lines)

    def _keys(self, item: ItemInstance) -> tuple[str, tuple[str, ...]]:
        proto = self._world.items[item.prototype_id]
        return proto.name, proto.keywords

    def _name(self, item: ItemInstance) -> str:
        return self._world.items[item.prototype_id].name

    def _names(self, items: Sequence[ItemInstance]) -> list[str]:
        return [self._name(i) for i in items]

    def _tell_room(self, player: Player, text: str) -> None:
        self._messenger.to_room(player.room_id, frames.message("system", text), exclude=[player.id])


def _hands_first(items: Sequence[ItemInstance]) -> list[ItemInstance]:
    """Held items before worn ones, so "drop coat" means the spare coat, not the one worn."""
    return sorted(items, key=lambda i: i.worn_slot is not None)


def _wearing(slot: str, name: str) -> str:
    return f"wielding {name}" if slot == "wield" else f"wearing {name} on your {slot}"


def _with_refusal(text: str, refusal: DomainError | None) -> str:
    return text if refusal is None else f"{text}\n{refusal}"


async def _no_check(_uow: UnitOfWork) -> None:
    return None
