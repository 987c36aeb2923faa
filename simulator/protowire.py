"""Just enough Kubernetes protobuf to read what kubectl's typed clients send.

Purpose: kubectl sends some requests (e.g. `auth can-i`'s SelfSubjectAccessReview) as
`application/vnd.kubernetes.protobuf`: the `k8s\\x00` magic, a `runtime.Unknown` envelope and
the generated message. This module decodes the wire format into the JSON-shaped dict the API
handlers use. Responses stay JSON (the client accepts both).
Boundary: decoding only, for SelfSubjectAccessReview; other kinds are reported as unsupported.
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"
Fields = dict[int, list[bytes | int]]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> Fields:
    """Top-level fields of a message: number -> values (bytes for length-delimited)."""
    out: Fields = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: bytes | int
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _text(msg: Fields, number: int) -> str:
    values = msg.get(number) or [b""]
    value = values[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def _sub(msg: Fields, number: int) -> Fields | None:
    values = msg.get(number)
    if not values or not isinstance(values[0], bytes):
        return None
    return fields(values[0])


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded object as a JSON-shaped dict (SelfSubjectAccessReview only)."""
    if not body.startswith(MAGIC):
        raise ValueError("missing k8s protobuf magic")
    envelope = fields(body[len(MAGIC) :])
    type_meta = _sub(envelope, 1) or {}
    kind, api_version = _text(type_meta, 2), _text(type_meta, 1)
    raw = envelope.get(2, [b""])[0]
    if kind != "SelfSubjectAccessReview" or not isinstance(raw, bytes):
        raise ValueError(f"protobuf decoding of {kind or 'this kind'} is not supported")
    spec_msg = _sub(fields(raw), 2) or {}
    spec: dict[str, Any] = {}
    attrs = _sub(spec_msg, 1)
    if attrs is not None:
        names = ["namespace", "verb", "group", "version", "resource", "subresource", "name"]
        spec["resourceAttributes"] = {
            n: _text(attrs, i + 1) for i, n in enumerate(names) if attrs.get(i + 1)
        }
    non_resource = _sub(spec_msg, 2)
    if non_resource is not None:
        spec["nonResourceAttributes"] = {
            "path": _text(non_resource, 1),
            "verb": _text(non_resource, 2),
        }
    return {"kind": kind, "apiVersion": api_version, "spec": spec}
