"""NPC speech: keyword answers, greetings once in a while, emotes only before an audience."""

from __future__ import annotations

from npc_fakes import clock_of, make_game, make_player, messenger_of, room_texts

from kadath.domain.events import PlayerEnteredRoom, PlayerSpoke
from kadath.domain.npc import NpcState
from kadath.domain.rng import FixedRng
from kadath.npc.dialogue import EMOTE_MIN_GAP, GREET_COOLDOWN, NpcDialogue
from kadath.npc.install import install_npcs
from kadath.npc.spawner import NpcSpawner
from kadath.npc.territory import Territory
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop


def spawner_for(game: Game) -> NpcSpawner:
    return NpcSpawner(game, Territory(game.world))


def npc_lines(game: Game) -> list[str]:
    return [str(f["text"]) for _, _, f in messenger_of(game).sent if f.get("channel") == "npc"]


async def hear(
    game: Game, dialogue: NpcDialogue, text: str, room: str = "town.street"
) -> list[str]:
    messenger_of(game).sent.clear()
    await dialogue.on_player_spoke(PlayerSpoke(make_player(room).id, room, text))
    await dialogue.flush_step(0.0)
    return npc_lines(game)


async def test_a_keyword_said_in_the_room_is_answered_after_the_speakers_echo() -> None:
    game = make_game()
    loop = GameLoop()
    install_npcs(game, loop, spawning=False)
    spawner_for(game).spawn("librarian", "town.street")
    carter = make_player("town.street")
    game.presence.enter(carter)

    echo = await game.chat.say(carter, "What do you know of the Necronomicon?")
    assert echo.startswith("You say")
    assert npc_lines(game) == []

    await loop.tick(clock_of(game).monotonic())

    assert 'Dr. Armitage says, "A dreadful book."' in room_texts(game, "town.street")
    senders = [f["from"] for _, _, f in messenger_of(game).sent if f.get("channel") == "npc"]
    assert senders == ["Dr. Armitage"]


async def test_speech_without_a_keyword_gets_no_answer() -> None:
    game = make_game()
    dialogue = NpcDialogue(game)
    spawner_for(game).spawn("librarian", "town.street")

    assert await hear(game, dialogue, "Nice weather for it.") == []


async def test_a_keyword_of_two_words_is_heard() -> None:
    game = make_game()
    dialogue = NpcDialogue(game)
    spawner_for(game).spawn("librarian", "town.street")

    assert await hear(game, dialogue, "I seek the silver key.") == [
        'Dr. Armitage says, "Lost, alas."'
    ]


async def test_only_the_npc_addressed_by_name_answers() -> None:
    game = make_game()
    dialogue = NpcDialogue(game)
    spawner_for(game).spawn("librarian", "town.street")
    spawner_for(game).spawn("clerk", "town.street")

    assert sorted(await hear(game, dialogue, "necronomicon?")) == [
        'A clerk says, "Not for sale."',
        'Dr. Armitage says, "A dreadful book."',
    ]
    assert await hear(game, dialogue, "Clerk, any necronomicons?") == [
        'A clerk says, "Not for sale."'
    ]


async def test_npcs_elsewhere_or_fighting_do_not_answer() -> None:
    game = make_game()
    dialogue = NpcDialogue(game)
    spawner_for(game).spawn("librarian", "town.alley")
    busy = spawner_for(game).spawn("clerk", "town.street")
    busy.state = NpcState.FIGHTING

    assert await hear(game, dialogue, "necronomicon") == []


async def test_an_arrival_is_greeted_once_per_cooldown() -> None:
    game = make_game()
    dialogue = NpcDialogue(game)
    spawner_for(game).spawn("librarian", "town.street")
    spawner_for(game).spawn("ghoul", "town.street")
    carter = make_player("town.street")
    arrival = PlayerEnteredRoom(carter.id, "town.street", "town.square")

    def greetings() -> list[object]:
        return [who for kind, who, _ in messenger_of(game).sent if kind == "player"]

    await dialogue.on_player_entered(arrival)
    await dialogue.flush_step(0.0)
    assert greetings() == [carter.id]
    assert messenger_of(game).texts_for("player") == ['Dr. Armitage says, "Keep your voice down."']

    clock_of(game).advance(GREET_COOLDOWN - 1)
    await dialogue.on_player_entered(arrival)
    await dialogue.flush_step(0.0)
    assert len(greetings()) == 1

    clock_of(game).advance(1)
    await dialogue.emote_step(0.0)  # also forgets stale greetings
    await dialogue.on_player_entered(arrival)
    await dialogue.flush_step(0.0)
    assert len(greetings()) == 2


async def test_npcs_emote_only_before_an_audience_and_not_too_often() -> None:
    game = make_game(rng=FixedRng(floats=[0.0, 0.0], choices=[0, 0]))
    dialogue = NpcDialogue(game)
    librarian = spawner_for(game).spawn("librarian", "town.street")
    clock = clock_of(game)
    clock.advance(EMOTE_MIN_GAP)

    await dialogue.emote_step(0.0)
    assert npc_lines(game) == []  # nobody to see it, and no roll spent

    game.presence.enter(make_player("town.street"))
    await dialogue.emote_step(0.0)
    assert npc_lines(game) == ["Dr. Armitage polishes his pince-nez."]
    assert librarian.last_emote == clock.monotonic()

    clock.advance(EMOTE_MIN_GAP - 1)
    await dialogue.emote_step(0.0)
    assert len(npc_lines(game)) == 1

    clock.advance(1)
    await dialogue.emote_step(0.0)
    assert len(npc_lines(game)) == 2


async def test_an_unlucky_roll_means_no_emote() -> None:
    game = make_game(rng=FixedRng(floats=[0.99]))
    dialogue = NpcDialogue(game)
    spawner_for(game).spawn("librarian", "town.street")
    game.presence.enter(make_player("town.street"))
    clock_of(game).advance(EMOTE_MIN_GAP)

    await dialogue.emote_step(0.0)

    assert npc_lines(game) == []
