"""Regenerate helm/aislot-responder/values.schema.json from the settings tree.

The `config` part mirrors service/config/settings.py (minus secrets, which come by env from a
Secret,
and minus what the chart sets itself); the rest describes the chart's own values.
Run: .venv/bin/python helm/gen_values_schema.py   (tests/unit/test_deploy_chart_values.py checks
that the committed file is what this script writes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.config.settings import SINK_MODELS, Settings

OUT = Path(__file__).resolve().parent / "aislot-responder" / "values.schema.json"
SECRET = {"auth": {"webhook_token", "webhook_basic_password", "read_token", "owner_token",
                   "link_key"},
          "store": {"postgres_dsn"}, "kube": {"kubeconfig", "context"}}
CHART_OWNED = {"server": {"host", "port"}, "kube": {"namespace"}}


def _clean(node: Any, defs: dict[str, Any]) -> Any:
    """Inline $refs, drop titles/defaults, turn Optional[X] into X-or-null."""
    if isinstance(node, list):
        return [_clean(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "default", "writeOnly"):
            continue
        if key == "$ref":
            out.update(_clean(defs[value.split("/")[-1]], defs))
            continue
        if key == "format" and value in ("password", "path"):
            continue
        out[key] = _clean(value, defs)
    if "anyOf" in out and len(out["anyOf"]) == 2 and {"type": "null"} in out["anyOf"]:
        other = next(a for a in out.pop("anyOf") if a != {"type": "null"})
        if "type" in other:
            other = {**other, "type": [other["type"], "null"]}
        out.update(other)
    return out


def config_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    full = Settings.model_json_schema()
    defs = full["$defs"]
    sections: dict[str, Any] = {}
    for name, prop in full["properties"].items():
        section = _clean(defs[prop["$ref"].split("/")[-1]] if "$ref" in prop else prop, defs)
        for key in SECRET.get(name, set()) | CHART_OWNED.get(name, set()):
            section["properties"].pop(key, None)
        sections[name] = section
    sections["sinks"] = {
        "type": "object",
        "description": "notification sinks by name; tokens and secret URLs by env (extraEnv)",
        "additionalProperties": {"$ref": "#/$defs/SinkSettings"},
    }
    store = sections["store"]
    store["properties"]["sqlite_path"]["pattern"] = "^/[^/]+(/[^/]+)*/[^/]+$"
    store["properties"]["sqlite_path"]["description"] = (
        "absolute path; its directory is the data volume's mount point")
    store["required"] = ["backend", "sqlite_path"]
    sections["mitigation"]["required"] = ["mode", "target"]
    config = {
        "type": "object", "additionalProperties": False,
        "description": "The service's settings tree (service/config/settings.py) without secrets; "
                       "rendered into the ConfigMap.",
        "properties": sections, "required": ["store", "mitigation"],
    }
    return config, sink_defs(defs)


def sink_defs(defs: dict[str, Any]) -> dict[str, Any]:
    """A sink: its ``type`` picks the model (if/then, so an error names the field, where a
    oneOf would only say no model fits). Secrets go; nothing else is required, as any field
    may come by env (AISLOT_SINKS__<NAME>__URL ...)."""
    out: dict[str, Any] = {"SinkSettings": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": list(SINK_MODELS)}},
        "allOf": [{"if": {"required": ["type"], "properties": {"type": {"const": kind}}},
                   "then": {"$ref": f"#/$defs/{model.__name__}"}}
                  for kind, model in SINK_MODELS.items()],
    }}
    for model in SINK_MODELS.values():
        member = _clean(defs[model.__name__], defs)
        for key in model.secret_fields:
            member["properties"].pop(key)
        member["required"] = ["type"]
        out[model.__name__] = member
    return out


def values_schema() -> dict[str, Any]:
    config, defs = config_schema()

    def s(**kw: Any) -> dict[str, Any]:
        return {"type": "string", **kw}

    def obj(**kw: Any) -> dict[str, Any]:
        return {"type": "object", **kw}

    boolean = {"type": "boolean"}
    strmap = {"type": "object", "additionalProperties": {"type": "string"}}
    duration = s(pattern="^[0-9]+(ms|s|m|h)$")
    probe = obj(additionalProperties=False, properties={
        k: {"type": "integer", "minimum": 0} for k in
        ["initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold",
         "successThreshold"]})
    port = {"type": "integer", "minimum": 1, "maximum": 65535}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "aislot-responder chart values",
        "type": "object",
        "additionalProperties": False,
        "required": ["watchedNamespace", "image", "config", "auth", "rbac", "serviceAccount"],
        "properties": {
            "global": {"type": "object"},
            "watchedNamespace": s(pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength=63,
                                  minLength=1, description="namespace the responder watches "
                                  "and acts in; its Role lives there"),
            "replicaCount": {"type": "integer", "minimum": 0},
            "image": obj(additionalProperties=False, required=["repository"], properties={
                "repository": s(minLength=1), "tag": s(),
                "digest": s(pattern="^(sha256:[a-f0-9]{64})?$"),
                "pullPolicy": s(enum=["Always", "IfNotPresent", "Never"])}),
            "imagePullSecrets": {"type": "array",
                                 "items": obj(required=["name"], properties={"name": s()})},
            "nameOverride": s(), "fullnameOverride": s(),
            "serviceAccount": obj(additionalProperties=False, properties={
                "create": boolean, "name": s(), "annotations": strmap}),
            "rbac": obj(additionalProperties=False, properties={"create": boolean}),
            "auth": obj(additionalProperties=False, properties={
                "existingSecret": s(), "webhookToken": s(), "readToken": s(), "ownerToken": s(),
                "linkKey": s(),
                "secretKeys": obj(additionalProperties=False, properties={
                    k: s(minLength=1)
                    for k in ["webhookToken", "readToken", "ownerToken", "linkKey",
                              "postgresDsn"]})}),
            "extraEnv": {"type": "array", "items": obj(required=["name"])},
            "extraEnvFrom": {"type": "array", "items": {"type": "object"}},
            "config": config,
            "service": obj(additionalProperties=False, properties={
                "type": s(enum=["ClusterIP", "NodePort", "LoadBalancer"]),
                "port": port, "annotations": strmap}),
            "containerPort": port,
            "resources": {"type": "object"},
            "livenessProbe": probe, "readinessProbe": probe,
            "podSecurityContext": obj(properties={"runAsNonRoot": {"const": True}}),
            "securityContext": obj(properties={
                "runAsNonRoot": {"const": True}, "readOnlyRootFilesystem": {"const": True},
                "allowPrivilegeEscalation": {"const": False}, "privileged": {"const": False}}),
            "persistence": obj(additionalProperties=False, properties={
                "enabled": boolean, "existingClaim": s(), "storageClassName": s(),
                "accessModes": {"type": "array", "items": s(
                    enum=["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"])},
                "size": s(pattern="^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"),
                "annotations": strmap}),
            "podAnnotations": strmap, "podLabels": strmap,
            "nodeSelector": strmap, "tolerations": {"type": "array"},
            "affinity": {"type": "object"},
            "priorityClassName": s(),
            "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
            "serviceMonitor": obj(additionalProperties=False, properties={
                "enabled": boolean, "interval": duration, "scrapeTimeout": duration,
                "labels": strmap}),
            "prometheusRule": obj(additionalProperties=False,
                                  properties={"enabled": boolean, "labels": strmap}),
            "podDisruptionBudget": obj(additionalProperties=False, properties={
                "enabled": boolean,
                "minAvailable": {"type": ["integer", "string"]},
                "maxUnavailable": {"type": ["integer", "string"]}}),
        },
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(values_schema(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
