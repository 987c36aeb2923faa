"""The responder as the demo runs it: ``aislot-responder serve``, a child process.

Purpose: start the responder configured the way an operator would configure it (``AISLOT_*``
env over the default config file), on the simulator's compressed clock
(``runtime.time_scale/time_origin/time_anchor``), wait for ``/readyz`` and stop it with SIGTERM.
Its output (the console sink's messages, warnings) goes to the demo's own stdout and stderr.
Boundary: a program and HTTP only; nothing of the responder is imported, so the simulator's
distribution never depends on the responder's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class ResponderError(RuntimeError):
    """The responder could not be found or did not become ready; one line for the user."""


def responder_program(explicit: str | None = None) -> str:
    """``aislot-responder``: ``explicit``, else the one installed beside this Python, else PATH."""
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "aislot-responder"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("aislot-responder")
    if found is None:
        raise ResponderError("aislot-responder is not installed (scripts/bootstrap installs it "
                             "with the simulator), or pass --responder PROGRAM")
    return found


def responder_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's env without its own ``AISLOT_*`` settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AISLOT_")}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


@contextlib.asynccontextmanager
async def running_responder(program: str, base: str,
                            settings: Mapping[str, str]) -> AsyncIterator[None]:
    """``program serve`` with ``settings`` as env until ready at ``base``; SIGTERM on exit."""
    try:
        proc = await asyncio.create_subprocess_exec(program, "serve",
                                                    env=responder_env(settings))
    except OSError as exc:
        raise ResponderError(f"cannot run {program}: {exc.strerror or exc}") from None
    try:
        await _ready(proc, base)
        yield
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _ready(proc: asyncio.subprocess.Process, base: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise ResponderError(f"the responder exited with code {proc.returncode} "
                                     "before it was ready (its own words are above)")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise ResponderError(f"the responder was not ready at {base}/readyz "
                         f"within {READY_TIMEOUT_S:.0f} s")
