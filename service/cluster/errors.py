"""The Kubernetes adapter's errors, and the one place that classifies a failure.

``failure()`` maps a non-2xx answer (with Kubernetes' ``Status`` body) and ``transport()`` a
connection error or timeout into our classes: ``KubeRetryable`` (5xx, 408, 429 with Retry-After,
connection errors, timeouts), ``KubeForbidden`` (403, with the verb and resource RBAC would
have to grant), ``KubeNotFound`` and ``KubePermanent`` (other 4xx). No kubernetes_asyncio here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from service.runtime.retry import AdapterError, Permanent, Retryable, classify_status

Json = dict[str, Any]
# kube-apiserver's RBAC wording: `... cannot get resource "pods/log" in API group "" ...`
_FORBIDDEN = re.compile(r'cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]+)"')


# -- errors ----------------------------------------------------------------------------------
class KubeError(AdapterError):
    """Any failure talking to the API server; ``attempts`` is how many tries it took."""

    def __init__(self, message: str, *, status: int | None = None,
                 reason: str | None = None) -> None:
        AdapterError.__init__(self, message, status=status)
        self.reason = reason
        self.attempts = 1


class KubeRetryable(KubeError, Retryable):
    """5xx, 408, 429, a dropped connection or a timeout: worth another try."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None,
                 retry_after_s: float | None = None) -> None:
        KubeError.__init__(self, message, status=status, reason=reason)
        self.retry_after_s = retry_after_s


class KubeTimeout(KubeRetryable):
    """The request did not answer within ``KubeSettings.request_timeout_s``."""


class KubePermanent(KubeError, Permanent):
    """A 4xx other than 408 and 429: the same request would get the same answer."""


class KubeNotFound(KubePermanent):
    """404: the object (or the route) does not exist."""


class KubeForbidden(KubePermanent):
    """403: RBAC forbids this; ``verb``/``resource`` say what a Role would have to grant."""

    def __init__(self, message: str, *, verb: str, resource: str, namespace: str) -> None:
        KubePermanent.__init__(self, message, status=403, reason="Forbidden")
        self.verb = verb
        self.resource = resource
        self.namespace = namespace

    @property
    def hint(self) -> str:
        return f"grant {self.verb} on {self.resource} in namespace {self.namespace}"


class KubeConfigError(KubeError):
    """No usable cluster configuration (kubeconfig unreadable, not in a cluster)."""


class KubeStreamBroken(KubeError):
    """A log stream or watch was cut after data had arrived (not retried: data was consumed)."""


# -- classification --------------------------------------------------------------------------
def status_body(raw: bytes) -> Json:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def failure(status: int, raw: bytes, retry_after: str | None, namespace: str) -> KubeError:
    """The one mapping of a non-2xx answer to our error classes."""
    body = status_body(raw)
    message = str(body.get("message") or raw[:300].decode("utf-8", "replace") or status)
    reason = body.get("reason")
    if status == 403:
        found = _FORBIDDEN.search(message)
        details = body.get("details") or {}
        verb = found.group("verb") if found else "get"
        resource = found.group("resource") if found else str(details.get("kind") or "unknown")
        return KubeForbidden(message, verb=verb, resource=resource, namespace=namespace)
    if status == 404:
        return KubeNotFound(message, status=404, reason=reason)
    shared = classify_status(status, message, retry_after)
    if isinstance(shared, Retryable):
        seconds = shared.retry_after_s
        if seconds is None and status == 429:  # the Status body says it too
            seconds = (body.get("details") or {}).get("retryAfterSeconds")
        return KubeRetryable(message, status=status, reason=reason,
                             retry_after_s=float(seconds) if seconds is not None else None)
    return KubePermanent(message, status=status, reason=reason)


def transport(exc: BaseException, what: str) -> KubeError:
    """Connection errors and timeouts: retryable."""
    if isinstance(exc, TimeoutError):
        return KubeTimeout(f"{what}: timed out")
    return KubeRetryable(f"{what}: {type(exc).__name__}: {exc}")


# -- the client ------------------------------------------------------------------------------
