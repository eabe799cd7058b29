"""Signing in over telnet: account name and password (or a new account), then a character to
play (or a new one). The same services, rules and rate limits as the REST API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from kadath.domain.account import Account
from kadath.domain.errors import DomainError, NotFound
from kadath.domain.player import Player
from kadath.domain.stats import (
    POINT_BUY_BUDGET,
    POINT_BUY_MAX,
    POINT_BUY_MIN,
    STAT_NAMES,
    StatsMethod,
)
from kadath.services.auth import AuthService
from kadath.services.characters import CharacterService
from kadath.telnet.terminal_io import TerminalIO

ATTEMPTS = 3
BANNER = (
    "",
    "Kadath",
    "Beyond the fog lies a city of dreams, and it is dreaming of you.",
    "",
)
_METHODS = {
    "3d6": StatsMethod.THREE_D6,
    "4d6": StatsMethod.FOUR_D6_DROP_LOWEST,
    "point buy": StatsMethod.POINT_BUY,
    "point_buy": StatsMethod.POINT_BUY,
}


class Goodbye(Exception):
    """The sign-in ends without a character; the message is the last thing shown."""


@dataclass(frozen=True)
class SignedIn:
    token: str
    character: str


class SignIn:
    def __init__(self, io: TerminalIO, auth: AuthService, characters: CharacterService) -> None:
        self._io, self._auth, self._characters = io, auth, characters

    async def run(self) -> SignedIn:
        """Raises Goodbye, TransportClosed (from the realtime layer), KadathError (the world
        is unavailable)."""
        await self._io.write_lines(BANNER)
        token = await self._log_in()
        account = await self._auth.authenticate(token)
        player = await self._choose(account)
        return SignedIn(token, player.name)

    # -- account -----------------------------------------------------------------------------
    async def _log_in(self) -> str:
        for _ in range(ATTEMPTS):
            try:
                name = await self._ask("Account name (or 'new' to create one):")
                if name.lower() == "new":
                    name, password = await self._register()
                else:
                    password = await self._secret("Password:")
                return await self._auth.login(name, password, self._io.ip)
            except DomainError as exc:
                await self._say(str(exc))
        raise Goodbye("Too many attempts; goodbye.")

    async def _register(self) -> tuple[str, str]:
        invite = None
        if self._auth.registration == "invite":
            invite = await self._ask("This world is by invitation. Invite code:")
        name = await self._ask("Choose an account name:")
        password = await self._secret("Choose a password:")
        if await self._secret("Type the password again:") != password:
            raise _Mismatch("The passwords differ.")
        account = await self._auth.register(name, password, invite or None, self._io.ip)
        await self._say(f"Account {account.username} created.")
        return name, password

    # -- character ---------------------------------------------------------------------------
    async def _choose(self, account: Account) -> Player:
        for _ in range(ATTEMPTS * 2):
            owned = await self._characters.owned(account)
            if owned:
                await self._say("Your characters:")
                await self._io.write_lines(
                    f"  {n}. {p.name}, level {p.level}" for n, p in enumerate(owned, 1)
                )
                choice = await self._ask("Type a number or a name to play, or 'new':")
            else:
                await self._say("You have no character yet; let us make one.")
                choice = "new"
            try:
                if choice.lower() == "new":
                    return await self._create(account)
                return _pick(owned, choice)
            except DomainError as exc:
                await self._say(str(exc))
        raise Goodbye("Too many attempts; goodbye.")

    async def _create(self, account: Account) -> Player:
        name = await self._ask("Your character's name:")
        professions = await self._characters.professions()
        await self._say("Professions:")
        await self._io.write_lines(
            f"  {n}. {p.name}: {p.description}" for n, p in enumerate(professions, 1)
        )
        choice = await self._ask("Type a profession's number or name:")
        profession = _pick(professions, choice)
        method = _METHODS.get((await self._ask("Stats: 3d6, 4d6 or point buy?")).lower())
        if method is None:
            raise _Mismatch("Answer 3d6, 4d6 or point buy.")
        bought = None
        if method is StatsMethod.POINT_BUY:
            bought = await self._buy()
        player = await self._characters.create(account, name, profession.id, method, bought)
        await self._say(f"{player.name} the {profession.name} is ready.")
        return player

    async def _buy(self) -> dict[str, int]:
        await self._say(
            f"Six scores from {POINT_BUY_MIN} to {POINT_BUY_MAX}, {POINT_BUY_BUDGET} points,"
            f" in this order: {', '.join(STAT_NAMES)}."
        )
        words = (await self._ask("Scores:")).replace(",", " ").split()
        if len(words) != len(STAT_NAMES) or not all(w.isdigit() for w in words):
            raise _Mismatch("Give six whole numbers.")
        return dict(zip(STAT_NAMES, (int(w) for w in words), strict=True))

    # -- talking -----------------------------------------------------------------------------
    async def _ask(self, question: str) -> str:
        await self._io.write_prompt(question)
        line = await self._io.read_line()
        if line.too_long:
            raise _Mismatch("That is too long.")
        if line.text.lower() == "quit":
            raise Goodbye("Goodbye.")
        return line.text

    async def _secret(self, question: str) -> str:
        """A question whose answer the client does not echo."""
        self._io.hide_input()
        try:
            return await self._ask(question)
        finally:
            if not self._io.closed:
                self._io.show_input()
                await self._say("")

    async def _say(self, text: str) -> None:
        await self._io.write_lines([text])


class _Mismatch(DomainError):
    """An answer the dialogue itself cannot use."""


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def _pick(options: list[N], choice: str) -> N:
    """An option by its number in the list or its name. Raises NotFound."""
    if choice.isdigit() and 1 <= int(choice) <= len(options):
        return options[int(choice) - 1]
    for option in options:
        if option.name.casefold() == choice.casefold():
            return option
    raise NotFound(f"There is no {choice[:40]!r} to choose.")
