"""Notification sinks: the only code that talks to chat and paging APIs.

One module per integration (webhook, slack, telegram, github, pagerduty, console) behind the
``Sink`` protocol (``base``), rendering (``render``), HTTP (``transport``), the configured set
(``registry``) and the outbox worker that delivers through them (``outbox``).
"""
