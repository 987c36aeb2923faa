"""Fault injection: what can go wrong between a client and the simulated apiserver.

Purpose: rules that add latency, answer 500/503 or 429 (with Retry-After), drop connections
(mid-stream for log streams and watches), end a watch with a 410 Gone ERROR event (`gone`) or
keep it open without sending anything (`silent`, a hung proxy), deny requests with 403 like RBAC,
or make a pod's log huge (generated lazily). Rules come from the scenario YAML or are added at
run time through the Python API or `POST /_sim/faults`. A rule matches on verb, resource
(`pods/log`) and a name glob, fires with a probability (`rate`, deterministic RNG) and
optionally only `count` times.
Boundary: decides, never performs I/O; the server applies the decision.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal["latency", "error", "throttle", "drop", "forbidden", "huge_log", "gone",
                    "silent"]


class FaultRule(BaseModel):
    """One fault. Omitted match fields match everything."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    id: str = ""
    verb: str | None = None
    resource: str | None = None
    name: str | None = None
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=0)
    seconds: float = Field(default=0.0, ge=0.0)
    status: int = 500
    retry_after: int = Field(default=1, ge=0)
    after_bytes: int = Field(default=65536, ge=0)
    bytes: int = Field(default=0, ge=0)

    def matches(self, verb: str, resource: str, name: str | None) -> bool:
        if self.verb and self.verb != verb:
            return False
        if self.resource and self.resource != resource:
            return False
        if self.name:
            return name is not None and fnmatch.fnmatchcase(name, self.name)
        return True


class FaultEngine:
    """The active rules, with deterministic firing."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int = 7) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)  # noqa: S311 (reproducible simulation, not crypto)
        for rule in rules or []:
            self.add(rule)

    def add(self, rule: FaultRule | dict[str, Any]) -> FaultRule:
        """Activate a rule (a copy gets an id when it has none)."""
        parsed = rule if isinstance(rule, FaultRule) else FaultRule.model_validate(rule)
        parsed = parsed.model_copy()
        if not parsed.id:
            parsed.id = f"f{next(self._ids)}"
        self._rules.append(parsed)
        return parsed

    def remove(self, rule_id: str) -> bool:
        before = len(self._rules)
        self._rules = [r for r in self._rules if r.id != rule_id]
        return len(self._rules) != before

    def clear(self) -> None:
        self._rules.clear()

    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def fire(self, kind: FaultKind, verb: str, resource: str, name: str | None) -> FaultRule | None:
        """The first rule of `kind` that matches and fires now (consumes `count`)."""
        for rule in self._rules:
            if rule.kind != kind or not rule.matches(verb, resource, name):
                continue
            if rule.count is not None and rule.count <= 0:
                continue
            if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                continue
            if rule.count is not None:
                rule.count -= 1
            return rule
        return None

    def latency(self, verb: str, resource: str, name: str | None) -> float:
        """Total injected delay for a request, in seconds."""
        total = 0.0
        for rule in self._rules:
            if rule.kind == "latency" and rule.matches(verb, resource, name):
                total += rule.seconds
        return total

    def denies(self, verb: str, resource: str, name: str | None) -> bool:
        """Whether RBAC (as simulated) forbids the request; used by access reviews too.

        A rule with a name glob denies a review without a name only when it has no glob:
        "may I get pods/log" is answered for the resource as a whole.
        """
        for rule in self._rules:
            if rule.kind != "forbidden":
                continue
            if rule.verb and rule.verb != verb:
                continue
            if rule.resource and rule.resource != resource:
                continue
            if rule.name and (name is None or not fnmatch.fnmatchcase(name, rule.name)):
                continue
            return True
        return False

    def huge_log_bytes(self, pod: str) -> int | None:
        for rule in self._rules:
            if rule.kind == "huge_log" and rule.matches("get", "pods/log", pod):
                return rule.bytes
        return None
