"""Label and field selectors with Kubernetes' syntax and semantics.

Purpose: parse `labelSelector` (equality and set-based: `a=b`, `a!=b`, `a in (x,y)`,
`a notin (x)`, `a`, `!a`) and `fieldSelector` (`f=v`, `f==v`, `f!=v` over the fields each
resource supports) and match objects against them.
Boundary: pure functions over JSON dicts; unsupported fields raise `ApiError` 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from simulator.status import ApiError, bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")

FIELD_PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "pods": {
        "metadata.name": ("metadata", "name"),
        "metadata.namespace": ("metadata", "namespace"),
        "spec.nodeName": ("spec", "nodeName"),
        "spec.restartPolicy": ("spec", "restartPolicy"),
        "spec.schedulerName": ("spec", "schedulerName"),
        "spec.serviceAccountName": ("spec", "serviceAccountName"),
        "spec.hostNetwork": ("spec", "hostNetwork"),
        "status.phase": ("status", "phase"),
        "status.podIP": ("status", "podIP"),
        "status.nominatedNodeName": ("status", "nominatedNodeName"),
    },
    "jobs": {"status.successful": ("status", "succeeded")},
    "events": {
        "involvedObject.kind": ("involvedObject", "kind"),
        "involvedObject.name": ("involvedObject", "name"),
        "involvedObject.namespace": ("involvedObject", "namespace"),
        "involvedObject.uid": ("involvedObject", "uid"),
        "reason": ("reason",),
        "type": ("type",),
        "source": ("source", "component"),
    },
    "secrets": {"type": ("type",)},
}


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        terms.append(current)
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[dict[str, str]], bool]:
    eq = _EQ_RE.match(term)
    if eq:
        key, op, value = eq.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    st = _SET_RE.match(term)
    if not st:
        raise bad_request(f'unable to parse requirement: <nil>: Invalid value: "{term}"')
    neg, key, op, values_text = st.groups()
    if op is None:
        if neg:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    values = {v.strip() for v in (values_text or "").split(",") if v.strip()}
    if op == "in":
        return lambda labels: labels.get(key) in values
    return lambda labels: labels.get(key) not in values


def label_matcher(selector: str | None) -> Matcher:
    """A predicate over objects for a `labelSelector` query value."""
    if not selector:
        return lambda obj: True
    terms = [_label_term(t) for t in _split_terms(selector)]

    def match(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(term(labels) for term in terms)

    return match


def match_labels(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Match a structured LabelSelector (`matchLabels` only, as the platform uses)."""
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def format_selector(selector: dict[str, Any]) -> str:
    """metav1.FormatLabelSelector for matchLabels: `k=v,k2=v2` sorted by key."""
    wanted = selector.get("matchLabels") or {}
    return ",".join(f"{k}={wanted[k]}" for k in sorted(wanted)) or "<none>"


def _lookup(obj: dict[str, Any], path: tuple[str, ...]) -> str:
    value: Any = obj
    for part in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_matcher(plural: str, selector: str | None) -> Matcher:
    """A predicate for a `fieldSelector`; unsupported field labels answer 400 like the server."""
    if not selector:
        return lambda obj: True
    supported = {
        "metadata.name": ("metadata", "name"),
        "metadata.namespace": ("metadata", "namespace"),
        **FIELD_PATHS.get(plural, {}),
    }
    checks: list[tuple[tuple[str, ...], bool, str]] = []
    for term in _split_terms(selector):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        field, op, value = m.groups()
        if field not in supported:
            raise ApiError(400, "BadRequest", f"field label not supported: {field}")
        checks.append((supported[field], op == "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        for path, negate, value in checks:
            equal = _lookup(obj, path) == value
            if equal == negate:
                return False
        return True

    return match
