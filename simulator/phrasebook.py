"""The words the simulated platform writes to its logs.

Purpose: realistic log lines: Go `log/slog` JSON lines for the control-plane and the worker
(job output relayed as multi-line text inside `msg`), kaniko plain text (clone URLs with
`x-access-token` tokens, cache lookups, `MANIFEST_UNKNOWN`), mirror and codegen-check output,
and harmless noise.
Boundary: pure string building; times are passed in.
"""

from __future__ import annotations

import json
from typing import Any

from simulator.clock import rfc3339_millis

REGISTRY = "codex-k8s-registry.codex-k8s-prod.svc.cluster.local:5000"
REPO = "github.com/codex-k8s/codex-k8s.git"

CONTROL_PLANE_NOISE: list[tuple[str, str, dict[str, Any]]] = [
    ("INFO", "runtime deploy reconcile finished", {"deployments": 4, "changed": 0}),
    ("INFO", "http request served", {"method": "GET", "path": "/healthz", "status": 200}),
    ("DEBUG", "leader lease renewed", {"lease": "codex-k8s-control-plane"}),
    ("INFO", "webhook delivery processed", {"source": "github", "event": "push"}),
]
WORKER_NOISE: list[tuple[str, str, dict[str, Any]]] = [
    ("INFO", "polling pending runs", {"queue": "ai-slot", "pending": 0}),
    ("DEBUG", "heartbeat", {"slots_busy": 1, "slots_total": 4}),
    ("INFO", "agent session keepalive", {"slot": "ai-slot-2"}),
]
SERVICE_NOISE: list[tuple[str, str, dict[str, Any]]] = [
    ("INFO", "http request served", {"method": "GET", "path": "/api/v1/runs", "status": 200}),
    ("INFO", "http request served", {"method": "GET", "path": "/healthz", "status": 200}),
]


def slog(ts: float, level: str, msg: str, **attrs: Any) -> str:
    """One Go slog JSON line."""
    return json.dumps(
        {"time": rfc3339_millis(ts), "level": level, "msg": msg, **attrs},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def registry_line(ts: float, status: int, path: str) -> str:
    """registry:2 access log style (logrus text)."""
    return (
        f'time="{rfc3339_millis(ts)}" level=info msg="response completed" '
        f'http.request.method=GET http.request.uri="{path}" http.response.status={status}'
    )


def noise(kind: str, ts: float, index: int) -> str:
    """The index-th noise line of a component."""
    if kind == "registry":
        return registry_line(ts, 200, "/v2/")
    table = {"control-plane": CONTROL_PLANE_NOISE, "worker": WORKER_NOISE}.get(kind, SERVICE_NOISE)
    level, msg, attrs = table[index % len(table)]
    return slog(ts, level, msg, **attrs)


def image_ref(component: str, sha: str) -> str:
    return f"{REGISTRY}/codex-k8s/{component}:{sha}"


def kaniko_output(component: str, sha: str, token: str, outcome: str, cache: bool) -> list[str]:
    """Plain-text output of a kaniko build job, one string per line."""
    lines = [
        f"+ git clone --depth 1 https://x-access-token:{token}@{REPO} /workspace",
        "Cloning into '/workspace'...",
        f"+ git checkout {sha}",
        f"HEAD is now at {sha[:7]} build: bump {component}",
        "INFO[0000] Retrieving image manifest golang:1.24-alpine",
        "INFO[0000] Retrieving image golang:1.24-alpine from registry index.docker.io",
    ]
    if cache:
        lines.append(
            f"INFO[0001] Checking for cached layer {REGISTRY}/codex-k8s/cache:{sha[:12]}..."
        )
    if outcome == "manifest_unknown":
        digest = f"sha256:{sha}{sha}"[:71]
        where = (
            "Error while retrieving image from cache"
            if cache
            else "Error while retrieving image from registry mirror"
        )
        lines.append(
            "error building image: error building stage: failed to optimize instructions: "
            f"{where}: {REGISTRY}/codex-k8s/cache@{digest}: GET "
            f"http://{REGISTRY}/v2/codex-k8s/cache/manifests/{digest}: "
            "MANIFEST_UNKNOWN: manifest unknown; map[Tag:" + sha[:12] + "]"
        )
    elif outcome == "registry_unavailable":
        lines.append(
            f"error pushing image: failed to push to destination {image_ref(component, sha)}: "
            f'Get "http://{REGISTRY}/v2/": dial tcp 10.43.12.7:5000: connect: connection refused'
        )
    else:
        lines += [
            "INFO[0042] Taking snapshot of full filesystem...",
            f"INFO[0061] Pushing image to {image_ref(component, sha)}",
            f"INFO[0063] Pushed {image_ref(component, sha)}@sha256:{sha}{sha[:24]}",
        ]
    return lines


def mirror_output(image: str, outcome: str) -> list[str]:
    """Output of an image mirror job (crane copy into the in-cluster registry)."""
    target = f"{REGISTRY}/mirror/{image}"
    lines = [f"mirror: copying {image} -> {target}"]
    if outcome == "registry_unavailable":
        lines.append(
            f"Error: PUT http://{REGISTRY}/v2/mirror/: dial tcp 10.43.12.7:5000: "
            "connect: connection refused"
        )
    elif outcome == "manifest_unknown":
        lines.append(
            f"Error: GET http://{REGISTRY}/v2/mirror/{image.split(':', maxsplit=1)[0]}/manifests/"
            f"{image.rsplit(':', maxsplit=1)[-1]}: MANIFEST_UNKNOWN: manifest unknown"
        )
    else:
        lines.append(f"mirror: pushed {target}")
    return lines


def codegen_output(build_ref: str, sha: str, token: str, outcome: str) -> list[str]:
    """Output of the codegen-check job."""
    lines = [
        f"+ git clone https://x-access-token:{token}@{REPO} /src",
        "Cloning into '/src'...",
        f"+ CODEXK8S_BUILD_REF={build_ref}",
        f"+ git checkout --detach {build_ref}",
    ]
    if outcome == "bad_build_ref":
        lines += [
            f"error: unknown switch `{build_ref.lstrip('-')[:1] or 'x'}'"
            if build_ref.startswith("-")
            else f"fatal: '{build_ref}' is not a commit and a branch '{build_ref}' cannot be "
            "created from it",
            f"codegen-check: checkout of CODEXK8S_BUILD_REF={build_ref} failed",
        ]
    else:
        lines += [f"HEAD is now at {sha[:7]} codegen: regenerate", "codegen-check: OK, no diff"]
    return lines
