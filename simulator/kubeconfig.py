"""Kubeconfig for a running simulator.

Purpose: the file kubectl (`--kubeconfig`) and kubernetes_asyncio (`load_kube_config`) read
unchanged: one cluster with a plain-http server URL, one bearer-token user, one context whose
namespace is the simulated one.
Boundary: text only; the caller writes it.
"""

from __future__ import annotations

import yaml

CLUSTER = "codex-k8s-sim"
USER = "aislot-responder"


def kubeconfig_text(server: str, token: str, namespace: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": {"server": server}}],
        "users": [{"name": USER, "user": {"token": token}}],
        "contexts": [
            {"name": CLUSTER, "context": {"cluster": CLUSTER, "user": USER, "namespace": namespace}}
        ],
        "current-context": CLUSTER,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)
