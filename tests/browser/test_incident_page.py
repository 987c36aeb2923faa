"""The incident page in a real browser (Debian's Chromium): for every simulator scenario it
shows the facts; a message's link opens it without a token, and nothing else; an altered or
expired link is refused; what alerts and logs carry renders as text; the Owner approves
from the page with the Owner's grant only. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page

from service.domain.evidence import CollectorStatus
from service.domain.incidents import Incident
from service.domain.lifecycle import State
from simulator import phrasebook
from simulator.scenario import scenario_names
from tests.browser.chromium import artifact, chromium
from tests.conftest import AppStarter, notification
from tests.conftest import alert as make_alert
from tests.runbook_harness import Harness, harness

pytestmark = pytest.mark.e2e

LINK_KEY = "browser-test-link-key-" + "fedcba9876543210" * 2
TTL_S = 2 * 3600
AUTH = {"link_key": LINK_KEY, "link_ttl_s": TTL_S}
SCENARIOS = scenario_names()
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _settled(incident: Incident) -> bool:
    return incident.state is State.RESOLVED or incident.escalated


# How far each scenario runs before the page is read: to its outcome, or a while.
UNTIL: dict[str, Callable[[Incident], bool]] = {
    "cache-recovers": lambda i: i.state is State.RESOLVED,
    "cache-persists": lambda i: "repeat" in i.policy.escalations,
    "registry-outage": lambda i: "registry" in i.policy.escalations,
    "rollout-stuck": lambda i: "rollout_stuck" in i.policy.escalations,
}


async def _drive(h: Harness, incident_id: str, scenario: str) -> Incident:
    done = UNTIL.get(scenario)
    if done is not None:
        return await h.run_until(incident_id, done, step_s=60, max_s=2 * 3600)
    for _ in range(6):  # the others: a few minutes of watching
        await h.tick(60)
    return await h.incident(incident_id)


def _grant_link(h: Harness, incident_id: str, *, owner: bool = False) -> str:
    fake = h.owner if owner else h.oncall
    links = [b["message"]["incident_url"] for b in fake.deliveries
             if b["message"]["incident_id"] == incident_id
             and (not owner or b["message"]["key"] == "approval-request")]
    assert links, f"no message to {'owner' if owner else 'oncall'} for {incident_id}"
    # The service listens on a free port; public_url keeps its default host: same path+query.
    parts = urlsplit(links[0])
    return f"{h.client.base}{parts.path}?{parts.query}"


async def _text(page: Page, selector: str) -> str:
    return (await page.inner_text(selector)).strip()


async def _assert_page_shows_the_facts(page: Page, incident: Incident) -> None:
    assert await _text(page, "#state") == incident.state.value
    assert await _text(page, "#signature") == incident.signature
    assert await _text(page, "#namespace") == incident.namespace
    assert len(await _text(page, "#doing-now")) > len("Now: ")
    # One time format wherever the page speaks (log excerpts are shown as logged).
    for part in ("header", "#kill-switch", "#rules", "#escalations", "#deliveries",
                 "#timeline"):
        text = await _text(page, part)
        assert not ISO.search(text), (part, text)
    assert TIME.search(await _text(page, "#timeline"))
    mit = incident.policy.mitigation
    assert await _text(page, "#switch-before") == (mit.previous_value or "-")
    assert await _text(page, "#switch-after") == (mit.new_value or "-")
    assert mit.rollout in await _text(page, "#switch-rollout")
    rules = await page.locator("#rules tbody tr").count()
    assert rules >= 4
    streak = await _text(page, "#rule-repeat")
    assert f"{incident.policy.watch.streak} in a row" in streak
    deadline = await _text(page, "#rule-recovery_deadline")
    assert "left" in deadline or "passed" in deadline or "recovered at" in deadline
    for rule, esc in incident.policy.escalations.items():
        assert "fired" in await _text(page, f"#rule-{rule}")
        assert esc.reason in await _text(page, "#escalations")
    bundle = incident.latest_evidence
    assert bundle is not None
    evidence = await _text(page, "#evidence")
    for run_id in bundle.run_ids:
        assert run_id in evidence  # whole, never cut
    if bundle.failed_jobs.data is not None:
        jobs = await _text(page, "#failed-jobs")
        for job in bundle.failed_jobs.data.jobs:
            assert job.name in jobs
            if job.run_id:
                assert job.run_id in jobs
    for got, key in ((bundle.control_plane_logs, "control-plane"),
                     (bundle.worker_logs, "worker")):
        if got.data is not None and got.data.stats(bundle.signature).excerpts:
            marks = page.locator(f"#log-{key} mark")
            assert await marks.count() >= 1
            assert re.search("MANIFEST_UNKNOWN|retrieving image from cache|commit|switch",
                             await marks.first.inner_text())
    for name, got in bundle.collectors().items():
        if got.status is not CollectorStatus.OK:
            missing = await _text(page, "#missing")
            assert name.replace("_", " ") in missing
            if got.hint:
                assert got.hint in missing
    if bundle.registry.data is not None:
        registry = await _text(page, "#registry")
        assert f"{bundle.registry.data.mirror_jobs_failed} of" in registry
    deliveries = await _text(page, "#deliveries")
    for d in incident.deliveries:
        assert d.sink in deliveries
    assert await page.locator("#timeline li").count() == len(incident.timeline)


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_each_scenario_page_shows_the_facts_from_the_message_link(
        tmp_path: Path, start_app: AppStarter, scenario: str) -> None:
    async with harness(tmp_path, scenario, start_app, auth=AUTH) as h:
        incident_id = await h.fire(error_signature="build-ref" if scenario == "build-ref"
                                   else "cache")
        await h.investigated(incident_id)
        await _drive(h, incident_id, scenario)
        await h.delivered(incident_id)
        incident = await h.incident(incident_id)
        link = _grant_link(h, incident_id)
        other = await h.client.webhook(notification(make_alert("fp-other",
                                                               error_signature="other")))
        other_id = other[1]["incidents"][0]
        async with chromium(tmp_path / "profile") as browser:
            page = await browser.new_page()
            response = await page.goto(link)
            assert response is not None and response.status == 200
            await page.screenshot(path=str(artifact(f"page-{scenario}.png")), full_page=True)
            await page.screenshot(path=str(artifact(f"page-{scenario}-top.png")))
            await _assert_page_shows_the_facts(page, incident)
            assert await page.locator("script").count() == 0
            # The link's grant opens this incident only, never the list or another one.
            query = urlsplit(link).query
            base = h.client.base
            for url in (f"{base}/incidents?{query}", f"{base}/incidents/{other_id}?{query}"):
                refused = await page.goto(url)
                assert refused is not None and refused.status == 401, url
            grant = parse_qs(query)["grant"][0]
            altered = grant[:-3] + ("xyz" if not grant.endswith("xyz") else "abc")
            refused = await page.goto(f"{base}/incidents/{incident_id}?grant={altered}")
            assert refused is not None and refused.status == 401
            assert "not valid" in await page.inner_text("body")
            h.clock.advance(TTL_S + 1)  # the link's lifetime passes
            refused = await page.goto(link)
            assert refused is not None and refused.status == 401
            assert "expired" in await page.inner_text("body")


XSS = [
    "<script>window.__xss=1</script>",
    "<img src=x onerror=\"window.__xss=2\">",
    "\"><svg onload=window.__xss=3>",
    "'><iframe src=javascript:window.__xss=4>",
    "{{7*7}}<u>under</u>",
]


async def test_what_alerts_and_logs_carry_renders_as_text(tmp_path: Path,
                                                          start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app, auth=AUTH) as h:
        now = h.sim.clock.now()
        for n, payload in enumerate(XSS):  # log lines that carry the signature and a payload
            h.sim.world.journals["control-plane"].add(now - 60 + n, phrasebook.slog(
                now - 60 + n, "ERROR", f"kaniko build failed: MANIFEST_UNKNOWN {payload}",
                run_id=f"run-{n}"))
        body = make_alert("fp-xss", starts="2026-02-26T09:55:00Z",
                          team=XSS[0], owner=XSS[1], note=XSS[4])
        body["annotations"] = {"summary": XSS[2], "description": XSS[3]}
        body["generatorURL"] = "javascript:window.__xss=5"
        body["startsAt"] = phrasebook.rfc3339_millis(now - 180)
        status, ack = await h.client.webhook(notification(body))
        assert status == 200, ack
        incident_id = ack["incidents"][0]
        await h.investigated(incident_id)
        await h.delivered(incident_id)
        async with chromium(tmp_path / "profile") as browser:
            page = await browser.new_page()
            errors: list[Any] = []

            def script_error(error: Any) -> None:  # any script that ran and failed
                errors.append(error)

            page.on("pageerror", script_error)
            response = await page.goto(_grant_link(h, incident_id))
            assert response is not None and response.status == 200
            await page.click("#alerts summary")
            await page.screenshot(path=str(artifact("page-xss.png")), full_page=True)
            for tag in ("script", "img", "svg", "iframe", "u", "[onerror]", "[onload]"):
                assert await page.locator(tag).count() == 0, tag
            assert await page.evaluate("() => window.__xss === undefined")
            assert await page.locator("a[href^='javascript']").count() == 0
            text = await page.inner_text("body")
            for payload in XSS:
                assert payload in text, payload  # shown, as text
            excerpts = await _text(page, "#log-control-plane")
            assert XSS[0] in excerpts and "{{7*7}}" in excerpts
            assert errors == []


async def test_the_owner_approves_from_the_page_with_the_owners_grant_only(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app, mode="approval",
                       auth=AUTH) as h:
        incident_id = await h.fire()
        first = await h.investigated(incident_id)
        assert first.policy.mitigation.status == "awaiting_approval"
        await h.delivered(incident_id)
        read_link, owner_link = _grant_link(h, incident_id), _grant_link(h, incident_id,
                                                                          owner=True)
        # The approval request also reaches the shared issue: there, its link only reads.
        shared = [c["body"] for c in h.github.comments.get(205, []) if "grant=" in c["body"]]
        assert shared and all("grant=read." in b and "grant=owner." not in b for b in shared)
        assert "grant=owner." in owner_link
        # The request tells the Owner to use the page's button; scripts keep the API route.
        (request,) = [b["message"] for b in h.owner.deliveries
                      if b["message"]["key"] == "approval-request"]
        assert "Approve button on the incident page" in request["summary"]
        assert f"/incidents/{incident_id}/approve with the Owner token" in request["summary"]
        async with chromium(tmp_path / "profile") as browser:
            page = await browser.new_page()
            await page.goto(read_link)  # on-call's link: reads, cannot approve
            assert await page.locator("#approve").count() == 0
            assert "Owner" in await _text(page, "#approve-pending")
            read_grant = parse_qs(urlsplit(read_link).query)["grant"][0]
            forged = await page.request.post(
                f"{h.client.base}/incidents/{incident_id}/approve",
                form={"grant": read_grant}, max_redirects=0)
            assert forged.status == 401
            assert h.patches() == []
            await page.goto(owner_link)
            await page.screenshot(path=str(artifact("page-approval.png")), full_page=True)
            async with page.expect_navigation():
                await page.click("#approve")
            assert urlsplit(page.url).path == f"/incidents/{incident_id}"
            assert "approved by owner" in await _text(page, "#switch-who")
            await h.tick(30)
            done = await h.incident(incident_id)
            assert done.policy.mitigation.approved_by == "owner"
            assert done.policy.mitigation.status in {"applied", "applying"}
            await page.reload()
            await page.screenshot(path=str(artifact("page-approved.png")), full_page=True)
        assert len(h.patches()) == 1
