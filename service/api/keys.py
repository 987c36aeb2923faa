"""Typed keys for what ``create_app`` puts on the aiohttp application."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from service.api.grants import GrantSigner
from service.config.settings import Settings
from service.runbook.pipeline import Runbook
from service.runtime.clock import Clock
from service.runtime.metrics import Metrics
from service.runtime.supervisor import Supervisor
from service.runtime.workqueue import WorkQueue
from service.store.base import Store

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)
SUPERVISOR = web.AppKey("supervisor", Supervisor)
WORK = web.AppKey("work", WorkQueue)
HTTP = web.AppKey("http", aiohttp.ClientSession)
RUNBOOK = web.AppKey("runbook", Runbook)
KUBE_STATUS = web.AppKey("kube_status", str)
GRANTS = web.AppKey("grants", GrantSigner)  # absent: no link key, links carry no grant
