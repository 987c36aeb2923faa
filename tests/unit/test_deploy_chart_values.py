"""The chart's values.schema.json and values.yaml stay in step with the settings tree
(service/config/settings.py): every config key the chart accepts is a real setting, every non-secret
setting can be set through the chart, and secrets cannot be put into the ConfigMap."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from service.config.settings import SINK_MODELS, Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "aislot-responder"
# Secrets come by env from a Secret; kubeconfig/context: the chart runs with in-cluster config.
NOT_IN_CONFIGMAP = {
    "auth": {"webhook_token", "webhook_basic_password", "read_token", "owner_token",
             "link_key"},
    "store": {"postgres_dsn"},
    "kube": {"kubeconfig", "context"},
}
# Set by the chart itself from the pod and watchedNamespace.
CHART_OWNED = {"server": {"host", "port"}, "kube": {"namespace"}}


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    return data


def values() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return data


def section_model(name: str) -> type[BaseModel] | None:
    annotation = Settings.model_fields[name].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) \
        else None


def test_schema_config_sections_mirror_the_settings() -> None:
    config = schema()["properties"]["config"]
    assert config["additionalProperties"] is False
    assert set(config["properties"]) == set(Settings.model_fields)
    for name in Settings.model_fields:
        model = section_model(name)
        if model is None:
            continue  # sinks: a mapping, checked below
        props = config["properties"][name]
        assert props["additionalProperties"] is False, name
        expected = (set(model.model_fields) - NOT_IN_CONFIGMAP.get(name, set())
                    - CHART_OWNED.get(name, set()))
        assert set(props["properties"]) == expected, (
            f"config.{name}: schema has {sorted(props['properties'])}, settings have "
            f"{sorted(expected)}; run .venv/bin/python helm/gen_values_schema.py")


def test_schema_sinks_mirror_each_sink_model_without_its_secrets() -> None:
    defs = schema()["$defs"]
    sink = defs["SinkSettings"]
    assert sink["properties"]["type"]["enum"] == list(SINK_MODELS)
    assert sink["required"] == ["type"]
    picked = {branch["if"]["properties"]["type"]["const"]: branch["then"]["$ref"]
              for branch in sink["allOf"]}
    assert picked == {kind: f"#/$defs/{model.__name__}" for kind, model in SINK_MODELS.items()}
    for kind, model in SINK_MODELS.items():
        member = defs[model.__name__]
        assert member["additionalProperties"] is False, kind
        assert set(member["properties"]) == set(model.model_fields) - set(model.secret_fields)
        assert member["properties"]["type"]["const"] == kind
        assert member["required"] == ["type"]  # the rest may come by env


def test_enums_match_the_settings() -> None:
    props = schema()["properties"]["config"]["properties"]
    assert props["mitigation"]["properties"]["mode"]["enum"] == [
        "auto", "approval", "observe", "dry-run"]
    assert props["mitigation"]["properties"]["target"]["properties"]["kind"]["enum"] == [
        "deployment-env", "secret", "configmap"]
    assert props["store"]["properties"]["backend"]["enum"] == ["sqlite", "postgres"]


def test_values_yaml_keys_are_in_the_schema() -> None:
    def walk(node: Any, sch: dict[str, Any], path: str) -> None:
        if not isinstance(node, dict) or sch.get("additionalProperties") is not False:
            return
        for key, value in node.items():
            assert key in sch["properties"], f"values.yaml {path}{key} is not in the schema"
            walk(value, sch["properties"][key], f"{path}{key}.")

    walk(values(), schema(), "")


def test_default_sqlite_path_matches_the_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    image_path = re.search(r"AISLOT_STORE__SQLITE_PATH=(\S+)", dockerfile)
    assert image_path is not None
    assert values()["config"]["store"]["sqlite_path"] == image_path.group(1)
    assert re.search(r'VOLUME \["?/data"?\]', dockerfile)


def test_committed_schema_is_the_generated_one() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_values_schema",
                                                  ROOT / "helm" / "gen_values_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (CHART / "values.schema.json").read_text(encoding="utf-8")
    assert committed == module.render(), (
        "helm/aislot-responder/values.schema.json is stale: .venv/bin/python "
        "helm/gen_values_schema.py")
