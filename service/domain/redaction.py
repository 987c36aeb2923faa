"""Secret redaction for log excerpts and anything else that leaves the process.

Purpose: replace credentials with `[REDACTED]` before text is stored, rendered or sent (build job
logs embed `https://x-access-token:<token>@github.com/...`; env dumps and curl lines carry more).
Boundary: pure string work, no I/O. It is a best-effort filter on known formats, tuned to keep
ordinary diagnostics (MANIFEST_UNKNOWN lines, run ids, job names, sha256 digests, image refs such
as `registry:5000/codex/api@sha256:...`) intact.

Rules run in order; later rules skip text that already reads `[REDACTED]`, so one secret is not
redacted twice into something unreadable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

REDACTED: Final = "[REDACTED]"
_KEY_CHAR = "[A-Za-z0-9_.-]"

# Words that make a key's value a secret: `DB_PASSWORD=`, `"client_secret":`, `api-key: ...`.
_SENSITIVE_WORDS = (
    r"(?:pass(?:word|wd|phrase)|secret|token|api[_-]?key|apikey|credentials?|"
    r"(?:access|secret|private|signing|ssh|encryption|master|routing|integration)[_-]?key|"
    r"auth(?:[_-]?(?:key|token))?|session[_-]?id|cookie|dsn)"
)
# A key name (<= 64 chars) holding a sensitive word: with a prefix (`CODEXK8S_GITHUB_TOKEN`,
# `clientSecret`) and a suffix only after a separator, so `author` and `tokens` stay readable.
# The lookahead finds the word, then the name is taken possessively: bounded work per start,
# no backtracking blow-up on long runs such as `a-a-a-...` or base64 blobs.
_KEY_NAME = rf"(?={_KEY_CHAR}{{0,64}}?{_SENSITIVE_WORDS}(?![A-Za-z0-9])){_KEY_CHAR}{{1,64}}+"
# A key starts where a run of key characters starts.
_KEY_START = rf"(?<!{_KEY_CHAR})"
_NOT_DONE = r"(?!\[REDACTED\])"

Replacement = str | Callable[[re.Match[str]], str]


@dataclass(frozen=True, slots=True)
class Rule:
    """One redaction rule: a compiled pattern and its replacement."""

    name: str
    pattern: re.Pattern[str]
    replacement: Replacement


def _keep(group: str) -> Callable[[re.Match[str]], str]:
    """Replacement keeping the named group (the key, header name...) and redacting the rest."""

    def repl(match: re.Match[str]) -> str:
        return f"{match.group(group)}{REDACTED}"

    return repl


def _url_userinfo(match: re.Match[str]) -> str:
    # Keep a user name next to a password (`x-access-token:` tells the reader what leaked);
    # a lone userinfo is itself the token (`https://ghp_xxx@github.com`).
    user, password = match.group("user"), match.group("password")
    if password is not None:
        return f"{match.group('scheme')}{user}:{REDACTED}@"
    return f"{match.group('scheme')}{REDACTED}@"


def _quoted_kv(match: re.Match[str]) -> str:
    return f"{match.group('head')}{REDACTED}{match.group('quote')}"


def _rule(name: str, pattern: str, replacement: Replacement, flags: int = 0) -> Rule:
    return Rule(name, re.compile(pattern, flags), replacement)


def default_rules() -> list[Rule]:
    """The built-in rules, most specific first."""
    return [
        _rule(
            "private-key-block",
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----"
            r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|.*\Z)",
            REDACTED,
            re.DOTALL,
        ),
        _rule(
            "url-userinfo",
            r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]{0,30}+://)"
            # greedy password up to the last `@` of the authority: passwords may contain `@`
            r"(?P<user>[^/\s:@\"'<>]{1,256}+)(?::(?P<password>[^/\s\"'<>]{0,512}))?@",
            _url_userinfo,
        ),
        _rule(
            "authorization-header",
            r"(?P<head>\b(?:proxy-)?authorization\\?\"?\s*[:=]\s*\\?\"?\s*"
            # atomic: once a scheme word is read, it is never taken for the credential
            r"(?>(?:(?:bearer|basic|token|digest|negotiate|bot)\s+)?))"
            rf"{_NOT_DONE}[^\s\"'\\,;}}]+",
            _keep("head"),
            re.IGNORECASE,
        ),
        _rule(
            "bearer",
            rf"(?P<head>\bbearer\s+){_NOT_DONE}[A-Za-z0-9._~+/=-]{{8,}}",
            _keep("head"),
            re.IGNORECASE,
        ),
        _rule(
            "github-token", r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})", REDACTED
        ),
        _rule(
            "gitlab-token",
            r"(?:glpat|gldt|glrt|glptt|glcbt|glft|glimt|glagent|glsoat|gloas|glffct)"
            r"-[A-Za-z0-9_.-]{16,}|\bGR1348941[A-Za-z0-9_-]{16,}",
            REDACTED,
        ),
        _rule(
            "slack-token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}", REDACTED
        ),
        _rule(
            "slack-webhook",
            r"(?P<head>hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9_/-]+",
            _keep("head"),
        ),
        _rule("telegram-bot-path", r"(?P<head>/bot)\d{5,12}:[A-Za-z0-9_-]{20,}", _keep("head")),
        _rule(
            "telegram-token", r"(?<![0-9])\d{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])", REDACTED
        ),
        _rule(
            "aws-access-key",
            r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
            REDACTED,
        ),
        _rule("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", REDACTED),
        _rule(
            "json-escaped-kv",
            rf"(?P<head>\\\"{_KEY_NAME}\\\"\s*:\s*\\\"){_NOT_DONE}(?:[^\"\\]|\\[^\"])*"
            r"(?P<quote>\\\")",
            _quoted_kv,
            re.IGNORECASE,
        ),
        _rule(
            "json-kv",
            rf"(?P<head>\"{_KEY_NAME}\"\s*:\s*\"){_NOT_DONE}(?:[^\"\\]|\\.)*(?P<quote>\")",
            _quoted_kv,
            re.IGNORECASE,
        ),
        _rule(
            "quoted-kv",
            rf"(?P<head>{_KEY_START}{_KEY_NAME}\s*[=:]\s*(?P<q>[\"'])){_NOT_DONE}.*?(?P<quote>(?P=q))",
            _quoted_kv,
            re.IGNORECASE,
        ),
        _rule(
            "kv",
            rf"(?P<head>{_KEY_START}{_KEY_NAME}\s*[=:]\s*){_NOT_DONE}[^\s\"'&,;<>\\]+",
            _keep("head"),
            re.IGNORECASE,
        ),
        _rule(
            "cli-user",  # curl -u user:password, --user user:password
            r"(?P<head>(?:^|\s)(?:-u|--user|--proxy-user)[\s=]+[\"']?[^:\s\"']+:)"
            rf"{_NOT_DONE}[^\s\"']+",
            _keep("head"),
        ),
        _rule(
            "cli-flag",
            rf"(?P<head>--{_KEY_NAME}\s+){_NOT_DONE}(?!-)[^\s\"'&;]+",
            _keep("head"),
            re.IGNORECASE,
        ),
    ]


class Redactor:
    """Applies redaction rules compiled once; safe to share between tasks."""

    def __init__(self, rules: Sequence[Rule] | None = None, extra_literals: Sequence[str] = ()):
        self._rules: tuple[Rule, ...] = tuple(default_rules() if rules is None else rules)
        # Known secret values from our own config (sink tokens...) are removed verbatim too.
        self._literals = tuple(
            sorted((s for s in extra_literals if len(s) >= 4), key=len, reverse=True)
        )

    def redact(self, text: str) -> str:
        """Return `text` with every recognised secret replaced by `[REDACTED]`."""
        for literal in self._literals:
            if literal in text:
                text = text.replace(literal, REDACTED)
        for rule in self._rules:
            text = rule.pattern.sub(rule.replacement, text)
        return text

    def redact_value(self, value: object) -> object:
        """Redact strings inside nested dicts / lists / tuples; other values pass through.

        Values under a secret-looking key (`password`, `token`...) are redacted whole.
        """
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {key: self._redact_item(key, item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            items = [self.redact_value(item) for item in value]
            return items if isinstance(value, list) else tuple(items)
        return value

    def _redact_item(self, key: object, item: object) -> object:
        # re's own cache keeps the compiled key pattern; nothing is compiled at import.
        secret_key = isinstance(key, str) and re.fullmatch(_KEY_NAME, key, re.IGNORECASE)
        if secret_key and isinstance(item, str) and item:
            return REDACTED
        return self.redact_value(item)


_DEFAULT: Redactor | None = None


def _default() -> Redactor:
    # Built on first use, so importing this module compiles nothing.
    global _DEFAULT  # noqa: PLW0603 - a lazily built, immutable singleton
    if _DEFAULT is None:
        _DEFAULT = Redactor()
    return _DEFAULT


def redact(text: str) -> str:
    """Redact `text` with the default rules."""
    return _default().redact(text)


def redact_value(value: object) -> object:
    """Redact nested dict/list/str data with the default rules."""
    return _default().redact_value(value)
