"""The runbook pipeline: observe, decide, record, act, for every active incident.

``view`` (the live view: list+watch, logs read once) and ``diagnostics`` (the
runbook's collectors) feed ``observer``; ``pipeline`` runs the loops and
executes what the pure policy (``service.domain.policy``) decides; ``mitigator``
and ``switch`` carry out the kill switch.
"""
