"""The platform as installed in `codex-k8s-prod`: the objects that exist before anything happens.

Purpose: Deployment specs of codex-k8s-control-plane, codex-k8s-worker, codex-k8s and
codex-k8s-registry with the labels, containers and env of context/platform.md, the Secret
`codex-k8s-runtime`, the ConfigMap `codex-k8s-config`, the registry Service and the registry-gc
CronJob.
Boundary: returns plain specs; the world stamps metadata and creates ReplicaSets and pods.
"""

from __future__ import annotations

import base64
from typing import Any

from simulator.phrasebook import REGISTRY

Obj = dict[str, Any]
NAMESPACE = "codex-k8s-prod"
SWITCH = "CODEXK8S_KANIKO_CACHE_ENABLED"
RUNTIME_SECRET = "codex-k8s-runtime"  # noqa: S105 (a Secret name, not a secret)
CONFIG_MAP = "codex-k8s-config"
CONTROL_PLANE = "codex-k8s-control-plane"
REGISTRY_DEPLOYMENT = "codex-k8s-registry"
VERSION = "v0.14.2"


def _probe(path: str, port: int) -> Obj:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def _container(name: str, image: str, port: int, env: list[Obj], probe: str) -> Obj:
    return {
        "name": name,
        "image": image,
        "env": env,
        "envFrom": [
            {"secretRef": {"name": RUNTIME_SECRET}},
            {"configMapRef": {"name": CONFIG_MAP}},
        ],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": _probe(probe, port),
    }


def _deployment(
    name: str, labels: dict[str, str], container: Obj, account: str, recreate: bool = False
) -> Obj:
    strategy: Obj = (
        {"type": "Recreate"}
        if recreate
        else {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
        }
    )
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": dict(labels),
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": dict(labels)},
                "spec": {
                    "containers": [container],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "serviceAccountName": account,
                    "serviceAccount": account,
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                },
            },
            "strategy": strategy,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }


def deployments(switch_in_env: bool, switch_from_secret: bool = False) -> list[Obj]:
    """The four Deployments of the platform."""
    image = "ghcr.io/codex-k8s/codex-k8s/{}:" + VERSION
    cp_env: list[Obj] = [
        {"name": "CODEXK8S_ENV", "value": "production"},
        {"name": "CODEXK8S_REGISTRY_HOST", "value": REGISTRY},
    ]
    if switch_in_env:
        cp_env.append({"name": SWITCH, "value": "true"})
    elif switch_from_secret:  # an env entry that reads the Secret's key (valueFrom)
        cp_env.append({"name": SWITCH,
                       "valueFrom": {"secretKeyRef": {"name": RUNTIME_SECRET, "key": SWITCH}}})
    app = {"app.kubernetes.io/name": "codex-k8s"}
    return [
        _deployment(
            CONTROL_PLANE,
            {**app, "app.kubernetes.io/component": "control-plane"},
            _container("control-plane", image.format("control-plane"), 8080, cp_env, "/readyz"),
            "codex-k8s-control-plane",
        ),
        _deployment(
            "codex-k8s-worker",
            {**app, "app.kubernetes.io/component": "worker"},
            _container(
                "worker",
                image.format("worker"),
                8081,
                [{"name": "CODEXK8S_ENV", "value": "production"}],
                "/readyz",
            ),
            "codex-k8s-worker",
        ),
        _deployment(
            "codex-k8s",
            {**app, "app.kubernetes.io/component": "api-gateway"},
            _container(
                "api-gateway",
                image.format("api-gateway"),
                8080,
                [{"name": "CODEXK8S_ENV", "value": "production"}],
                "/healthz",
            ),
            "codex-k8s",
        ),
        _deployment(
            REGISTRY_DEPLOYMENT,
            {"app.kubernetes.io/name": "codex-k8s-registry"},
            {
                "name": "registry",
                "image": "registry:2",
                "env": [{"name": "REGISTRY_STORAGE_DELETE_ENABLED", "value": "true"}],
                "ports": [{"name": "http", "containerPort": 5000, "protocol": "TCP"}],
                "readinessProbe": _probe("/v2/", 5000),
            },
            "default",
            recreate=True,
        ),
    ]


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def runtime_secret(switch_in_secret: bool) -> Obj:
    data = {
        "CODEXK8S_DATABASE_URL": "postgres://codex:s3cr3t@codex-k8s-postgres:5432/codex",
        "CODEXK8S_GITHUB_TOKEN": "ghp_0000000000000000000000000000000000AB",
    }
    if switch_in_secret:
        data[SWITCH] = "true"
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "type": "Opaque",
        "metadata": {
            "name": RUNTIME_SECRET,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": "codex-k8s"},
        },
        "data": {k: _b64(v) for k, v in sorted(data.items())},
    }


def config_map(build_ref: str) -> Obj:
    return {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": CONFIG_MAP,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": "codex-k8s"},
        },
        "data": {
            "CODEXK8S_BUILD_REF": build_ref,
            "CODEXK8S_REGISTRY_HOST": REGISTRY,
            "CODEXK8S_AI_SLOTS": "4",
        },
    }


def registry_service() -> Obj:
    return {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {
            "name": REGISTRY_DEPLOYMENT,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": "codex-k8s-registry"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.43.12.7",
            "clusterIPs": ["10.43.12.7"],
            "selector": {"app.kubernetes.io/name": "codex-k8s-registry"},
            "ports": [{"name": "http", "port": 5000, "protocol": "TCP", "targetPort": 5000}],
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {}},
    }


def registry_gc_cronjob() -> Obj:
    return {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "metadata": {
            "name": "codex-k8s-registry-gc",
            "namespace": NAMESPACE,
            "generation": 1,
            "labels": {"app.kubernetes.io/name": "codex-k8s-registry"},
        },
        "spec": {
            "schedule": "17 3 * * *",
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "suspend": False,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"creationTimestamp": None},
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": {"creationTimestamp": None},
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "gc",
                                    "image": "registry:2",
                                    "args": ["garbage-collect", "/etc/docker/registry/config.yml"],
                                }
                            ],
                        },
                    },
                },
            },
        },
        "status": {},
    }
