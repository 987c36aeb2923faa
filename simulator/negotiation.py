"""Content negotiation the way Kubernetes clients ask for it: an Accept media range with
``g`` (group), ``v`` (version) and ``as`` (kind) parameters, e.g. kubectl's
``application/json;as=Table;v=v1;g=meta.k8s.io``. Pure; no I/O."""

from __future__ import annotations


def accepts(accept: str, *, group: str, version: str, kind: str) -> bool:
    """Whether any media range of ``accept`` asks for ``kind`` of ``group``/``version``."""
    for media in accept.split(","):
        params = {
            p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
            for p in media.split(";")[1:]
            if "=" in p
        }
        if params.get("as") == kind and params.get("g") == group and params.get("v") == version:
            return True
    return False
