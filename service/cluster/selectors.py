"""Label selectors: from a Deployment's ``spec.selector`` to a query string, and matching.

Purpose: resolve ``deploy/<name>`` to its pods the way kubectl does (the Deployment's selector
sent as ``labelSelector``), and tell a job's kind from its labels with the configured selectors
(``PlatformObjects.*_job_selector``) without one API call per kind.
Boundary: pure functions over label dicts and selector strings (the apiserver's syntax:
``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``, ``k notin (a,b)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SET = re.compile(r"^(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)$")


def selector_string(selector: Mapping[str, Any]) -> str:
    """A ``LabelSelector`` object (matchLabels + matchExpressions) as a query string."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _terms(selector: str) -> list[str]:
    """Split on commas that are not inside a set's parentheses."""
    terms, depth, start = [], 0, 0
    for i, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    return [t.strip() for t in terms if t.strip()]


def _term_matches(term: str, labels: Mapping[str, str]) -> bool:
    found = _SET.match(term)
    if found:
        values = {v.strip() for v in found.group("values").split(",") if v.strip()}
        inside = labels.get(found.group("key")) in values
        return inside if found.group("op") == "in" else not inside
    if "!=" in term:
        key, value = (s.strip() for s in term.split("!=", 1))
        return labels.get(key) != value
    if "=" in term:
        key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
        return labels.get(key) == value
    if term.startswith("!"):
        return term[1:].strip() not in labels
    return term in labels


def matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy ``selector`` (an empty selector matches everything)."""
    return all(_term_matches(term, labels) for term in _terms(selector))
