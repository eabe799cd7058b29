"""The NPC brain's state machine: which ``NpcState`` may follow which, and the guarded step."""

from __future__ import annotations

from kadath.domain.npc import NpcInstance, NpcState

_S = NpcState
ALLOWED: dict[NpcState, frozenset[NpcState]] = {
    _S.IDLE: frozenset({_S.WANDERING, _S.FIGHTING, _S.FLEEING, _S.DEAD}),
    _S.WANDERING: frozenset({_S.IDLE, _S.FIGHTING, _S.FLEEING, _S.DEAD}),
    _S.FIGHTING: frozenset({_S.IDLE, _S.FLEEING, _S.DEAD}),
    _S.FLEEING: frozenset({_S.IDLE, _S.FIGHTING, _S.DEAD}),
    _S.DEAD: frozenset(),
}


def can_transition(npc: NpcInstance, target: NpcState) -> bool:
    return target is npc.state or target in ALLOWED[npc.state]


def transition(npc: NpcInstance, target: NpcState) -> bool:
    """Put ``npc`` in ``target`` if the machine allows it; False (state unchanged) if not."""
    if not can_transition(npc, target):
        return False
    npc.state = target
    return True
