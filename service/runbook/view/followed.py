"""One Deployment's container logs, followed for the live view: each pod's log read once.

Purpose: ``FollowedLogs`` keeps one ``LogFollower`` per started pod of a Deployment (the view's
pods and Deployments say which, as ``kubectl logs deploy/...`` would resolve them): the pods
there when the view first saw them from ``since()``, pods of a later rollout from their first
line. A pod gone is forgotten with its log; a follower that crashed (a bug, not the API) is
logged and followed again at the next change. ``caught_up()`` says whether every pod's log is
read up to now.
Boundary: reads through ``KubeClient``; what the lines mean is the sink's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from service.cluster import objects
from service.cluster.client import KubeClient
from service.config.settings import Settings
from service.domain.facts import GapPart
from service.runbook.diagnostics.deployment_logs import select_pods
from service.runbook.view.gaps import GapBook
from service.runbook.view.logs import LineCursor, LogFollower
from service.runbook.view.reflector import Reflector
from service.runtime.clock import Clock

log = structlog.get_logger(__name__)


class FollowedLogs:
    """The followed logs of one Deployment's pods; see the module docstring."""

    def __init__(self, kube: KubeClient, settings: Settings, *, deployment: str,
                 container: str | None, pods: Reflector, deployments: Reflector,
                 sink: Callable[[bytes], None], part: GapPart, gaps: GapBook, clock: Clock,
                 notify: Callable[[], None], since: Callable[[], datetime | None]) -> None:
        self.deployment, self.container = deployment, container  # None: kubectl's default
        self.followers: dict[str, LogFollower] = {}
        self._kube, self._settings, self._pods, self._deployments = kube, settings, pods, \
            deployments
        self._sink, self._part, self._gaps, self._clock = sink, part, gaps, clock
        self._notify, self._since = notify, since
        self._following: dict[str, asyncio.Task[None]] = {}
        self._followed: set[str] = set()  # pods whose log was read to its end
        self._first_pods: set[str] | None = None  # pods there when the view first saw them

    def pods(self) -> list[dict[str, Any]]:
        """The Deployment's pods whose container started, oldest first."""
        deploy = self._deployments.items.get(self.deployment)
        if deploy is None:
            return []
        return select_pods(deploy, self._pods.items.values(), self.deployment, self.container)

    def caught_up(self) -> bool:
        """Every pod's log read up to now: followed live, or read to its end."""
        for pod in self.pods():
            name = objects.name_of(pod)
            follower = self.followers.get(name)
            if name not in self._followed and (follower is None or not follower.cursor.live):
                return False
        return True

    def refresh(self) -> None:
        """Follow the pods not followed yet; forget those gone."""
        if not (self._pods.synced and self._deployments.synced):
            return
        if self._first_pods is None:
            self._first_pods = set(self._pods.items)
        for pod in self.pods():
            name = objects.name_of(pod)
            if name not in self._following and name not in self._followed:
                self._start(name, self.container or objects.default_container(pod))
        for gone in set(self.followers) - set(self._pods.items) - set(self._following):
            del self.followers[gone]  # its pod is gone: its log too
            self._followed.discard(gone)

    def tasks(self) -> list[asyncio.Task[None]]:
        """The followers running (to cancel when the view stops)."""
        return list(self._following.values())

    def _alive(self, name: str) -> bool:
        pod = self._pods.items.get(name)
        return pod is not None and (pod.get("status") or {}).get("phase") not in (
            "Succeeded", "Failed")

    def _start(self, name: str, container: str | None) -> None:
        # Pods there at the start: from ``since``; later ones (a rollout): from line one.
        first = self._first_pods is not None and name in self._first_pods
        known = self.followers.get(name)  # followed before a restart: go on from its place
        follower = LogFollower(
            self._kube, name, container,
            cursor=known.cursor if known is not None else LineCursor(
                self._since() if first else None, self._settings.diagnostics.max_line_bytes,
                self._settings.kube.log_resume_margin_s),
            sink=self._sink, alive=lambda: self._alive(name), part=self._part,
            gaps=self._gaps, clock=self._clock, settings=self._settings.kube,
            notify=self._notify)
        self.followers[name] = follower
        task = asyncio.ensure_future(follower.run())
        self._following[name] = task

        def ended(done: asyncio.Task[None]) -> None:
            self._following.pop(name, None)
            if done.cancelled():
                return
            failure = done.exception()
            if failure is not None:  # a bug, not the API: followed again at the next change
                log.error("view_log_follower_crashed", pod=name, error=repr(failure))
            else:
                self._followed.add(name)
            self._notify()

        task.add_done_callback(ended)
