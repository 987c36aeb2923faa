"""The runbook's diagnostics (RB-CK8S-AISLOT-BUILD-0001, step 1) as concurrent collectors.

Purpose: one module per runbook step (workloads, control-plane and worker logs, failed jobs,
registry and mirror health, kill-switch state), each a ``Collector`` built from its own settings
section and run by a ``Collectors`` registry into a ``Collected`` outcome that never raises;
``collect_evidence`` runs the evidence's registry into an ``EvidenceBundle``; ``collect_facts``
runs the recovery watch's; ``read_kill_switch`` is shared with the mitigation.
Boundary: reads the cluster only through ``service.cluster.client.KubeClient``; the domain
models and the log scanner come from ``service.domain``, which never imports this package.
"""

from service.cluster.objects import rollout_complete
from service.runbook.diagnostics.investigation import collect_evidence
from service.runbook.diagnostics.observation import collect_facts
from service.runbook.diagnostics.switch_state import read_kill_switch

__all__ = ["collect_evidence", "collect_facts", "read_kill_switch", "rollout_complete"]
