"""Shorter text, never a broken value: lines lose whole words from the middle, lists whole items."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.domain.brevity import ELLIPSIS, abridge, capped, head

WORD = st.text(alphabet="abcdef0123456789-:/.@", min_size=1, max_size=70)


@given(words=st.lists(WORD, min_size=1, max_size=40), limit=st.integers(10, 400))
def test_abridge_keeps_whole_words_within_the_limit(words: list[str], limit: int) -> None:
    text = " ".join(words)
    short = abridge(text, limit)
    assert len(short) <= limit
    if short == text:
        return
    kept = [w for w in short.split(" ") if w != ELLIPSIS]
    if short.endswith(ELLIPSIS) and ELLIPSIS not in short.split(" "):
        return  # one word longer than the limit: nothing but a hard cut fits
    assert all(w in words for w in kept)
    assert ELLIPSIS in short


def test_the_end_of_a_log_line_survives() -> None:
    line = ("error building image: Error while retrieving image from cache: "
            "registry.svc:5000/v2/codex-k8s/cache/manifests/sha256:"
            + "f" * 64 + ": MANIFEST_UNKNOWN: manifest unknown")
    short = abridge(line, 120)
    assert short.startswith("error building image:") and short.endswith("manifest unknown")
    assert "sha256:" not in short  # the digest is whole or absent


def test_head_cuts_at_whitespace() -> None:
    assert head("one two three", 9) == "one …"
    assert head("short", 10) == "short"


def test_capped_drops_whole_items_and_counts_them() -> None:
    runs = [f"{n:08d}-c601-48e7-90b4-474ee72fe977" for n in range(12)]
    assert capped(runs, 3) == f"{runs[0]}, {runs[1]}, {runs[2]} and 9 more"
    value = capped(runs, 10, 120)
    shown, _, more = value.rpartition(" and ")
    assert len(value) <= 120 and more == f"{12 - len(shown.split(', '))} more"
    assert capped(runs[:2], 10) == f"{runs[0]}, {runs[1]}"
