"""Redaction: no secret of the corpus survives, ordinary diagnostics stay readable."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.domain.redaction import REDACTED, Redactor, redact, redact_value

CORPUS = Path(__file__).parent / "corpus"
SECRETS: list[dict[str, Any]] = [
    json.loads(line) for line in (CORPUS / "secrets.jsonl").read_text().splitlines() if line
]
BENIGN = [line for line in (CORPUS / "benign.txt").read_text().splitlines() if line]


@pytest.mark.parametrize("entry", SECRETS, ids=[e["kind"] for e in SECRETS])
def test_no_secret_of_the_corpus_survives(entry: dict[str, Any]) -> None:
    out = redact(entry["text"])
    assert REDACTED in out
    for secret in entry["secrets"]:
        assert secret not in out


@pytest.mark.parametrize("line", BENIGN)
def test_ordinary_diagnostics_are_left_intact(line: str) -> None:
    assert redact(line) == line


def test_useful_context_is_kept_next_to_the_redaction() -> None:
    line = (
        "Cloning https://x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git"
    )
    assert redact(line) == "Cloning https://x-access-token:[REDACTED]@github.com/o/r.git"
    assert redact('-H "Authorization: Bearer abc.def.ghi-123"') == (
        '-H "Authorization: Bearer [REDACTED]"'
    )
    assert redact('{"password":"x y z","user":"bob"}') == '{"password":"[REDACTED]","user":"bob"}'


def test_redacting_twice_changes_nothing_more() -> None:
    for entry in SECRETS:
        once = redact(entry["text"])
        assert redact(once) == once


def test_redact_value_walks_nested_data() -> None:
    data = {
        "token": "opaque-value-without-format",
        "lines": ["ok", "DB_PASSWORD=hunter2"],
        "nested": ({"url": "https://u:pw123456@h/x"},),
        "count": 3,
        "author": "bob",
    }
    assert redact_value(data) == {
        "token": REDACTED,
        "lines": ["ok", "DB_PASSWORD=[REDACTED]"],
        "nested": ({"url": "https://u:[REDACTED]@h/x"},),
        "count": 3,
        "author": "bob",
    }


def test_extra_literals_from_config_are_removed() -> None:
    redactor = Redactor(extra_literals=["plain-config-secret"])
    assert redactor.redact("sent with plain-config-secret ok") == f"sent with {REDACTED} ok"


# --- property: a generated token embedded in random text never survives ------------------------

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"


def _s(alphabet: str, size: int, max_size: int | None = None) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=max_size or size)


def _tokens() -> st.SearchStrategy[tuple[str, str]]:
    """(text to embed, the secret part that must disappear)."""

    def same(s: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
        return s.map(lambda t: (t, t))

    password = _s(ALNUM + "!#$%*+._~-", 8, 30)
    return st.one_of(
        same(
            st.tuples(st.sampled_from(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]), _s(ALNUM, 36)).map(
                "".join
            )
        ),
        same(_s(ALNUM + "_", 82).map(lambda b: "github_pat_" + b)),
        same(
            st.tuples(st.sampled_from(["glpat-", "gldt-", "glrt-"]), _s(URLSAFE, 20)).map("".join)
        ),
        same(
            st.tuples(
                st.sampled_from(["xoxb-", "xoxp-"]), _s(string.digits, 10), _s(ALNUM, 24)
            ).map(lambda t: f"{t[0]}{t[1]}-{t[1]}-{t[2]}")
        ),
        _s(ALNUM, 24).map(lambda b: (f"https://hooks.slack.com/services/T0ABC/B0DEF/{b}", b)),
        same(st.tuples(_s(string.digits, 10), _s(URLSAFE, 33)).map(lambda t: f"{t[0]}:AA{t[1]}")),
        same(_s(string.ascii_uppercase + string.digits, 16).map(lambda b: "AKIA" + b)),
        same(
            st.tuples(_s(URLSAFE, 10, 40), _s(URLSAFE, 10, 60), _s(URLSAFE, 20, 43)).map(
                lambda t: f"eyJ{t[0]}.{t[1]}.{t[2]}"
            )
        ),
        password.map(lambda p: (f"https://user:{p}@github.com/o/r.git", p)),
        password.map(lambda p: (f"password={p}", p)),
        password.map(lambda p: (f"CODEXK8S_DB_PASSWORD={p}", p)),
        password.map(lambda p: (f'{{"client_secret":"{p}"}}', p)),
        password.map(lambda p: (f"Authorization: Bearer {p}", p)),
    )


SEPARATORS = [" ", "\n", "\t", '"', "'", "(", ",", ";", "|", "> "]
NOISE = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=400, deadline=None)
@given(
    token=_tokens(),
    before=NOISE,
    after=NOISE,
    sep=st.tuples(st.sampled_from(SEPARATORS), st.sampled_from(SEPARATORS)),
)
def test_generated_token_in_random_text_never_survives(
    token: tuple[str, str], before: str, after: str, sep: tuple[str, str]
) -> None:
    text, secret = token
    assume(secret not in before and secret not in after)  # the noise must not carry it itself
    out = redact(f"{before}{sep[0]}{text}{sep[1]}{after}")
    assert secret not in out


@pytest.mark.parametrize(
    "text",
    [
        "a-" * 32_000,
        "a." * 32_000,
        "ab-cd_ef" * 8_000,
        '"' * 64_000,
        "http://a" * 8_000,
        "password=" * 7_000,
        '\\"' * 32_000,
        "Zm9vYmFy" * 8_000,
    ],
)
def test_long_adversarial_lines_stay_linear(text: str) -> None:
    # A 64 KiB line (max_line_bytes) of repetitive key characters once took minutes
    # (nested lazy/greedy runs); it must now finish like any other line.
    assert isinstance(redact(text), str)
