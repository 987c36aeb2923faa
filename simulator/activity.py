"""The platform at work: build, mirror and codegen-check jobs that keep being created.

Purpose: on the scenario's cadence the control-plane launches kaniko build jobs (components in
turn), image-mirror jobs and codegen-check jobs; each gets a Job and a pod with realistic status
progression and output, the control-plane and worker journals get slog lines relaying the
result (run ids, multi-line job output in `msg`), and finished jobs vanish after
`ttlSecondsAfterFinished`. Outcomes follow the scenario and the cache switch the running
control-plane pod was started with.
Boundary: writes to the store, journals and job-pod scripts; reads the switch through callables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator import phrasebook as pb
from simulator import pod_status as ps
from simulator.identity import Identity
from simulator.jobs import JobRecord, job_pod, new_job, set_job_finished, set_job_running
from simulator.logbook import Journal, Line
from simulator.scenario import Outcome, Scenario
from simulator.scheduler import Agenda
from simulator.store import ObjectStore

Obj = dict[str, Any]
EventSink = Callable[[Obj, str, str, str, bool], None]
MIRROR_IMAGES = ["golang:1.24-alpine", "node:22-alpine", "alpine:3.21", "postgres:16-alpine"]


class PlatformActivity:
    """Schedules and runs the platform's jobs."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        ident: Identity,
        agenda: Agenda,
        scenario: Scenario,
        namespace: str,
        journals: dict[str, Journal],
        scripts: dict[str, list[Line]],
        cache_enabled: Callable[[], bool],
        build_ref: Callable[[], str],
        registry_ok: Callable[[], bool],
        record: EventSink,
    ) -> None:
        self.store = store
        self.ident = ident
        self.agenda = agenda
        self.scenario = scenario
        self.namespace = namespace
        self.journals = journals
        self.scripts = scripts
        self.cache_enabled = cache_enabled
        self.build_ref = build_ref
        self.registry_ok = registry_ok
        self.record = record
        self.history: list[JobRecord] = []
        self._turn = 0
        self._origin = 0.0
        self._lines = 0

    def start(self, origin: float) -> None:
        self._origin = origin
        plan = self.scenario
        self.agenda.at(origin + plan.builds.first_after_seconds, self._build)
        self.agenda.at(origin + plan.mirror.first_after_seconds, self._mirror)
        self.agenda.at(origin + plan.codegen.first_after_seconds, self._codegen)

    # -- launchers ---------------------------------------------------------------------------
    def _log(self, journal: str, level: str, msg: str, **attrs: Any) -> None:
        """A slog line a few milliseconds after the event that caused it."""
        self._lines += 1
        ts = self.agenda.now + (self._lines * 7919 % 997 + 3) / 1000.0
        self.journals[journal].add(ts, pb.slog(ts, level, msg, **attrs))

    def _build(self) -> None:
        plan = self.scenario.builds
        self.agenda.after(plan.interval_seconds, self._build)
        component = plan.components[self._turn % len(plan.components)]
        self._turn += 1
        cache = self.cache_enabled()
        outcome: Outcome = plan.cache_on if cache else plan.cache_off
        phase = next((p for p in plan.phases
                      if self.agenda.now - self._origin < p.until_seconds), None)
        if cache and phase is not None:
            outcome = phase.outcome
        if not self.registry_ok() and outcome == "success":
            outcome = "registry_unavailable"
        suffix = self.ident.hex(8)
        run_id = self.ident.uid()
        sha = self.ident.hex(40)
        name = f"codex-k8s-kaniko-{component}-{suffix}"
        output = pb.kaniko_output(component, sha, self.ident.token(), outcome, cache)
        duration = plan.success_seconds if outcome == "success" else plan.failure_seconds
        labels = {
            "app.kubernetes.io/name": "codex-k8s-kaniko",
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": "codex-k8s-control-plane",
            "codex-k8s.dev/run-id": run_id,
        }
        args = [
            f"--context=git://{pb.REPO}#{sha}",
            f"--destination={pb.image_ref(component, sha)}",
            f"--cache={'true' if cache else 'false'}",
            f"--cache-repo={pb.REGISTRY}/codex-k8s/cache",
        ]
        record = JobRecord(name, "build", component, run_id, outcome, cache, self.agenda.now)
        self._log(
            "control-plane",
            "INFO",
            "kaniko build job created",
            job=name,
            component=component,
            run_id=run_id,
            cache_enabled=cache,
        )
        self._log(
            "worker",
            "INFO",
            "run stage started",
            run_id=run_id,
            stage="build",
            component=component,
            job=name,
        )
        self._launch(
            record,
            labels,
            container="kaniko",
            image="gcr.io/kaniko-project/executor:v1.23.2",
            args=args,
            output=output,
            duration=duration,
            ttl=plan.ttl_seconds,
        )

    def _mirror(self) -> None:
        plan = self.scenario.mirror
        self.agenda.after(plan.interval_seconds, self._mirror)
        image = MIRROR_IMAGES[len(self.history) % len(MIRROR_IMAGES)]
        outcome: Outcome = plan.outcome
        if not self.registry_ok() and outcome == "success":
            outcome = "registry_unavailable"
        name = f"codex-k8s-image-mirror-{self.ident.hex(8)}"
        record = JobRecord(
            name, "mirror", "image-mirror", "", outcome, self.cache_enabled(), self.agenda.now
        )
        labels = {
            "app.kubernetes.io/name": "codex-k8s-image-mirror",
            "app.kubernetes.io/component": "image-mirror",
            "app.kubernetes.io/managed-by": "codex-k8s-control-plane",
        }
        self._log("control-plane", "INFO", "image mirror job created", job=name, image=image)
        self._launch(
            record,
            labels,
            container="mirror",
            image="gcr.io/go-containerregistry/crane:v0.20.2",
            args=["copy", image, f"{pb.REGISTRY}/mirror/{image}"],
            output=pb.mirror_output(image, outcome),
            duration=plan.duration_seconds,
            ttl=plan.ttl_seconds,
        )

    def _codegen(self) -> None:
        plan = self.scenario.codegen
        self.agenda.after(plan.interval_seconds, self._codegen)
        ref = self.build_ref()
        outcome: Outcome = plan.outcome if ref == plan.build_ref else "success"
        name = f"codex-k8s-codegen-check-{self.ident.hex(8)}"
        run_id = self.ident.uid()
        record = JobRecord(
            name, "codegen", "codegen-check", run_id, outcome, self.cache_enabled(), self.agenda.now
        )
        labels = {
            "app.kubernetes.io/name": "codex-k8s",
            "app.kubernetes.io/component": "codegen-check",
            "app.kubernetes.io/managed-by": "codex-k8s-control-plane",
        }
        self._log(
            "control-plane",
            "INFO",
            "codegen-check job created",
            job=name,
            run_id=run_id,
            build_ref=ref,
        )
        output = pb.codegen_output(ref, self.ident.hex(40), self.ident.token(), outcome)
        self._launch(
            record,
            labels,
            container="codegen-check",
            image="ghcr.io/codex-k8s/codex-k8s/codegen:v0.14.2",
            args=["check", f"--ref={ref}"],
            output=output,
            duration=plan.duration_seconds,
            ttl=plan.ttl_seconds,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def _launch(
        self,
        record: JobRecord,
        labels: dict[str, str],
        *,
        container: str,
        image: str,
        args: list[str],
        output: list[str],
        duration: float,
        ttl: int,
    ) -> None:
        now = self.agenda.now
        job = new_job(
            self.ident,
            record.name,
            self.namespace,
            labels=labels,
            container=container,
            image=image,
            args=args,
            ttl=ttl,
            now=now,
        )
        self.store.create("jobs", job)
        pod = job_pod(self.ident, job, now)
        self.store.create("pods", pod)
        pod_name = pod["metadata"]["name"]
        self.record(job, "SuccessfulCreate", f"Created pod: {pod_name}", "job-controller", False)
        start = now + 2.0
        step = max(duration - 3.0, 1.0) / max(len(output), 1)
        record.lines = [(start + 1.0 + i * step, text) for i, text in enumerate(output)]
        self.scripts[pod_name] = record.lines
        self.history.append(record)

        def running() -> None:
            live_pod = self.store.peek("pods", self.namespace, pod_name)
            live_job = self.store.peek("jobs", self.namespace, record.name)
            if live_pod is None or live_job is None:
                return
            ps.set_pod_running(live_pod, self.ident, self.agenda.now, ready=True)
            self.store.update("pods", live_pod)
            set_job_running(live_job, ready=1)
            self.store.update("jobs", live_job)

        self.agenda.at(start, running)
        self.agenda.at(now + duration, lambda: self._finish(record, pod_name, ttl))

    def _finish(self, record: JobRecord, pod_name: str, ttl: int) -> None:
        now = self.agenda.now
        record.finished = now
        ok = record.succeeded
        pod = self.store.peek("pods", self.namespace, pod_name)
        job = self.store.peek("jobs", self.namespace, record.name)
        if pod is not None:
            ps.set_pod_terminated(pod, self.ident, now, 0 if ok else 1)
            self.store.update("pods", pod)
        if job is not None:
            set_job_finished(job, ok, now)
            self.store.update("jobs", job)
            if ok:
                self.record(job, "Completed", "Job completed", "job-controller", False)
            else:
                self.record(
                    job,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    "job-controller",
                    True,
                )
        self._relay(record)
        self.agenda.after(float(ttl), lambda: self._expire(record.name, pod_name))

    def _relay(self, record: JobRecord) -> None:
        tail = "\n".join(text for _, text in record.lines[-4:])
        label = {
            "build": "kaniko build job",
            "mirror": "image mirror job",
            "codegen": "codegen-check job",
        }[record.kind]
        attrs: dict[str, Any] = {"job": record.name}
        if record.run_id:
            attrs["run_id"] = record.run_id
        if record.succeeded:
            self._log("control-plane", "INFO", f"{label} completed", **attrs)
        else:
            self._log("control-plane", "ERROR", f"{label} failed:\n{tail}", exit_code=1, **attrs)
        if record.kind != "build":
            return
        if record.succeeded:
            self._log(
                "worker",
                "INFO",
                "run stage completed",
                run_id=record.run_id,
                stage="build",
                job=record.name,
            )
        else:
            self._log(
                "worker",
                "ERROR",
                "build failed",
                run_id=record.run_id,
                stage="build",
                job=record.name,
                error=record.lines[-1][1] if record.lines else "",
            )

    def _expire(self, job_name: str, pod_name: str) -> None:
        self.store.delete("pods", self.namespace, pod_name)
        self.store.delete("jobs", self.namespace, job_name)
        self.scripts.pop(pod_name, None)
