"""PostgreSQL DSNs: their shape checked without quoting them, and text scrubbed of their secrets.

Purpose: a DSN carries the database password, and nothing derived from it may reach a log, a
message or the API. ``dsn_problem`` says what is wrong with a DSN's shape in words that never
quote any part of it (``check-config`` and ``PostgresStore.open`` report it);
``without_dsn_secrets`` removes a DSN's secrets from text that may hold them (a driver's
error message).
Boundary: pure string work that mirrors how asyncpg reads a DSN
(``postgresql://user:password@host[:port][,host2[:port2]...]/database?key=value&...``);
no I/O, no driver import.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated

from pydantic import AfterValidator, SecretStr

from service.domain.redaction import REDACTED, redact

SCHEMES = ("postgresql", "postgres")
_ENCODE = "percent-encode '@' (%40), '/' (%2F), '?' (%3F) and '#' (%23) in the user and password"
_IPV6_HOST = re.compile(r"\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._~-]+)?\](?::(?P<port>.*))?")


def _port_problem(port: str, what: str) -> str | None:
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) <= 65535):
        return f"{what} is not a number from 1 to 65535 (if it is not a port, {_ENCODE})"
    return None


def _host_problem(spec: str, where: str) -> str | None:
    if not spec:
        return f"{where} is empty"
    if spec.startswith("["):
        found = _IPV6_HOST.fullmatch(spec)
        if found is None:
            return f"{where} is not a bracketed IPv6 address such as [::1]:5432"
        return _port_problem(found.group("port") or "", f"the port of {where}")
    return _port_problem(urllib.parse.unquote(spec.partition(":")[2]), f"the port of {where}")


def _query_problem(query: str) -> str | None:
    for field in query.split("&"):
        key, eq, value = field.partition("=")
        if not eq or not key:
            return "the query must be key=value pairs joined by '&'"
        if key == "port":
            for number, port in enumerate(urllib.parse.unquote(value).split(","), 1):
                if problem := _port_problem(port, f"port {number} of the query"):
                    return problem
    return None


def dsn_problem(dsn: str) -> str | None:
    """What is wrong with the DSN's shape, in words that quote none of it; None when it is
    well formed (the server may still refuse it)."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme not in SCHEMES:
        return "it must start with postgresql:// or postgres://"
    try:
        urllib.parse.urlsplit(dsn)
    except ValueError:
        return "it is not a URL (are the brackets of an IPv6 host balanced?)"
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    hosts = authority.partition("@")[2] if "@" in authority else authority
    if "@" in hosts or "@" in tail:  # asyncpg splits at the first '@'
        return f"it has an '@' after the user and password: {_ENCODE}"
    if hosts:
        for number, spec in enumerate(hosts.split(","), 1):
            if problem := _host_problem(spec, f"host {number}"):
                return problem
    query = tail.partition("#")[0].partition("?")[2]
    return _query_problem(query) if query else None


def _well_formed(value: SecretStr) -> SecretStr:
    if problem := dsn_problem(value.get_secret_value()):
        raise ValueError(f"not a valid DSN: {problem}")
    return value


DsnSecret = Annotated[SecretStr, AfterValidator(_well_formed)]
"""A DSN setting: kept secret, and refused for its shape in words that do not quote it."""


def _secrets(dsn: str) -> list[str]:
    """The DSN's passwords (userinfo and query), as written and percent-decoded."""
    rest = dsn.partition("://")[2] or dsn
    found: set[str] = set()
    if "@" in rest:  # asyncpg reads to the first '@'; a person may mean the last one
        found |= {rest.partition("@")[0].partition(":")[2],
                  rest.rpartition("@")[0].partition(":")[2]}
    query = rest.partition("?")[2].partition("#")[0]
    for field in query.split("&"):
        key, _, value = field.partition("=")
        if "password" in key.lower():
            found.add(value)
    found |= {urllib.parse.unquote(secret) for secret in found}
    return sorted((secret for secret in found if secret), key=len, reverse=True)


def without_dsn_secrets(text: str, dsn: str) -> str:
    """``text`` without the DSN's passwords (wherever they appear) and without any other
    credential the project's redaction recognises."""
    for secret in _secrets(dsn):
        text = text.replace(secret, REDACTED)
    return redact(text)
