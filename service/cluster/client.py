"""The Kubernetes adapter: the one module that imports kubernetes_asyncio.

Purpose: ``KubeClient`` gives the diagnostics and the mitigation typed async calls that return
the API server's own JSON (plain dicts, Kubernetes field names; no client model types leak),
each under a per-request timeout and the shared retry policy (``service.runtime.retry``) within a
deadline. Every failure is mapped, in one place (``_failure``), into our own classes:
``KubeRetryable`` (5xx, 408, 429 with Retry-After, connection errors, timeouts), ``KubeForbidden``
(403, with the verb and resource RBAC would have to grant), ``KubeNotFound`` and
``KubePermanent`` (other 4xx). Streams (pod logs, watches) are retried only until their first
byte; a stream cut later raises ``KubeStreamBroken``.
Boundary: transport only. Which objects to read and what they mean is
``service.runbook.diagnostics``.

Attempts: every call adds the attempts it took to the ``AttemptMeter`` active in the calling
task, and identical concurrent GETs share one request (both scoped in ``service.cluster.scope``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Literal, TypeVar

import aiohttp
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import ConfigException, load_incluster_config, load_kube_config

from service.cluster.errors import (
    Json,
    KubeConfigError,
    KubeError,
    KubePermanent,
    KubeStreamBroken,
    KubeTimeout,
    failure,
    status_body,
    transport,
)
from service.cluster.scope import current_meter, shared_reads
from service.config.settings import KubeSettings
from service.runtime.clock import NETWORK_TIME
from service.runtime.retry import call_with_retry

PatchType = Literal["strategic", "merge", "json"]
T = TypeVar("T")

PATCH_CONTENT_TYPES: dict[str, str] = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
# A stream's chunks are at most this: whatever has arrived up to it, in one piece. Fewer, larger
# chunks mean less Python per byte in the log scanner, which works on a whole chunk at a time.
_CHUNK = 256 * 1024


async def _load_config(kube: KubeSettings, config: Configuration) -> None:
    """Kubeconfig file when set, else in-cluster config, else the default kubeconfig."""
    if kube.kubeconfig is not None:
        await load_kube_config(config_file=str(kube.kubeconfig), context=kube.context,
                               client_configuration=config, persist_config=False)
        return
    try:
        load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
    except ConfigException:
        await load_kube_config(context=kube.context, client_configuration=config,
                               persist_config=False)


class KubeClient:
    """Typed calls on one namespace; create with ``from_settings``, end with ``close``."""

    def __init__(self, api: ApiClient, settings: KubeSettings) -> None:
        self._api = api
        self.settings = settings
        self.namespace = settings.namespace

    @classmethod
    async def from_settings(cls, kube: KubeSettings) -> KubeClient:
        """Kubeconfig file when set, else in-cluster config, else the default kubeconfig."""
        config = Configuration()
        where = kube.kubeconfig or "in-cluster config or the default kubeconfig"
        try:
            # Loading may run an exec credential plugin or refresh an OIDC token: bounded.
            async with asyncio.timeout(kube.request_timeout_s):
                await _load_config(kube, config)
        except TimeoutError as exc:
            raise KubeConfigError(f"cannot load cluster config from {where}: no answer "
                                  f"within {kube.request_timeout_s:g}s") from exc
        except (ConfigException, OSError, ValueError, RuntimeError) as exc:
            # RuntimeError: what the exec credential provider raises when its plugin fails.
            raise KubeConfigError(f"cannot load cluster config from {where}: {exc}") from exc
        return cls(ApiClient(configuration=config), kube)

    async def close(self) -> None:
        await self._api.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing ----------------------------------------------------------------------------
    def _ns(self, tail: str, group: str = "") -> str:
        base = f"/apis/{group}" if group else "/api/v1"
        return f"{base}/namespaces/{self.namespace}/{tail}"

    async def _open(self, method: str, path: str, query: dict[str, Any] | None,
                    body: Any, content_type: str, client_timeout: aiohttp.ClientTimeout
                    ) -> aiohttp.ClientResponse:
        """One HTTP exchange up to the response headers; non-2xx becomes a ``KubeError``."""
        params = [(k, str(v).lower() if isinstance(v, bool) else str(v))
                  for k, v in (query or {}).items() if v is not None]
        try:
            resp: aiohttp.ClientResponse = await self._api.call_api(
                path, method, query_params=params, body=body,
                header_params={"Accept": "application/json", "Content-Type": content_type},
                auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=client_timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport(exc, f"{method} {path}") from exc
        if 200 <= resp.status < 300:
            return resp
        try:
            raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError):
            raw = b""
        finally:
            resp.release()
        raise failure(resp.status, raw, resp.headers.get("Retry-After"), self.namespace)

    async def _retry(self, what: Callable[[], Awaitable[T]]) -> T:
        """``call_with_retry`` with attempt accounting for the current meter."""
        tries = 0

        async def attempt() -> T:
            nonlocal tries
            tries += 1
            return await what()

        meter = current_meter()
        try:
            result, _ = await call_with_retry(attempt, clock=NETWORK_TIME,
                                              deadline_s=self.settings.retry_deadline_s)
        except KubeError as exc:
            exc.attempts = tries
            raise
        finally:
            if meter is not None:
                meter.record(tries)
        return result

    async def _json(self, method: str, path: str, query: dict[str, Any] | None = None,
                    body: Any = None, content_type: str = "application/json") -> Json:
        shared = shared_reads()
        if method != "GET" or shared is None:
            return await self._json_now(method, path, query, body, content_type)
        key = (path, json.dumps(query, sort_keys=True, default=str))
        if key not in shared:
            task = asyncio.ensure_future(self._json_now(method, path, query))
            # retrieve the outcome even when every waiter gave up, so it is never "unretrieved"
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            shared[key] = task
        # shield: one caller's timeout must not cancel the request the others wait for
        return await asyncio.shield(shared[key])

    async def _json_now(self, method: str, path: str, query: dict[str, Any] | None = None,
                        body: Any = None, content_type: str = "application/json") -> Json:
        limit = self.settings.request_timeout_s

        async def once() -> Json:
            try:
                async with asyncio.timeout(limit):
                    resp = await self._open(method, path, query, body, content_type,
                                            aiohttp.ClientTimeout(total=limit))
                    try:
                        raw = await resp.read()
                    finally:
                        resp.release()
            except TimeoutError as exc:
                raise KubeTimeout(f"{method} {path}: no answer within {limit}s") from exc
            except aiohttp.ClientError as exc:
                raise transport(exc, f"{method} {path}") from exc
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                raise KubePermanent(f"{method} {path}: answer is not JSON") from exc
            if not isinstance(parsed, dict):
                raise KubePermanent(f"{method} {path}: answer is not a JSON object")
            return parsed

        return await self._retry(once)

    async def _stream(self, path: str, query: dict[str, Any],
                      read_timeout: float | None = None) -> AsyncGenerator[bytes, None]:
        """Chunks of a streamed GET; retried until the answer's headers, never after."""
        limit = self.settings.request_timeout_s
        # No total timeout on a stream (a big log takes as long as it takes); each read waits
        # at most `read_timeout` (a watch is quiet between events, a log is not).
        per_read = aiohttp.ClientTimeout(total=None, sock_connect=limit,
                                         sock_read=read_timeout or limit)

        async def once() -> aiohttp.ClientResponse:
            try:
                async with asyncio.timeout(limit):
                    return await self._open("GET", path, query, None, "application/json",
                                            per_read)
            except TimeoutError as exc:
                raise KubeTimeout(f"GET {path}: no answer within {limit}s") from exc

        resp = await self._retry(once)
        received = 0
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                received += len(chunk)
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KubeStreamBroken(
                f"GET {path}: stream cut after {received} bytes: {type(exc).__name__}"
            ) from exc
        finally:
            resp.release()

    # -- reads -------------------------------------------------------------------------------
    async def list_pods(self, label_selector: str | None = None,
                        field_selector: str | None = None) -> Json:
        return await self._json("GET", self._ns("pods"), {
            "labelSelector": label_selector, "fieldSelector": field_selector})

    async def list_jobs(self, label_selector: str | None = None) -> Json:
        return await self._json("GET", self._ns("jobs", "batch/v1"),
                                {"labelSelector": label_selector})

    async def get_deployment(self, name: str) -> Json:
        return await self._json("GET", self._ns(f"deployments/{name}", "apps/v1"))

    async def get_secret(self, name: str) -> Json:
        return await self._json("GET", self._ns(f"secrets/{name}"))

    async def get_configmap(self, name: str) -> Json:
        return await self._json("GET", self._ns(f"configmaps/{name}"))

    # -- writes ------------------------------------------------------------------------------
    async def _patch(self, path: str, body: Any, patch_type: PatchType) -> Json:
        content_type = PATCH_CONTENT_TYPES.get(patch_type)
        if content_type is None:
            raise ValueError(f"patch_type must be one of {sorted(PATCH_CONTENT_TYPES)}")
        return await self._json("PATCH", path, None, body, content_type)

    async def patch_deployment(self, name: str, body: Any,
                               patch_type: PatchType = "strategic") -> Json:
        return await self._patch(self._ns(f"deployments/{name}", "apps/v1"), body, patch_type)

    async def patch_secret(self, name: str, body: Any, patch_type: PatchType = "merge") -> Json:
        return await self._patch(self._ns(f"secrets/{name}"), body, patch_type)

    async def patch_configmap(self, name: str, body: Any,
                              patch_type: PatchType = "merge") -> Json:
        return await self._patch(self._ns(f"configmaps/{name}"), body, patch_type)

    # -- streams -----------------------------------------------------------------------------
    def stream_pod_log(self, pod: str, container: str | None = None, *,
                       since_seconds: int | None = None, tail_lines: int | None = None,
                       limit_bytes: int | None = None, timestamps: bool = False,
                       since_time: str | None = None, follow: bool = False,
                       read_timeout: float | None = None) -> AsyncGenerator[bytes, None]:
        """The container's log as byte chunks, never whole in memory.

        ``follow`` keeps the stream open for new lines (each read waits up to
        ``read_timeout``). Close it with ``contextlib.aclosing`` when stopping early.
        """
        query = {"container": container, "sinceSeconds": since_seconds,
                 "sinceTime": since_time, "tailLines": tail_lines, "limitBytes": limit_bytes,
                 "timestamps": timestamps or None, "follow": follow or None}
        return self._stream(self._ns(f"pods/{pod}/log"), query, read_timeout=read_timeout)

    async def watch(self, resource: str, group: str = "", *, timeout_s: float,
                    resource_version: str | None = None, field_selector: str | None = None,
                    bookmarks: bool = False, silence_s: float | None = None,
                    ) -> AsyncGenerator[Json, None]:
        """Watch events (``{"type", "object"}``) of a collection, from ``resource_version``.

        The server ends the watch after ``timeout_s``; a watch that stays silent longer than
        that plus ``silence_s`` (default: the request timeout) is cut (``KubeStreamBroken``).
        """
        query = {"fieldSelector": field_selector, "watch": True,
                 "resourceVersion": resource_version, "allowWatchBookmarks": bookmarks or None,
                 "timeoutSeconds": max(1, int(timeout_s))}
        slack = self.settings.request_timeout_s if silence_s is None else silence_s
        carry = b""
        async with contextlib.aclosing(
            self._stream(self._ns(resource, group), query, read_timeout=timeout_s + slack)
        ) as chunks:
            async for chunk in chunks:
                carry += chunk
                *lines, carry = carry.split(b"\n")
                for line in lines:
                    if line.strip():
                        event = status_body(line)
                        if event:
                            yield event

    async def list_collection(self, resource: str, group: str = "") -> Json:
        """The whole collection of ``resource`` in the namespace (with its resourceVersion)."""
        return await self._json("GET", self._ns(resource, group))

    # -- access ------------------------------------------------------------------------------
    async def can_i(self, verb: str, resource: str, subresource: str | None = None,
                    name: str | None = None, group: str = "") -> bool:
        """SelfSubjectAccessReview in our namespace: may we ``verb`` ``resource``?"""
        attrs = {"namespace": self.namespace, "verb": verb, "resource": resource,
                 "group": group}
        if subresource:
            attrs["subresource"] = subresource
        if name:
            attrs["name"] = name
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": attrs}}
        answer = await self._json(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", None, review)
        return bool((answer.get("status") or {}).get("allowed"))

