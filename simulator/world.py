"""The simulated namespace as a living world.

Purpose: own the store, the agenda, the controllers and the platform activity; build the
platform's initial objects; move everything forward to the clock's "now" (replaying preloaded
history first); resolve which cache switch value the running control-plane pod started with;
and answer which log source backs a pod.
Boundary: no HTTP; the API layer calls `sync()` before reading and `write()` to change objects.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any

from simulator import blueprint as bp
from simulator import catalog, status
from simulator import manifests as mf
from simulator.activity import PlatformActivity
from simulator.clock import Clock, rfc3339
from simulator.identity import Identity
from simulator.logbook import Journal, Line, LineSource, NoiseTrack
from simulator.rollout import RolloutController
from simulator.scenario import Scenario
from simulator.scheduler import Agenda
from simulator.store import ObjectStore

Obj = dict[str, Any]
COMPONENTS = {"control-plane": 20.0, "worker": 30.0, "api-gateway": 15.0, "registry": 10.0}
EVENT_TTL = 3600.0


class World:
    """Everything inside namespace `codex-k8s-prod`, moved forward by the clock."""

    def __init__(self, scenario: Scenario, clock: Clock, namespace: str = bp.NAMESPACE) -> None:
        self.scenario = scenario
        self.clock = clock
        self.namespace = namespace
        now = clock.now()
        self.origin = now - scenario.history_seconds
        self.agenda = Agenda(self.origin - 2 * 86400)
        self._moved: asyncio.Event | None = None  # set when time moves (followed logs)
        self.store = ObjectStore()
        self.ident = Identity(scenario.seed)
        self.journals = {c: Journal() for c in COMPONENTS}
        self.noise = {c: NoiseTrack(c, p, offset=p / 3) for c, p in COMPONENTS.items()}
        self.scripts: dict[str, list[Line]] = {}
        self._switch: bool = True
        self.rollouts = RolloutController(
            self.store,
            ident=self.ident,
            agenda=self.agenda,
            plan=scenario.rollout,
            never_ready=self._never_ready,
            on_ready=self._pod_ready,
            record=self.record,
        )
        self.activity = PlatformActivity(
            self.store,
            ident=self.ident,
            agenda=self.agenda,
            scenario=scenario,
            namespace=namespace,
            journals=self.journals,
            scripts=self.scripts,
            cache_enabled=lambda: self._switch,
            build_ref=self._build_ref,
            registry_ok=lambda: self.registry_ok,
            record=self.record,
        )
        self._bootstrap()
        self.agenda.run_until(self.origin)
        self.activity.start(self.origin)
        self.agenda.run_until(now)

    # -- setup -------------------------------------------------------------------------------
    @property
    def registry_ok(self) -> bool:
        return self.scenario.registry_available

    def _never_ready(self, deployment: str, revision: int) -> bool:
        if deployment == bp.REGISTRY_DEPLOYMENT and not self.registry_ok:
            return True
        return deployment in self.scenario.rollout.stuck_deployments and revision > 1

    def _stamp(self, obj: Obj, ts: float) -> Obj:
        obj["metadata"].setdefault("namespace", self.namespace)
        obj["metadata"]["uid"] = self.ident.uid()
        obj["metadata"]["creationTimestamp"] = rfc3339(ts)
        return obj

    def _bootstrap(self) -> None:
        installed = self.agenda.now - 26 * 86400
        ns: Obj = {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": self.namespace,
                "labels": {"kubernetes.io/metadata.name": self.namespace},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self._stamp(ns, installed)
        ns["metadata"].pop("namespace")
        self.store.create("namespaces", ns)
        location = self.scenario.switch_location
        in_secret = location in ("secret", "valueFrom")
        self.store.create("secrets", self._stamp(bp.runtime_secret(in_secret), installed))
        self.store.create(
            "configmaps", self._stamp(bp.config_map(self.scenario.codegen.build_ref), installed)
        )
        self.store.create("services", self._stamp(bp.registry_service(), installed))
        self.store.create("cronjobs", self._stamp(bp.registry_gc_cronjob(), installed))
        for deploy in bp.deployments(switch_in_env=not in_secret,
                                     switch_from_secret=location == "valueFrom"):
            deploy["metadata"]["generation"] = 1
            deploy["status"] = {}
            mf.default_template(deploy["spec"]["template"])
            self.store.create("deployments", self._stamp(deploy, installed))
            self.rollouts.sync(deploy["metadata"]["name"], self.namespace, instant=True)

    # -- time --------------------------------------------------------------------------------
    def sync(self) -> float:
        """Run everything due up to the clock's now; returns now."""
        now = self.clock.now()
        before = self.agenda.now
        self.agenda.run_until(now)
        if now > before and self._moved is not None:
            # Followed logs learn of new lines as a kubelet's stream does: when written.
            self._moved.set()
            self._moved = None
        return now

    async def moved(self, within_s: float) -> None:
        """Until time moves on (a sync past now), or ``within_s`` real seconds."""
        if self._moved is None:
            self._moved = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._moved.wait(), within_s)

    @property
    def now(self) -> float:
        return self.agenda.now

    def record(
        self, involved: Obj, reason: str, message: str, component: str, warning: bool
    ) -> None:
        """Emit a core/v1 Event that expires after an hour."""
        ev = mf.event(
            self.ident,
            self.namespace,
            involved,
            reason=reason,
            message=message,
            ts=self.agenda.now,
            component=component,
            warning=warning,
        )
        self.store.create("events", ev)
        name = ev["metadata"]["name"]

        def expire() -> None:
            self.store.delete("events", self.namespace, name)

        self.agenda.after(EVENT_TTL, expire)

    # -- the cache switch --------------------------------------------------------------------
    def _lookup(self, plural: str, name: str, key: str) -> str | None:
        obj = self.store.peek(plural, self.namespace, name)
        if obj is None:
            return None
        if plural == "secrets":
            raw = (obj.get("data") or {}).get(key)
            return base64.b64decode(raw).decode() if raw is not None else None
        value = (obj.get("data") or {}).get(key)
        return str(value) if value is not None else None

    def resolve_env(self, container: Obj, key: str) -> str | None:
        """The value a container started now would see for env var `key`."""
        value: str | None = None
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                found = self._lookup("secrets", source["secretRef"]["name"], key)
            elif "configMapRef" in source:
                found = self._lookup("configmaps", source["configMapRef"]["name"], key)
            else:
                found = None
            value = found if found is not None else value
        for entry in container.get("env") or []:
            if entry.get("name") != key:
                continue
            if "value" in entry:
                value = str(entry["value"])
            ref = entry.get("valueFrom") or {}
            if "secretKeyRef" in ref:
                key_ref = ref["secretKeyRef"]
                value = self._lookup("secrets", key_ref["name"], key_ref["key"])
            elif "configMapKeyRef" in ref:
                value = self._lookup(
                    "configmaps", ref["configMapKeyRef"]["name"], ref["configMapKeyRef"]["key"]
                )
        return value

    def _pod_ready(self, pod: Obj) -> None:
        labels = pod["metadata"].get("labels", {})
        if labels.get("app.kubernetes.io/component") != "control-plane":
            return
        container = next(
            (c for c in pod["spec"]["containers"] if c["name"] == "control-plane"),
            pod["spec"]["containers"][0],
        )
        value = self.resolve_env(container, bp.SWITCH)
        self._switch = (value or "true").strip().lower() != "false"

    @property
    def cache_enabled(self) -> bool:
        """The switch value the serving control-plane pod started with."""
        return self._switch

    def _build_ref(self) -> str:
        return self._lookup("configmaps", bp.CONFIG_MAP, "CODEXK8S_BUILD_REF") or "main"

    # -- logs --------------------------------------------------------------------------------
    def log_source(self, pod: Obj) -> LineSource:
        """The lines behind a pod's only container."""
        name = pod["metadata"]["name"]
        if name in self.scripts:
            return LineSource(script=self.scripts[name])
        labels = pod["metadata"].get("labels", {})
        component = labels.get("app.kubernetes.io/component")
        if labels.get("app.kubernetes.io/name") == "codex-k8s-registry":
            component = "registry"
        if component in self.journals:
            return LineSource(self.journals[component], self.noise[component])
        return LineSource()

    # -- writes from the API -----------------------------------------------------------------
    def replace(self, plural: str, name: str, new: Obj, expected_rv: str | None = None) -> Obj:
        """Store a client's new version of an object (PUT or the result of a PATCH).

        Identity fields and status are kept from the stored object; `generation` is bumped
        when the spec changes; a Deployment whose spec changed is reconciled (rollout).
        """
        res = catalog.by_plural(plural)
        current = self.store.peek(plural, self.namespace, name)
        if current is None:
            raise status.not_found(plural, res.group, name)
        cur_meta = current["metadata"]
        if expected_rv and expected_rv != cur_meta["resourceVersion"]:
            raise status.conflict(plural, res.group, name)
        merged = dict(new)
        merged["kind"], merged["apiVersion"] = current["kind"], current["apiVersion"]
        meta = dict(merged.get("metadata") or {})
        for key in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "ownerReferences",
            "deletionTimestamp",
        ):
            if key in cur_meta:
                meta[key] = cur_meta[key]
        meta.pop("resourceVersion", None)
        merged["metadata"] = meta
        if "status" in current:
            merged["status"] = current["status"]
        if plural == "secrets" and "stringData" in merged:
            data = dict(merged.get("data") or {})
            for key, value in (merged.pop("stringData") or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            merged["data"] = data
        new_selector = (merged.get("spec") or {}).get("selector")
        if plural == "deployments" and new_selector != current["spec"].get("selector"):
            raise status.invalid("Deployment", "apps", name, "spec.selector", "field is immutable")
        if plural in ("deployments", "replicasets") and isinstance(merged.get("spec"), dict):
            template = merged["spec"].get("template")
            if isinstance(template, dict):
                conflict = mf.env_conflict(template)
                if conflict is not None:
                    raise status.invalid(current["kind"], res.group, name, *conflict)
                mf.default_template(template)
        spec_changed = merged.get("spec") != current.get("spec")
        if spec_changed and "generation" in cur_meta:
            meta["generation"] = int(cur_meta["generation"]) + 1
        probe = {**merged, "metadata": {**meta, "resourceVersion": cur_meta["resourceVersion"]}}
        if probe == current:
            return self.store.get(plural, self.namespace, name) or probe
        self.store.update(plural, merged)
        if plural == "deployments" and spec_changed:
            self.rollouts.sync(name, self.namespace)
        return self.store.get(plural, self.namespace, name) or merged

    def delete(self, plural: str, name: str) -> None:
        """Delete an object as a client would; owned pods of a Deployment are replaced."""
        obj = self.store.delete(plural, self.namespace, name)
        if obj is None:
            return
        if plural == "jobs":
            for pod in self.store.copies("pods", self.namespace):
                if pod["metadata"].get("labels", {}).get("job-name") == name:
                    self.store.delete("pods", self.namespace, pod["metadata"]["name"])
                    self.scripts.pop(pod["metadata"]["name"], None)
        if plural == "pods":
            self.scripts.pop(name, None)
            refs = obj["metadata"].get("ownerReferences") or [{}]
            rs = self.store.peek("replicasets", self.namespace, refs[0].get("name", ""))
            if rs is not None and refs[0].get("kind") == "ReplicaSet":
                owner = rs["metadata"]["ownerReferences"][0]["name"]
                self.rollouts.sync(owner, self.namespace)
