"""The runbook's wording values, read from the settings (``RunbookText`` for the domain).

Purpose: the one bridge from ``Settings`` to the names and thresholds the messages quote, so
the domain's texts follow the configuration. Boundary: reads settings, builds a frozen value;
no I/O. Callers build it once (``Runbook``, ``Mitigator``) and pass it to ``compose_*``.
"""

from __future__ import annotations

from service.config.settings import Settings
from service.domain.runbook_text import RunbookText


def runbook_text(settings: Settings) -> RunbookText:
    """The configured values the runbook's messages quote."""
    target = settings.mitigation.target
    # The Deployment that picks the switch up: the one holding it, else the one restarted.
    rollout = target.name if target.kind == "deployment-env" else target.restart_deployment
    return RunbookText(
        namespace=settings.kube.namespace,
        switch_key=target.key,
        switch_off_value=target.off_value,
        switch_kind=target.kind,
        switch_object=target.name,
        switch_container=settings.platform.control_plane_container,
        rollout_deployment=rollout,
        registry_deployment=settings.platform.registry_deployment,
        repeat_threshold=settings.escalation.repeat_threshold,
        rollout_timeout_s=settings.mitigation.rollout_timeout_s,
        job_log_tail_lines=settings.diagnostics.job_log_tail_lines,
    )
