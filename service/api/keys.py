"""Typed keys for what ``create_app`` puts on the aiohttp application."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from service.clock import Clock
from service.grants import GrantSigner
from service.metrics import Metrics
from service.runbook import Runbook
from service.settings import Settings
from service.store.base import Store
from service.supervisor import Supervisor
from service.workqueue import WorkQueue

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
