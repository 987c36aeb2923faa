"""The incident lifecycle: states and the one function that moves between them."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    MITIGATING = "mitigating"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


_ALLOWED: dict[State, frozenset[State]] = {
    State.OPEN: frozenset({State.INVESTIGATING, State.RESOLVED}),
    State.INVESTIGATING: frozenset({State.MITIGATING, State.MONITORING, State.RESOLVED}),
    State.MITIGATING: frozenset({State.MONITORING, State.RESOLVED}),
    State.MONITORING: frozenset({State.MITIGATING, State.RESOLVED}),
    State.RESOLVED: frozenset(),
}


class IllegalTransition(ValueError):
    """A state change the lifecycle does not allow."""


def transition(current: State, target: State) -> State:
    """Return ``target`` when the lifecycle allows ``current -> target``, else raise."""
    if target not in _ALLOWED[current]:
        raise IllegalTransition(f"incident cannot go from {current} to {target}")
    return target
