"""A small blocking client of the real apiserver for the realkube fixture and tests.

Purpose: JSON requests with a bearer token over TLS (the fixture's own CA file), object paths
from a kind, create-or-replace of manifests, pod logs and a bounded watch read; every request
has a timeout and answers (status, body) so a test can assert on the status code.
Boundary: the test side only; the responder talks to the apiserver through its own adapter.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]
PATCH_TYPES = {"strategic": "application/strategic-merge-patch+json",
               "merge": "application/merge-patch+json", "json": "application/json-patch+json"}

# kind -> (API prefix, plural, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Node": ("/api/v1", "nodes", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Secret": ("/api/v1", "secrets", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Service": ("/api/v1", "services", True),
    "Pod": ("/api/v1", "pods", True),
    "Event": ("/api/v1", "events", True),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "ReplicaSet": ("/apis/apps/v1", "replicasets", True),
    "Job": ("/apis/batch/v1", "jobs", True),
    "CronJob": ("/apis/batch/v1", "cronjobs", True),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions",
                                 False),
    "Logs": ("/apis/kwok.x-k8s.io/v1alpha1", "logs", True),
}


def collection(kind: str, namespace: str | None = None) -> str:
    prefix, plural, namespaced = KINDS[kind]
    if namespaced:
        return f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{prefix}/{plural}"


def path_of(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{collection(obj['kind'], meta.get('namespace'))}/{meta['name']}"


class Api:
    """Bearer-token JSON client of one apiserver."""

    def __init__(self, server: str, token: str, ca: Path | None, timeout: float = 20.0) -> None:
        self.server, self.token, self.timeout = server, token, timeout
        self.tls = ssl.create_default_context(cafile=str(ca)) if ca is not None else None

    @staticmethod
    def plain_ok(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def _open(self, method: str, path: str, body: Any = None, content_type: str | None = None,
              query: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode({k: str(v).lower() if isinstance(v, bool) else v
                                                 for k, v in query.items()})
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type or "application/json")
        return urllib.request.urlopen(req, timeout=timeout or self.timeout, context=self.tls)

    def request(self, method: str, path: str, body: Any = None, *,
                content_type: str | None = None, query: dict[str, Any] | None = None,
                ) -> tuple[int, Any]:
        """(status, parsed JSON or text); HTTP errors are answers, not exceptions."""
        try:
            with self._open(method, path, body, content_type, query) as resp:
                raw, status = resp.read(), resp.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def ok(self, path: str) -> bool:
        try:
            return self.request("GET", path)[0] == 200
        except OSError:
            return False

    def get(self, path: str, **query: Any) -> Obj:
        status, body = self.request("GET", path, query=query or None)
        assert status == 200, (path, status, body)
        return dict(body)

    def create(self, path: str, obj: Obj) -> Obj:
        status, body = self.request("POST", path, obj)
        assert status == 201, (path, status, body)
        return dict(body)

    def patch(self, path: str, patch: Any, kind: str = "strategic") -> tuple[int, Any]:
        return self.request("PATCH", path, patch, content_type=PATCH_TYPES[kind])

    def apply(self, obj: Obj) -> Obj:
        """Create ``obj``, or replace it (same name) when it exists."""
        meta = obj["metadata"]
        status, body = self.request("POST", collection(obj["kind"], meta.get("namespace")), obj)
        for _ in range(5):  # a controller may write it between our read and our replace
            if status != 409:
                break
            current = self.get(path_of(obj))
            obj = {**obj, "metadata": {**meta,
                                       "resourceVersion": current["metadata"]["resourceVersion"]}}
            status, body = self.request("PUT", path_of(obj), obj)
        assert status in (200, 201), (obj["kind"], meta["name"], status, body)
        return dict(body)

    def apply_yaml(self, text: str) -> list[Obj]:
        return [self.apply(doc) for doc in yaml.safe_load_all(text) if doc]

    def items(self, kind: str, namespace: str | None = None, **query: Any) -> list[Obj]:
        return list(self.get(collection(kind, namespace), **query)["items"])

    def log(self, namespace: str, pod: str, **query: Any) -> tuple[int, str]:
        try:
            with self._open("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
                            query=query or None) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def watch(self, path: str, timeout_s: int, **query: Any) -> Iterator[Obj]:
        """The events of one watch request that the server ends after ``timeout_s``."""
        query = {**query, "watch": "true", "timeoutSeconds": timeout_s}
        with self._open("GET", path, query=query, timeout=timeout_s + 10) as resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)
