"""GitHub's issue comments API: list (paged, ``Link`` header) and create, Bearer auth, JSON
errors like GitHub (401 ``Bad credentials``, 404 ``Not Found``, 422 ``Validation Failed``).
``SECONDARY_LIMIT`` is the body of GitHub's secondary rate limit (a 403 or 429)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.adapters.fakes.server import FakeServer

DOCS = "https://docs.github.com/rest/issues/comments"
SECONDARY_LIMIT = {"message": "You have exceeded a secondary rate limit. Please wait a few "
                              "minutes before you try again.", "documentation_url": DOCS}


def gh_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"message": message, "documentation_url": DOCS,
                              "status": str(status), **extra}, status=status)


class FakeGithub(FakeServer):
    def __init__(self, token: str, repo: str, issues: set[int]) -> None:
        super().__init__()
        self.token = token
        self.repo = repo
        self.comments: dict[int, list[dict[str, Any]]] = {n: [] for n in issues}
        self._next_id = 1000
        path = "/repos/{owner}/{name}/issues/{issue}/comments"
        self.app.router.add_get(path, self._list)
        self.app.router.add_post(path, self._create)

    def error_body(self, status: int) -> tuple[Any, str]:
        message = {403: "Resource not accessible by integration",
                   429: "API rate limit exceeded", 404: "Not Found",
                   422: "Validation Failed"}.get(status, "Server Error")
        return {"message": message, "documentation_url": DOCS, "status": str(status)}, \
            "application/json"

    def add_comment(self, issue: int, body: str) -> dict[str, Any]:
        self._next_id += 1
        comment = {"id": self._next_id, "body": body, "user": {"login": "aislot-bot"},
                   "html_url": f"https://github.com/{self.repo}/issues/{issue}"
                               f"#issuecomment-{self._next_id}",
                   "created_at": "2026-02-26T10:05:00Z"}
        self.comments[issue].append(comment)
        return comment

    def _check(self, request: web.Request) -> web.Response | int:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return gh_error(401, "Requires authentication")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token != self.token:
            return gh_error(401, "Bad credentials")
        repo = f"{request.match_info['owner']}/{request.match_info['name']}"
        issue = request.match_info["issue"]
        if repo != self.repo or not issue.isdigit() or int(issue) not in self.comments:
            return gh_error(404, "Not Found")
        return int(issue)

    async def _list(self, request: web.Request) -> web.Response:
        checked = self._check(request)
        if isinstance(checked, web.Response):
            return checked
        per_page = min(100, int(request.query.get("per_page", "30")))
        page = int(request.query.get("page", "1"))
        items = self.comments[checked]
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            nxt = request.url.update_query(page=str(page + 1), per_page=str(per_page))
            headers["Link"] = f'<{nxt}>; rel="next"'
        return web.json_response(chunk, headers=headers)

    async def _create(self, request: web.Request) -> web.Response:
        checked = self._check(request)
        if isinstance(checked, web.Response):
            return checked
        try:
            body = json.loads(await request.read())
        except ValueError:
            return gh_error(400, "Problems parsing JSON")
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            return gh_error(422, "Validation Failed", errors=[
                {"resource": "IssueComment", "code": "missing_field", "field": "body"}])
        if len(text) > 65536:
            return gh_error(422, "Validation Failed", errors=[
                {"resource": "IssueComment", "code": "custom", "field": "body",
                 "message": "body is too long (maximum is 65536 characters)"}])
        return web.json_response(self.add_comment(checked, text), status=201)
