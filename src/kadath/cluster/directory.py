"""``who``, ``whisper`` and ``broadcast`` across the processes of ``kadath serve --cluster``
(the game's ``ChatService.elsewhere``), over NATS core subjects.

``who`` and ``whisper`` are scatter-gather: the asking process publishes on
``kadath.cluster.who`` (or ``kadath.cluster.whisper``) with a reply inbox, every other process
answers with its ``node`` name, and the asker waits until every process holding a zone (the
owners in the lease bucket) has answered (a whisper: or one has found its target), or
``DEADLINE`` has passed: ``who`` then lists what came and says the list may
be partial; a whisper no holder of its target answered in time is "nobody called ...".

``kadath.cluster.who``: ask ``{"from"}``; answer ``{"node", "players": [[id, name, level,
room], …]}``. ``kadath.cluster.whisper``: ask ``{"from", "speaker_id", "speaker", "target",
"text"}``; answer ``{"node", "found", "ok", "text"}`` (the speaker's reply, or the refusal).
``kadath.cluster.broadcast``: ``{"from", "text", "sender"}``, no answer (at most once, as NATS
core delivers: a process cut off from NATS at that moment misses it).
``kadath.cluster.claimed``: ``{"from", "player_id", "claim"}``, no answer, at most once: a
process loaded a character into play under that claim (``WorldEntry.claims``); a process with
an older copy of it in play takes it out of play (its save is refused by the claim in any case,
so a process that misses the notice keeps only a copy in memory until its grace ends).

The speaker's process checks that the speaker may speak (mutes) and cleans the text; the
target's checks its ignores (they are loaded where the target is in play) and delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.kv import KeyValue

from kadath.cluster import leases
from kadath.cluster.leases import NATS_FAILURES, LeaseValue, zone_key
from kadath.domain.errors import NotAllowed
from kadath.domain.player import Player
from kadath.services.chat import ChatService, WhoEntry

log = structlog.get_logger(__name__)
WHO_SUBJECT = "kadath.cluster.who"
WHISPER_SUBJECT = "kadath.cluster.whisper"
BROADCAST_SUBJECT = "kadath.cluster.broadcast"
CLAIMED_SUBJECT = "kadath.cluster.claimed"
DEADLINE = 1.0  # seconds a process has to answer
# How long the holders read from the lease bucket are taken as they were: reading them is a
# JetStream request per zone, and a busy world asks ``who`` many times a second.
HOLDERS_FOR = 1.0


class ClusterDirectory:
    """Answers the other processes' ``who`` and whispers, and asks them (``Elsewhere``)."""

    def __init__(
        self,
        nc: Client,
        node: str,
        chat: ChatService,
        kv: KeyValue,
        zones: Iterable[str],
        claimed_elsewhere: Callable[[uuid.UUID, int], None] = lambda _id, _claim: None,
    ) -> None:
        self._nc, self._node, self._chat, self._kv = nc, node, chat, kv
        self._claimed_elsewhere = claimed_elsewhere
        self._zones = sorted(zones)
        self._subs: list[Subscription] = []
        self._holders_read: tuple[float, set[str]] | None = None  # (when, holders)
        # Answers come to one subscription, ``<inbox>.<ask>``, made once (not one a question:
        # a subscription is a task and two protocol lines in nats-py); each ask's handler.
        self._inbox = ""
        self._asks: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._asked = 0

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._subs = [
            await self._nc.subscribe(f"{self._inbox}.*", cb=self._answered),
            await self._nc.subscribe(WHO_SUBJECT, cb=self._answer_who),
            await self._nc.subscribe(WHISPER_SUBJECT, cb=self._answer_whisper),
            await self._nc.subscribe(BROADCAST_SUBJECT, cb=self._hear_broadcast),
            await self._nc.subscribe(CLAIMED_SUBJECT, cb=self._hear_claimed),
        ]
        await leases.settled(self._nc)  # the server knows them before this process is asked or told

    async def stop(self) -> None:
        subs, self._subs = self._subs, []
        for sub in subs:
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()

    # -- asking --------------------------------------------------------------------------------
    async def who(self) -> tuple[list[WhoEntry], bool]:
        answers, complete = await self._scatter(WHO_SUBJECT, {})
        entries: list[WhoEntry] = []
        for answer in answers:
            try:
                entries += [
                    WhoEntry(uuid.UUID(str(i)), str(n), int(lv), str(r))
                    for i, n, lv, r in answer["players"]
                ]
            except (KeyError, TypeError, ValueError):
                log.warning("who_answer_unreadable", node=answer.get("node"))
                complete = False
        return entries, complete

    async def whisper(self, speaker: Player, target_name: str, text: str) -> str | None:
        request = {
            "speaker_id": str(speaker.id),
            "speaker": speaker.name,
            "target": target_name,
            "text": text,
        }
        answers, complete = await self._scatter(WHISPER_SUBJECT, request, until_found=True)
        if not complete and not any(a.get("found") is True for a in answers):
            # A holder did not answer (a new server's first deliveries can go astray): once more.
            answers, _ = await self._scatter(WHISPER_SUBJECT, request, until_found=True)
        for answer in answers:
            if answer.get("found") is True:
                if answer.get("ok") is True:
                    return str(answer["text"])
                raise NotAllowed(str(answer["text"]))
        return None

    async def broadcast(self, text: str, sender: str) -> None:
        body = json.dumps({"from": self._node, "text": text, "sender": sender}).encode()
        try:
            await self._nc.publish(BROADCAST_SUBJECT, body)
        except NATS_FAILURES as exc:
            log.warning("cluster_broadcast_failed", error=repr(exc))

    async def claimed(self, player_id: uuid.UUID, claim: int) -> None:
        """Tell the other processes this one loaded ``player_id`` into play under ``claim``."""
        body = {"from": self._node, "player_id": str(player_id), "claim": claim}
        try:
            await self._nc.publish(CLAIMED_SUBJECT, json.dumps(body).encode())
        except NATS_FAILURES as exc:
            log.warning("cluster_claimed_failed", error=repr(exc))

    async def _scatter(
        self, subject: str, request: dict[str, Any], *, until_found: bool = False
    ) -> tuple[list[dict[str, Any]], bool]:
        """The other processes' answers to ``request``, and whether every process holding a
        zone answered (or, ``until_found``, one answered ``found``) before ``DEADLINE``."""
        answers: dict[str, dict[str, Any]] = {}
        done = asyncio.Event()
        expected: set[str] | None = None

        def settled() -> bool:
            if until_found and any(a.get("found") is True for a in answers.values()):
                return True
            return expected is not None and expected <= answers.keys()

        def heard(answer: dict[str, Any]) -> None:
            try:
                node = str(answer["node"])
            except (KeyError, TypeError):
                return
            answers[node] = answer
            if settled():
                done.set()

        self._asked += 1
        ask = str(self._asked)
        inbox = f"{self._inbox}.{ask}"
        self._asks[ask] = heard
        try:
            body = json.dumps({**request, "from": self._node}).encode()
            await self._nc.publish(subject, body, reply=inbox)
            expected = await self._holders() - {self._node}
            if settled():
                done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), DEADLINE)
        except NATS_FAILURES as exc:
            log.warning("cluster_ask_failed", subject=subject, error=repr(exc))
        finally:
            self._asks.pop(ask, None)
        complete = expected is not None and expected <= answers.keys()
        if not complete:
            log.info("cluster_ask_partial", subject=subject, answered=sorted(answers))
        return list(answers.values()), complete

    async def _answered(self, msg: Msg) -> None:
        """An answer to one of this process's asks (``_scatter``)."""
        heard = self._asks.get(msg.subject.rpartition(".")[2])
        if heard is None:
            return  # came after its deadline
        try:
            answer = json.loads(msg.data)
        except ValueError:
            return
        if isinstance(answer, dict):
            heard(answer)

    async def _holders(self) -> set[str]:
        """The processes holding a zone now (those who may have characters in play), as read
        from the lease bucket at most ``HOLDERS_FOR`` ago. A process that took its first zone
        since may be missed by a ``who`` for that long (its answer still counts if it comes
        in time); one that stopped is waited for (``DEADLINE``) as it is until its lease
        lapses."""
        now = time.monotonic()
        read = self._holders_read
        if read is not None and now - read[0] < HOLDERS_FOR:
            return read[1]
        holders = await self._read_holders()
        self._holders_read = (now, holders)
        return holders

    async def _read_holders(self) -> set[str]:

        async def owner(zone: str) -> str | None:
            with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                entry = await self._kv.get(zone_key(zone))
                value = LeaseValue.decode(entry.value)
                return value.owner if value else None
            return None

        owners = await asyncio.gather(*(owner(zone) for zone in self._zones))
        return {o for o in owners if o is not None}

    # -- answering -----------------------------------------------------------------------------
    async def _answer_who(self, msg: Msg) -> None:
        if self._asked_by_me(msg) is None:
            return
        players = [[str(p.id), p.name, p.level, p.room_id] for p in self._chat.who()]
        await self._respond(msg, {"players": players})

    async def _answer_whisper(self, msg: Msg) -> None:
        request = self._asked_by_me(msg)
        if request is None:
            return
        try:
            speaker_id = uuid.UUID(str(request["speaker_id"]))
            speaker, target, text = (str(request[k]) for k in ("speaker", "target", "text"))
        except (KeyError, ValueError):
            log.warning("whisper_request_unreadable")
            return
        answer: dict[str, Any]
        try:
            reply = self._chat.whisper_from(speaker_id, speaker, target, text)
            answer = {"found": reply is not None, "ok": True, "text": reply}
        except NotAllowed as exc:
            answer = {"found": True, "ok": False, "text": str(exc)}
        await self._respond(msg, answer)

    async def _hear_broadcast(self, msg: Msg) -> None:
        try:
            request = json.loads(msg.data)
            origin, text, sender = (str(request[k]) for k in ("from", "text", "sender"))
        except (ValueError, KeyError, TypeError):
            log.warning("broadcast_unreadable")
            return
        if origin != self._node:
            self._chat.broadcast_from(text, sender)

    async def _hear_claimed(self, msg: Msg) -> None:
        try:
            request = json.loads(msg.data)
            origin = str(request["from"])
            player_id, claim = uuid.UUID(str(request["player_id"])), int(request["claim"])
        except (ValueError, KeyError, TypeError):
            log.warning("claimed_unreadable")
            return
        if origin != self._node:
            self._claimed_elsewhere(player_id, claim)

    def _asked_by_me(self, msg: Msg) -> dict[str, Any] | None:
        """The request, unless it is unreadable or this process's own."""
        try:
            request = json.loads(msg.data)
        except ValueError:
            return None
        if not isinstance(request, dict) or request.get("from") == self._node or not msg.reply:
            return None
        return request

    async def _respond(self, msg: Msg, answer: dict[str, Any]) -> None:
        with contextlib.suppress(*NATS_FAILURES):
            await msg.respond(json.dumps({**answer, "node": self._node}).encode())
