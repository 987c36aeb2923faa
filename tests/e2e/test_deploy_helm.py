"""The Helm chart, linted and rendered by the real Helm engine (``helm-python-sdk``), every
manifest validated against the Kubernetes schemas (``kubernetes-validate``), the rendered config
loaded by the service's own settings loader, and the RBAC held to least privilege."""

from __future__ import annotations

import base64
import copy
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from service.config.settings import Settings, load_settings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "aislot-responder"
RELEASE, RELEASE_NS = "aislot-responder", "monitoring"
# Kubernetes versions whose schemas the manifests must satisfy (k3s in production; the chart's
# kubeVersion floor is 1.25).
KUBE_VERSIONS = ("1.29", "1.33")
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind",
               "impersonate", "approve", "sign"}
READS = {"get", "list", "watch"}


def _need(module: str, pip_name: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # fail, never skip: CI installs the dev extra
        pytest.fail(f"{pip_name} is required for the chart tests (pip install {pip_name}; it is "
                    f"part of the dev dependencies): {exc}")


@pytest.fixture(scope="module")
def helm() -> ModuleType:
    return _need("helm_python", "helm-python-sdk")


@pytest.fixture(scope="module")
def kval() -> ModuleType:
    return _need("kubernetes_validate", "kubernetes-validate")


def render(helm: ModuleType, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Render the chart; returns {'docs': [manifests], 'notes': str}."""
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values or {}, name=RELEASE, namespace=RELEASE_NS, is_install=True)
    docs: list[dict[str, Any]] = []
    notes = ""
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return {"docs": docs, "notes": notes}


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def kinds(docs: list[dict[str, Any]]) -> set[str]:
    return {d["kind"] for d in docs}


# Values sets the tests render with; each must lint clean, render and validate.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "observe": {"config": {"mitigation": {"mode": "observe"}}},
    "dry-run": {"config": {"mitigation": {"mode": "dry-run"}}},
    "secret-kill-switch": {"config": {"mitigation": {"mode": "auto", "target": {
        "kind": "secret", "name": "codex-k8s-runtime",
        "restart_deployment": "codex-k8s-control-plane"}}}},
    "configmap-kill-switch-approval": {"config": {"mitigation": {"mode": "approval", "target": {
        "kind": "configmap", "name": "codex-k8s-settings",
        "restart_deployment": "codex-k8s-control-plane"}}}},
    "observe-secret-kill-switch": {"config": {"mitigation": {"mode": "observe", "target": {
        "kind": "secret", "name": "codex-k8s-runtime"}}}},
    "existing-secret": {"auth": {"existingSecret": "aislot-tokens"},
                        "persistence": {"existingClaim": "aislot-data"}},
    "monitoring-on": {"watchedNamespace": "codex-k8s-staging",
                      "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
                      "prometheusRule": {"enabled": True},
                      "podDisruptionBudget": {"enabled": True},
                      "config": {"sinks": {"ops": {"type": "webhook",
                                                   "url": "http://hooks.internal/aislot",
                                                   "events": ["escalated", "resolved"]}}}},
    "sink-token-by-env": {"config": {"sinks": {"chat": {"type": "telegram",
                                                        "chat_id": "-1001234567"}}},
                          "extraEnv": [{"name": "AISLOT_SINKS__CHAT__TOKEN", "valueFrom": {
                              "secretKeyRef": {"name": "aislot-sinks", "key": "telegram-token"}}}]},
    "postgres-two-replicas": {"replicaCount": 2,
                              "auth": {"existingSecret": "aislot-tokens"},
                              "config": {"store": {"backend": "postgres"}},
                              "podDisruptionBudget": {"enabled": True, "minAvailable": 1}},
    "no-persistence": {"persistence": {"enabled": False},
                       "config": {"store": {"sqlite_path": "/var/lib/aislot/incidents.db"}}},
}


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def case(request: pytest.FixtureRequest, helm: ModuleType) -> dict[str, Any]:
    values = copy.deepcopy(VALUE_SETS[request.param])
    rendered = render(helm, values)
    return {"name": request.param, "values": values, **rendered}


def test_chart_lints_clean_with_every_values_set(helm: ModuleType) -> None:
    for name, values in VALUE_SETS.items():
        report = helm.lint(str(CHART), values, strict=True, namespace=RELEASE_NS)
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert not report["errors"] and not problems, f"{name}: {report}"


def test_every_manifest_validates_against_kubernetes_schemas(
    case: dict[str, Any], kval: ModuleType
) -> None:
    for doc in case["docs"]:
        where = f"{case['name']}: {doc['kind']}/{doc['metadata']['name']}"
        assert doc["metadata"].get("namespace"), f"{where}: namespaced objects name their namespace"
        if doc["kind"] in CRD_KINDS:
            continue  # no schema shipped for CRDs; their shape is checked below
        for version in KUBE_VERSIONS:
            try:
                kval.validate(doc, version, strict=True)
            except kval.ValidationError as exc:
                pytest.fail(f"{where} invalid for Kubernetes {version}: {exc.message} at "
                            f"{list(exc.path)}")


def pod_env(container: dict[str, Any]) -> dict[str, str]:
    """The env the container would get: literal values, and stand-ins for required secrets."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            if ref.get("optional"):
                continue
            key = ref["key"]
            env[item["name"]] = ("postgresql://aislot:pw@db:5432/aislot" if "dsn" in key
                                 else f"token-for-{key}")
    return env


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for key in list(os.environ):
        if key.startswith("AISLOT_"):
            monkeypatch.delenv(key)
    yield monkeypatch


def load_rendered_config(case: dict[str, Any], tmp_path: Path,
                         env: pytest.MonkeyPatch) -> tuple[Settings, dict[str, Any]]:
    docs = case["docs"]
    deploy = one(docs, "Deployment")
    spec = deploy["spec"]["template"]["spec"]
    container = spec["containers"][0]
    cm = one(docs, "ConfigMap")
    # The file lands where AISLOT_CONFIG points: the ConfigMap volume's mount + its key.
    config_path = pod_env(container)["AISLOT_CONFIG"]
    mount = next(m for m in container["volumeMounts"]
                 if config_path.startswith(m["mountPath"].rstrip("/") + "/"))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == cm["metadata"]["name"]
    key = config_path[len(mount["mountPath"].rstrip("/")) + 1:]
    assert key in cm["data"], f"AISLOT_CONFIG={config_path}; ConfigMap keys {list(cm['data'])}"
    path = tmp_path / key
    path.write_text(cm["data"][key], encoding="utf-8")
    for name, value in pod_env(container).items():
        env.setenv(name, value)
    return load_settings(path), deploy


def test_rendered_config_loads_with_the_service_settings_loader(
    case: dict[str, Any], tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    settings, deploy = load_rendered_config(case, tmp_path, clean_env)
    values = case["values"]
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
    assert settings.server.port == port and settings.server.host == "0.0.0.0"
    assert settings.kube.namespace == values.get("watchedNamespace", "codex-k8s-prod")
    assert settings.kube.kubeconfig is None, "in-cluster config"
    assert settings.auth.webhook_token is not None and settings.auth.read_token is not None
    assert settings.server.public_url.endswith(f".{RELEASE_NS}.svc:8080")
    expected_mode = values.get("config", {}).get("mitigation", {}).get("mode", "auto")
    assert settings.mitigation.mode == expected_mode
    if settings.store.backend == "sqlite":
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        data_dir = str(settings.store.sqlite_path.parent)
        assert data_dir in mounts, f"sqlite dir {data_dir} is not a mounted volume: {mounts}"
        assert not any(m.get("readOnly") for m in container["volumeMounts"]
                       if m["mountPath"] == data_dir)
    else:
        assert settings.store.postgres_dsn is not None
    for name, sink in settings.sinks.items():
        assert sink.type in {"webhook", "telegram"}, name  # secrets reached it by env


def test_chart_defaults_match_the_default_config_file(
    helm: ModuleType, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    case = {"name": "defaults", "values": {}, **render(helm)}
    from_chart, _ = load_rendered_config(case, tmp_path, clean_env)
    from_file = load_settings(ROOT / "config" / "responder.yaml")
    for section in ("incidents", "platform", "diagnostics", "mitigation", "escalation"):
        assert getattr(from_chart, section) == getattr(from_file, section), section


def test_deployment_is_hardened_and_probed(case: dict[str, Any]) -> None:
    deploy = one(case["docs"], "Deployment")
    spec = deploy["spec"]["template"]["spec"]
    pod_sc = spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] != 0
    assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["args"] == ["serve"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "http"] == [8080]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}, "tmp for a RO root"
    selector = deploy["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    service = one(case["docs"], "Service")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    sa = one(case["docs"], "ServiceAccount")
    assert spec["serviceAccountName"] == sa["metadata"]["name"]


def test_tokens_come_from_a_secret(case: dict[str, Any]) -> None:
    values = case["values"]
    deploy = one(case["docs"], "Deployment")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
            if "valueFrom" in e and e["name"].startswith(("AISLOT_AUTH__", "AISLOT_STORE__"))}
    assert {"AISLOT_AUTH__WEBHOOK_TOKEN", "AISLOT_AUTH__READ_TOKEN"} <= set(refs)
    assert not any("TOKEN" in e["name"] and "value" in e for e in container["env"])
    existing = values.get("auth", {}).get("existingSecret")
    secrets = [d for d in case["docs"] if d["kind"] == "Secret"]
    if existing:
        assert not secrets, "an existing secret is used as it is"
        assert {r["name"] for r in refs.values()} == {existing}
    else:
        (secret,) = secrets
        assert {r["name"] for r in refs.values()} == {secret["metadata"]["name"]}
        assert {"webhook-token", "read-token", "owner-token"} <= set(secret["data"])
        for value in secret["data"].values():
            assert len(base64.b64decode(value)) >= 32, "generated tokens are long"
    cm = one(case["docs"], "ConfigMap")
    assert "token" not in cm["data"]["responder.yaml"].lower().replace("webhook_token", "")


def test_given_tokens_are_used(helm: ModuleType) -> None:
    docs = render(helm, {"auth": {"webhookToken": "w" * 40, "readToken": "r" * 40}})["docs"]
    data = one(docs, "Secret")["data"]
    assert base64.b64decode(data["webhook-token"]).decode() == "w" * 40
    assert base64.b64decode(data["read-token"]).decode() == "r" * 40


def test_persistence(case: dict[str, Any]) -> None:
    values = case["values"]
    spec = one(case["docs"], "Deployment")["spec"]
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    pvcs = [d for d in case["docs"] if d["kind"] == "PersistentVolumeClaim"]
    backend = values.get("config", {}).get("store", {}).get("backend", "sqlite")
    persistence = values.get("persistence", {})
    if backend != "sqlite":
        assert not pvcs and "data" not in volumes
        assert spec.get("strategy", {}).get("type") != "Recreate"
        return
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    if persistence.get("enabled", True) is False:
        assert not pvcs and "emptyDir" in volumes["data"]
    elif persistence.get("existingClaim"):
        assert not pvcs
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] == persistence["existingClaim"]
    else:
        (pvc,) = pvcs
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
        assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


# ---------------------------------------------------------------------------------------- RBAC


def rules_of(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for d in docs if d["kind"] == "Role" for rule in d["rules"]]


def grants(rules: list[dict[str, Any]], group: str, resource: str) -> list[dict[str, Any]]:
    return [r for r in rules if group in r.get("apiGroups", []) and resource in r["resources"]]


def test_rbac_is_namespaced_least_privilege(case: dict[str, Any]) -> None:
    docs, values = case["docs"], case["values"]
    watched = values.get("watchedNamespace", "codex-k8s-prod")
    assert not kinds(docs) & {"ClusterRole", "ClusterRoleBinding"}, "nothing cluster-wide"
    role, binding = one(docs, "Role"), one(docs, "RoleBinding")
    assert role["metadata"]["namespace"] == watched == binding["metadata"]["namespace"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    sa = one(docs, "ServiceAccount")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": RELEASE_NS}]
    rules = rules_of(docs)
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert not any("*" in item for item in rule.get(field, [])), f"wildcard: {rule}"
        assert "nonResourceURLs" not in rule
        if set(rule["verbs"]) & WRITE_VERBS:
            assert rule.get("resourceNames"), f"a write verb without resourceNames: {rule}"
            assert set(rule["verbs"]) & WRITE_VERBS == {"patch"}, f"only patch is needed: {rule}"
        if {"secrets", "configmaps"} & set(rule["resources"]):
            assert rule.get("resourceNames"), f"Secret/ConfigMap access only by name: {rule}"
            assert not {"list", "watch"} & set(rule["verbs"])
    # What the diagnostics read.
    for group, resource, verbs in [("", "pods", READS), ("", "events", READS),
                                   ("", "pods/log", {"get"}), ("batch", "jobs", READS),
                                   ("apps", "deployments", READS), ("apps", "replicasets", READS)]:
        granted = {v for r in grants(rules, group, resource) if not r.get("resourceNames")
                   for v in r["verbs"]}
        assert verbs <= granted, f"{group}/{resource}: {granted}"
    assert not grants(rules, "", "pods/exec"), "no exec"


def test_mitigation_rbac_follows_mode_and_target(case: dict[str, Any]) -> None:
    mitigation = case["values"].get("config", {}).get("mitigation", {})
    mode = mitigation.get("mode", "auto")
    target = {"kind": "deployment-env", "name": "codex-k8s-control-plane",
              "restart_deployment": "codex-k8s-control-plane", **mitigation.get("target", {})}
    rules = rules_of(case["docs"])
    writes = [r for r in rules if set(r["verbs"]) & WRITE_VERBS]
    if mode in {"observe", "dry-run"}:
        assert writes == [], f"{mode} must grant no write verb: {writes}"
    else:
        expected = {("apps", "deployments",
                     target["name"] if target["kind"] == "deployment-env"
                     else target["restart_deployment"])}
        if target["kind"] == "secret":
            expected.add(("", "secrets", target["name"]))
        if target["kind"] == "configmap":
            expected.add(("", "configmaps", target["name"]))
        got = {(g, res, name) for r in writes for g in r["apiGroups"] for res in r["resources"]
               for name in r["resourceNames"]}
        assert got == expected
    named_reads = {(res, name) for r in rules for res in r["resources"]
                   for name in r.get("resourceNames", []) if res in {"secrets", "configmaps"}}
    if target["kind"] in {"secret", "configmap"}:
        assert named_reads == {(target["kind"] + "s", target["name"])}
    else:
        assert named_reads == set(), "no Secret/ConfigMap access when the switch is an env var"


# -------------------------------------------------------------------- optional monitoring objects


def test_monitoring_objects_shape(helm: ModuleType) -> None:
    values = VALUE_SETS["monitoring-on"]
    docs = render(helm, copy.deepcopy(values))["docs"]
    service = one(docs, "Service")
    sm = one(docs, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "kps"
    assert sm["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [RELEASE_NS]}
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    pdb = one(docs, "PodDisruptionBudget")
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    rule = one(docs, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    catalog = yaml.safe_load((ROOT / "config" / "prometheus-rules.yml").read_text())
    expected = yaml.safe_load(
        yaml.safe_dump(catalog["groups"]).replace("codex-k8s-prod", values["watchedNamespace"]))
    assert rule["spec"]["groups"] == expected
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert alerts == {"AI_SLOT_BUILD_FAILURE_BURST", "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT",
                      "AI_SLOT_CODEGEN_CHECK_BUILD_REF_INVALID",
                      "AI_SLOT_BUILD_FAILURE_RATE_ELEVATED", "AI_SLOT_BUILD_MTTR_SLO_RISK",
                      "AISLOT_RESPONDER_NOTIFICATIONS_REJECTED"}
    for r in (r for g in rule["spec"]["groups"] for r in g["rules"]):
        assert "{{ $labels.namespace }}" in r["annotations"]["summary"] + r["annotations"][
            "description"] or r["labels"].get("namespace") == values["watchedNamespace"]


def test_chart_rules_file_is_the_catalog() -> None:
    chart_copy = CHART / "files" / "prometheus-rules.yml"
    assert chart_copy.read_bytes() == (ROOT / "config" / "prometheus-rules.yml").read_bytes(), (
        "helm/aislot-responder/files/prometheus-rules.yml must be a copy of "
        "config/prometheus-rules.yml: cp config/prometheus-rules.yml "
        "helm/aislot-responder/files/")


def test_optional_objects_are_off_by_default(helm: ModuleType) -> None:
    docs = render(helm)["docs"]
    assert kinds(docs) == {"ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding",
                           "Service", "Deployment", "PersistentVolumeClaim"}


def test_notes_tell_how_to_wire_alertmanager(helm: ModuleType) -> None:
    notes = render(helm)["notes"]
    assert f"http://{RELEASE}.{RELEASE_NS}.svc:8080/webhook" in notes
    assert "send_resolved: true" in notes and "credentials_file" in notes


# ------------------------------------------------------------------------------- refused values


@pytest.mark.parametrize("values, message", [
    ({"replicaCount": 2}, "SQLite has a single writer"),
    ({"config": {"store": {"backend": "postgres"}}}, "auth.existingSecret"),
    ({"config": {"mitigation": {"mode": "yolo"}}}, "mitigation/mode"),
    ({"config": {"auth": {"read_token": "inline"}}}, "read_token"),
    ({"config": {"sinks": {"chat": {"type": "slack", "token": "inline"}}}}, "token"),
    ({"config": {"server": {"prot": 1}}}, "prot"),
    ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
    ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
    ({"watchedNamespace": "Not_A_Namespace"}, "watchedNamespace"),
    ({"config": {"store": {"sqlite_path": "relative.db"}}}, "sqlite_path"),
])
def test_bad_values_are_refused(helm: ModuleType, values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError) as err:
        render(helm, values)
    assert message in str(err.value)
