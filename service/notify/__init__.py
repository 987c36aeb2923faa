"""Notify: what the runbook tells people, routed to sinks through a durable outbox.

``notifier`` composes and queues, ``routing`` builds and routes the configured
sinks, ``outbox`` delivers until delivered, ``sinks`` holds one module per
integration (the only code that calls chat and paging APIs).
"""
