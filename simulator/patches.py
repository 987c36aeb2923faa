"""The three PATCH flavours the apiserver accepts, applied to JSON objects.

Purpose: `application/strategic-merge-patch+json` (lists merged by their patch merge key:
containers/env/volumes by `name`, `$patch: delete|replace`, `$setElementOrder/`,
`$deleteFromPrimitiveList/`, `$retainKeys`, `null` deletes), `application/merge-patch+json`
(RFC 7386) and `application/json-patch+json` (RFC 6902).
Boundary: pure functions; failures raise `ApiError` with the apiserver's codes.
"""

from __future__ import annotations

import copy
from typing import Any

from simulator import status
from simulator.status import ApiError, bad_request, unsupported_media

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
PRIMITIVE_MERGE = {"finalizers"}


def apply_patch(content_type: str, original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a patch body of the given media type; returns a new object."""
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media == STRATEGIC:
        if not isinstance(patch, dict):
            raise bad_request(
                "json: cannot unmarshal array into Go value of type map[string]interface {}"
            )
        result = strategic_merge(original, patch)
    elif media == MERGE:
        result = merge_patch(original, patch)
    elif media == JSON_PATCH:
        result = json_patch(original, patch)
    else:
        raise unsupported_media(content_type)
    if not isinstance(result, dict):
        raise bad_request("patch result is not an object")
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        dicts = [i for i in items if isinstance(i, dict)]
        return "containerPort" if any("containerPort" in i for i in dicts) else "port"
    return MERGE_KEYS.get(field)


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    key = _merge_key(field, current + patch)
    if key is None:
        if field in PRIMITIVE_MERGE:
            return current + [v for v in patch if v not in current]
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(f"unable to find api field in struct for the list {field}")
        ident = item.get(key)
        index = next(
            (n for n, c in enumerate(result) if isinstance(c, dict) and c.get(key) == ident), None
        )
        if item.get("$patch") == "delete":
            result = [c for c in result if not (isinstance(c, dict) and c.get(key) == ident)]
        elif index is None:
            clean = {k: v for k, v in item.items() if not k.startswith("$")}
            result.append(strategic_merge({}, clean))
        else:
            merged = strategic_merge(result[index], item)
            result[index] = merged
    return result


def _order(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    if key is None:
        ranked = [v for v in order if v in items]
        return ranked + [v for v in items if v not in ranked]
    wanted = [o.get(key) for o in order if isinstance(o, dict)]
    first = sorted(
        (i for i in items if i.get(key) in wanted), key=lambda i: wanted.index(i.get(key))
    )
    return first + [i for i in items if i.get(key) not in wanted]


def strategic_merge(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Strategic merge patch of one map (recursive)."""
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(original)
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            if value.get("$patch") == "delete":
                result.pop(key, None)
                continue
            current = result.get(key)
            result[key] = strategic_merge(current if isinstance(current, dict) else {}, value)
        elif isinstance(value, list):
            current = result.get(key)
            result[key] = _merge_list(key, current if isinstance(current, list) else [], value)
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for name, order in orders.items():
        if isinstance(result.get(name), list):
            result[name] = _order(result[name], order, _merge_key(name, result[name]))
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _invalid(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError) as exc:
                raise _invalid(f"doc is missing path: /{'/'.join(parts)}") from exc
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise _invalid(f"doc is missing path: /{'/'.join(parts)}: missing value")
    return node, parts[-1]


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent, last = _parent(doc, parts)
    if isinstance(parent, list):
        return parent[int(last)]
    if last not in parent:
        raise _invalid(f"doc is missing key: /{'/'.join(parts)}")
    return parent[last]


def _remove(doc: Any, parts: list[str]) -> Any:
    parent, last = _parent(doc, parts)
    if isinstance(parent, list):
        return parent.pop(int(last))
    if last not in parent:
        raise _invalid(f"Unable to remove nonexistent key: {last}: missing value")
    return parent.pop(last)


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts)
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            parent.insert(int(last), value)
    else:
        parent[last] = value
    return doc


def json_patch(original: dict[str, Any], ops: Any) -> Any:
    """RFC 6902 JSON patch: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc: Any = copy.deepcopy(original)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise _invalid("Unexpected kind: <nil>")
        kind = op["op"]
        parts = _pointer(str(op.get("path", "")))
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _get(doc, parts)
            if parts:
                parent, last = _parent(doc, parts)
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op.get("value"))
                else:
                    parent[last] = copy.deepcopy(op.get("value"))
            else:
                doc = copy.deepcopy(op.get("value"))
        elif kind in ("move", "copy"):
            source = _pointer(str(op.get("from", "")))
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise _invalid("the server rejected our request due to an error in our request")
        else:
            raise _invalid(f"Unexpected kind: {kind}")
    return doc


def check_env(kind: str, group: str, name: str, obj: dict[str, Any]) -> None:
    """The apiserver's validation of a pod template's env, as a 422 (``value`` and
    ``valueFrom`` together are refused: a patch adding ``value`` to a Secret-sourced entry)."""
    spec = obj.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") if kind != "Pod" else spec
    path = "spec.template.spec" if kind != "Pod" else "spec"
    for i, container in enumerate((template or {}).get("containers") or []):
        for j, entry in enumerate(container.get("env") or []):
            if entry.get("value") and "valueFrom" in entry:
                raise status.invalid(kind, group, name,
                                     f"{path}.containers[{i}].env[{j}].valueFrom",
                                     'Invalid value: "": may not be specified when `value` '
                                     "is not empty")
