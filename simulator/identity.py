"""Deterministic identities for simulated objects.

Purpose: uids, random name suffixes (the controllers' safe alphabet), container ids, pod IPs
and clone tokens drawn from one seeded generator, so a scenario replays identically.
Boundary: no clock, no store.
"""

from __future__ import annotations

import random
import uuid

SAFE = "bcdfghjklmnpqrstvwxz2456789"


class Identity:
    """Deterministic uids, name suffixes and IPs from a seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 (reproducible simulation, not crypto)
        self._ip = 10

    def uid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def suffix(self, length: int = 5) -> str:
        return "".join(self._rng.choice(SAFE) for _ in range(length))

    def hex(self, length: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(length))

    def pod_ip(self) -> str:
        self._ip = self._ip + 1 if self._ip < 250 else 11
        return f"10.42.0.{self._ip}"

    def token(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "ghp_" + "".join(self._rng.choice(alphabet) for _ in range(36))
