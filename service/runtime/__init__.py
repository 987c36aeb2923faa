"""The process's infrastructure: the injected clock, logging, metrics, the one
retry policy, supervised tasks and the intake-to-runbook work queue.
"""
