"""The Deployment and ReplicaSet controllers of the simulated cluster.

Purpose: turn a Deployment spec into ReplicaSets and pods and progress a rollout over simulated
time the way kube-controller-manager does: a new ReplicaSet per pod template (named by
pod-template-hash, with a revision), surge then scale-down (RollingUpdate) or down-then-up
(Recreate), pods Pending -> Running -> Ready, `observedGeneration`, replica counters, the
Progressing/Available conditions and ProgressDeadlineExceeded when pods never become ready.
Boundary: mutates the store only; time and pod readiness policy come from the world.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from simulator import manifests as mf
from simulator import pod_status as ps
from simulator.clock import rfc3339
from simulator.identity import Identity
from simulator.rollout_status import deployment_status, replica_set_status
from simulator.scenario import RolloutPlan
from simulator.scheduler import Agenda
from simulator.store import ObjectStore

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"
EventSink = Callable[[Obj, str, str, str, bool], None]


class RolloutController:
    """Reconciles Deployments into ReplicaSets and pods."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        ident: Identity,
        agenda: Agenda,
        plan: RolloutPlan,
        never_ready: Callable[[str, int], bool],
        on_ready: Callable[[Obj], None],
        record: EventSink,
    ) -> None:
        self.store = store
        self.ident = ident
        self.agenda = agenda
        self.plan = plan
        self.never_ready = never_ready
        self.on_ready = on_ready
        self.record = record

    # -- queries -----------------------------------------------------------------------------
    def replica_sets(self, deploy: Obj) -> list[Obj]:
        uid = deploy["metadata"]["uid"]
        return [
            rs
            for rs in self.store.items("replicasets", deploy["metadata"]["namespace"])
            if any(o["uid"] == uid for o in rs["metadata"].get("ownerReferences", []))
        ]

    def pods_of(self, rs: Obj, active_only: bool = True) -> list[Obj]:
        uid = rs["metadata"]["uid"]
        return [
            p
            for p in self.store.items("pods", rs["metadata"]["namespace"])
            if any(o["uid"] == uid for o in p["metadata"].get("ownerReferences", []))
            and not (active_only and p["metadata"].get("deletionTimestamp"))
        ]

    @staticmethod
    def is_ready(pod: Obj) -> bool:
        return any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )

    @staticmethod
    def revision(obj: Obj) -> int:
        return int(obj["metadata"].get("annotations", {}).get(REVISION, "0"))

    # -- reconcile ---------------------------------------------------------------------------
    def sync(self, name: str, namespace: str, instant: bool = False) -> None:
        """React to a created or changed Deployment."""
        deploy = self.store.peek("deployments", namespace, name)
        if deploy is None:
            return
        now = self.agenda.now
        template = deploy["spec"]["template"]
        digest = mf.template_hash(template)
        sets = self.replica_sets(deploy)
        new = next((rs for rs in sets if rs["metadata"]["labels"].get(HASH) == digest), None)
        top = max((self.revision(rs) for rs in sets), default=0)
        if new is None:
            new = self._new_replica_set(deploy, digest, top + 1, now)
            sets.append(new)
        elif self.revision(new) < top:
            new["metadata"]["annotations"][REVISION] = str(top + 1)
            self.store.update("replicasets", new)
        annotations = deploy["metadata"].setdefault("annotations", {})
        if annotations.get(REVISION) != str(self.revision(new)):
            annotations[REVISION] = str(self.revision(new))
            self.store.update("deployments", deploy)
        desired = int(deploy["spec"].get("replicas", 1))
        old = [rs for rs in sets if rs is not new]
        recreate = deploy["spec"].get("strategy", {}).get("type") == "Recreate"
        if recreate and any(self.pods_of(rs) for rs in old):
            for rs in old:
                self._scale(rs, 0, now, instant)
            self.agenda.after(self.plan.terminate_seconds, lambda: self.sync(name, namespace))
        else:
            self._scale(new, desired, now, instant)
            if instant:
                for rs in old:
                    self._scale(rs, 0, now, instant)
        self._refresh(deploy, now)
        gen = deploy["metadata"].get("generation", 1)
        deadline = float(deploy["spec"].get("progressDeadlineSeconds", 600))
        if not instant:
            self.agenda.after(deadline, lambda: self._check_deadline(name, namespace, gen))

    def _new_replica_set(self, deploy: Obj, digest: str, revision: int, now: float) -> Obj:
        name = f"{deploy['metadata']['name']}-{digest}"
        template = copy.deepcopy(deploy["spec"]["template"])
        template["metadata"].setdefault("labels", {})[HASH] = digest
        labels = dict(template["metadata"]["labels"])
        rs: Obj = {
            "kind": "ReplicaSet",
            "apiVersion": "apps/v1",
            "metadata": mf.meta(
                name,
                deploy["metadata"]["namespace"],
                self.ident.uid(),
                now,
                labels=labels,
                generation=1,
            ),
            "spec": {
                "replicas": 0,
                "selector": {
                    "matchLabels": {**deploy["spec"]["selector"]["matchLabels"], HASH: digest}
                },
                "template": template,
            },
            "status": {"replicas": 0},
        }
        desired = str(deploy["spec"].get("replicas", 1))
        rs["metadata"]["annotations"] = {
            "deployment.kubernetes.io/desired-replicas": desired,
            "deployment.kubernetes.io/max-replicas": desired,
            REVISION: str(revision),
        }
        rs["metadata"]["ownerReferences"] = [mf.owner("apps/v1", "Deployment", deploy)]
        self.store.create("replicasets", rs)
        return rs

    def _scale(self, rs: Obj, replicas: int, now: float, instant: bool) -> None:
        before = int(rs["spec"].get("replicas", 0))
        pods = self.pods_of(rs)
        if before != replicas:
            rs["spec"]["replicas"] = replicas
            rs["metadata"]["generation"] = rs["metadata"].get("generation", 1) + 1
            owner = self._owner_deployment(rs)
            if owner is not None and not instant:
                verb = "up" if replicas > before else "down"
                self.record(
                    owner,
                    "ScalingReplicaSet",
                    f"Scaled {verb} replica set {rs['metadata']['name']} from {before} "
                    f"to {replicas}",
                    "deployment-controller",
                    False,
                )
        for _ in range(replicas - len(pods)):
            self._create_pod(rs, now, instant)
        for pod in pods[replicas:] if replicas < len(pods) else []:
            self._terminate(pod, now, instant)
        self._refresh_rs(rs)

    def _owner_deployment(self, rs: Obj) -> Obj | None:
        ref = rs["metadata"]["ownerReferences"][0]
        return self.store.peek("deployments", rs["metadata"]["namespace"], ref["name"])

    def _create_pod(self, rs: Obj, now: float, instant: bool) -> None:
        ns = rs["metadata"]["namespace"]
        name = f"{rs['metadata']['name']}-{self.ident.suffix()}"
        pod = mf.new_pod(
            self.ident,
            name,
            ns,
            template=rs["spec"]["template"],
            owner_ref=mf.owner("apps/v1", "ReplicaSet", rs),
            ts=now,
        )
        deploy = self._owner_deployment(rs)
        blocked = deploy is not None and self.never_ready(
            deploy["metadata"]["name"], self.revision(rs)
        )
        if instant:
            ps.set_pod_running(pod, self.ident, now, ready=not blocked)
            self.store.create("pods", pod)
            if not blocked:
                self.on_ready(pod)
            return
        self.store.create("pods", pod)
        self.record(
            pod,
            "Scheduled",
            f"Successfully assigned {ns}/{name} to {mf.NODE}",
            "default-scheduler",
            False,
        )
        self.record(rs, "SuccessfulCreate", f"Created pod: {name}", "replicaset-controller", False)
        self.agenda.after(self.plan.start_seconds, lambda: self._start(ns, name, blocked))

    def _start(self, ns: str, name: str, blocked: bool) -> None:
        pod = self.store.peek("pods", ns, name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        ps.set_pod_running(pod, self.ident, self.agenda.now, ready=False)
        self.store.update("pods", pod)
        container = pod["spec"]["containers"][0]["name"]
        self.record(pod, "Started", f"Started container {container}", "kubelet", False)
        delay = max(0.0, self.plan.ready_seconds - self.plan.start_seconds)
        self.agenda.after(delay, lambda: self._ready(ns, name, blocked))

    def _ready(self, ns: str, name: str, blocked: bool) -> None:
        pod = self.store.peek("pods", ns, name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        if blocked:
            self.record(
                pod,
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                "kubelet",
                True,
            )
            self.agenda.after(60.0, lambda: self._ready(ns, name, blocked))
            return
        ps.set_pod_running(pod, self.ident, self.agenda.now, ready=True)
        self.store.update("pods", pod)
        self.on_ready(pod)
        rs = self.store.peek("replicasets", ns, pod["metadata"]["ownerReferences"][0]["name"])
        if rs is None:
            return
        deploy = self._owner_deployment(rs)
        if deploy is not None:
            self._progress(deploy)

    def _progress(self, deploy: Obj) -> None:
        now = self.agenda.now
        digest = mf.template_hash(deploy["spec"]["template"])
        sets = self.replica_sets(deploy)
        new = next((rs for rs in sets if rs["metadata"]["labels"].get(HASH) == digest), None)
        if new is None:
            return
        ready = [p for p in self.pods_of(new) if self.is_ready(p)]
        if len(ready) >= int(deploy["spec"].get("replicas", 1)):
            for rs in sets:
                if rs is not new and self.pods_of(rs):
                    self._scale(rs, 0, now, False)
        self._refresh_rs(new)
        self._refresh(deploy, now)

    def _terminate(self, pod: Obj, now: float, instant: bool) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        if instant:
            self.store.delete("pods", ns, name)
            return
        pod["metadata"]["deletionTimestamp"] = rfc3339(now + 30)
        pod["metadata"]["deletionGracePeriodSeconds"] = 30
        self.store.update("pods", pod)
        container = pod["spec"]["containers"][0]["name"]
        self.record(pod, "Killing", f"Stopping container {container}", "kubelet", False)

        def remove() -> None:
            self.store.delete("pods", ns, name)
            rs = self.store.peek("replicasets", ns, pod["metadata"]["ownerReferences"][0]["name"])
            if rs is not None:
                self._refresh_rs(rs)
                deploy = self._owner_deployment(rs)
                if deploy is not None:
                    self._refresh(deploy, self.agenda.now)

        self.agenda.after(self.plan.terminate_seconds, remove)

    def _check_deadline(self, name: str, ns: str, generation: int) -> None:
        deploy = self.store.peek("deployments", ns, name)
        if deploy is None or deploy["metadata"].get("generation") != generation:
            return
        self._refresh(deploy, self.agenda.now, deadline_passed=True)

    # -- status ------------------------------------------------------------------------------
    def _refresh_rs(self, rs: Obj) -> None:
        status = replica_set_status(rs, self.pods_of(rs), self.is_ready)
        if status != rs.get("status"):
            rs["status"] = status
            self.store.update("replicasets", rs)

    def _refresh(self, deploy: Obj, now: float, deadline_passed: bool = False) -> None:
        digest = mf.template_hash(deploy["spec"]["template"])
        sets = self.replica_sets(deploy)
        for rs in sets:
            self._refresh_rs(rs)
        pods = {rs["metadata"]["uid"]: self.pods_of(rs) for rs in sets}
        status = deployment_status(
            deploy,
            sets,
            pods,
            digest=digest,
            now=now,
            deadline_passed=deadline_passed,
            is_ready=self.is_ready,
        )
        if status != deploy.get("status"):
            deploy["status"] = status
            self.store.update("deployments", deploy)
