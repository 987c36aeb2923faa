"""The seeded world in the real control plane: the platform's Deployments available, the Jobs
ended as the simulator's records say, by the real job controller, and their logs served through
the apiserver's pods/log proxy from kwok."""

from __future__ import annotations

import pytest

from tests.realkube.world import NAMESPACE, SeededWorld

pytestmark = pytest.mark.realkube


def test_jobs_end_as_recorded_and_their_logs_are_served(realkube: SeededWorld) -> None:
    api = realkube.api
    jobs = {j["metadata"]["name"]: j for j in api.items("Job", NAMESPACE)}
    assert set(realkube.jobs) <= set(jobs)
    for name, outcome in realkube.jobs.items():
        conds = {c["type"]: c for c in jobs[name]["status"]["conditions"]}
        if outcome == "success":
            assert conds["Complete"]["status"] == "True", name
        else:
            assert conds["Failed"]["reason"] == "BackoffLimitExceeded", name
    failed = [n for n, o in realkube.jobs.items() if o == "manifest_unknown"]
    assert failed, "cache-recovers preloads failed builds"
    pod = api.items("Pod", NAMESPACE, labelSelector=f"job-name={failed[0]}")[0]
    status, text = api.log(NAMESPACE, pod["metadata"]["name"])
    assert status == 200, text
    assert "MANIFEST_UNKNOWN" in text


def test_control_plane_pod_log_is_the_simulators_journal(realkube: SeededWorld) -> None:
    api = realkube.api
    (pod,) = api.items("Pod", NAMESPACE,
                       labelSelector="app.kubernetes.io/name=codex-k8s,"
                                     "app.kubernetes.io/component=control-plane")
    status, text = api.log(NAMESPACE, pod["metadata"]["name"], tailLines=5)
    assert status == 200, text
    assert len(text.splitlines()) == 5
    status, text = api.log(NAMESPACE, pod["metadata"]["name"])
    assert "kaniko build job created" in text
