"""Benchmark: our streamed log scan vs. `kubectl get --raw <log path> | grep -E <patterns>`.

Run: `.venv/bin/python -m tests.bench.bench_logscan_vs_kubectl [--mb 500]`.
A simulator runs in its own process with its `huge_log` fault on the control-plane pod (a log
of `--mb` megabytes, generated lazily: every line is a relayed kaniko job line, every 997th a
MANIFEST_UNKNOWN failure). In the same run, each contender reads the whole log from it in its
own child process, so its peak RSS (sampled VmHWM) and its CPU time (user + system, kubectl's
and grep's summed; the simulator's not counted) are its own:

- ours: the control-plane log collector (Deployment -> pods, streamed pods/log, scanner for the
  configured signatures, context patterns included), the evidence bundle's path;
- ours, defining only: the same without context patterns (the recovery watch's path);
- drain: our client reading the same stream without scanning (the transport's ceiling, which
  is also the simulator's generation speed);
- kubectl get --raw: `kubectl get --raw /api/v1/.../pods/<pod>/log | grep -cE <runbook patterns>`
  (kubectl and grep measured separately; the pipeline's RSS is their sum);
- kubectl logs: the runbook's own `kubectl logs deploy/codex-k8s-control-plane | grep -cE`.

Counts are checked against each other: grep's matching lines == our defining + context lines.
The pytest test runs the same with ~50 MB and asserts counts only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.simkit import NAMESPACE, kubectl_path, simulator_process

RUNBOOK_GREP = "MANIFEST_UNKNOWN|retrieving image from cache|kaniko|mirror"
CP = "codex-k8s-control-plane"
WINDOW_S = 90 * 86400  # the pod's whole life: the same bytes kubectl reads without --since
MIB = 1024 * 1024


# -- children --------------------------------------------------------------------------------
async def _ours(kubeconfig: Path, mode: str) -> dict[str, Any]:
    from service.cluster.client import KubeClient
    from service.config.settings import KubeSettings, Settings
    from service.runbook.diagnostics.collector import Window, collect
    from service.runbook.diagnostics.deployment_logs import control_plane_logs

    settings = Settings(kube=KubeSettings(kubeconfig=kubeconfig, request_timeout_s=120),
                        diagnostics={"log_window_s": WINDOW_S, "collector_timeout_s": 3600,
                                     "overall_deadline_s": 3600})
    kube = await KubeClient.from_settings(settings.kube)
    try:
        started = time.perf_counter()
        if mode != "drain":
            now = datetime.now(UTC)
            since = datetime.fromtimestamp(now.timestamp() - WINDOW_S, UTC)
            diag = settings.diagnostics
            got = await collect(
                control_plane_logs(settings.platform, diag, signatures=diag.signatures,
                                   context=mode == "ours"),
                kube, Window(since, now), timeout_s=diag.collector_timeout_s)
            assert got.data is not None, got.error
            stats = got.data.stats("cache")
            out: dict[str, Any] = {"bytes": got.data.bytes_scanned, "lines": got.data.lines_scanned,
                   "defining": stats.lines, "context": stats.context_lines,
                   "occurrences": stats.occurrences, "status": got.status.value}
        else:
            pods = await kube.list_pods(label_selector="app.kubernetes.io/component=control-plane")
            pod = pods["items"][0]["metadata"]["name"]
            size = 0
            async for chunk in kube.stream_pod_log(pod):
                size += len(chunk)
            out = {"bytes": size}
        out["seconds"] = time.perf_counter() - started
        return out
    finally:
        await kube.close()


def _child(name: str, kubeconfig: Path) -> None:
    result = asyncio.run(_ours(kubeconfig, name))
    result["rss"] = _vm_hwm("self")
    print(json.dumps(result))


# -- measuring -------------------------------------------------------------------------------
def _vm_hwm(pid: int | str) -> int:
    """Peak RSS of a live process, in bytes. (ru_maxrss from wait4 is useless here: a child
    reports the parent's high-water mark from before its exec.)"""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _watch_peaks(procs: list[subprocess.Popen[Any]]) -> list[int]:
    """Sample each process's VmHWM until all have exited; the high-water mark only grows."""
    peaks = [0] * len(procs)
    while any(p.poll() is None for p in procs):
        for i, proc in enumerate(procs):
            peaks[i] = max(peaks[i], _vm_hwm(proc.pid))
        time.sleep(0.02)
    return peaks


def _children_cpu() -> float:
    """User + system seconds of the reaped children (the simulator, still running, is not)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(kubeconfig: Path, name: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tests.bench.bench_logscan_vs_kubectl", "--child", name,
           str(kubeconfig)]
    started, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.wait()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result.update(wall=time.perf_counter() - started, cpu=_children_cpu() - cpu)
    return result


def run_pipeline(kubectl_args: list[str], kubeconfig: Path) -> dict[str, Any]:
    """``kubectl ... | grep -cE <patterns>``: wall time, matching lines, each one's peak RSS."""
    env = {**os.environ, "HOME": str(kubeconfig.parent)}
    base = [kubectl_path(), f"--kubeconfig={kubeconfig}",
            f"--cache-dir={kubeconfig.parent / 'kube-cache'}"]
    started, cpu = time.perf_counter(), _children_cpu()
    kc = subprocess.Popen(base + kubectl_args, stdout=subprocess.PIPE, env=env)
    grep = subprocess.Popen(["grep", "-cE", RUNBOOK_GREP], stdin=kc.stdout,
                            stdout=subprocess.PIPE)
    assert kc.stdout is not None and grep.stdout is not None
    kc.stdout.close()  # grep owns the pipe now
    kubectl_rss, grep_rss = _watch_peaks([kc, grep])
    wall = time.perf_counter() - started
    count = int(grep.stdout.read().decode().strip() or 0)
    grep.wait()
    return {"matches": count, "wall": wall, "cpu": _children_cpu() - cpu,
            "kubectl_rss": kubectl_rss, "grep_rss": grep_rss, "rss": kubectl_rss + grep_rss}


def cp_pod(kubeconfig: Path) -> str:
    done = subprocess.run(
        [kubectl_path(), f"--kubeconfig={kubeconfig}", "-n", NAMESPACE, "get", "pods", "-l",
         "app.kubernetes.io/component=control-plane", "-o", "jsonpath={.items[0].metadata.name}"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "HOME": str(kubeconfig.parent)})
    return done.stdout.strip()


def measure(megabytes: int, directory: Path) -> dict[str, dict[str, Any]]:
    with simulator_process("healthy", directory) as (control, kubeconfig):
        control.add_fault(kind="huge_log", resource="pods/log", name=f"{CP}-*",
                          bytes=megabytes * MIB)
        pod = cp_pod(kubeconfig)
        path = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log"
        return {
            "ours": run_ours(kubeconfig, "ours"),
            "ours, defining only": run_ours(kubeconfig, "ours-defining"),
            "drain": run_ours(kubeconfig, "drain"),
            "kubectl get --raw": run_pipeline(["get", "--raw", path], kubeconfig),
            "kubectl logs": run_pipeline(["-n", NAMESPACE, "logs", f"deploy/{CP}"], kubeconfig),
        }


def report(results: dict[str, dict[str, Any]]) -> None:
    size = results["ours"]["bytes"]
    print(f"control-plane log: {size / MIB:.0f} MiB, {results['ours']['lines']} lines, "
          f"grep pattern: {RUNBOOK_GREP}")
    print(f"  {'contender':<20} {'wall s':>8} {'MiB/s':>8} {'CPU s':>7} {'peak RSS MiB':>14}"
          "  matches")
    for name, got in results.items():
        matches = got.get("matches", got.get("defining", 0) + got.get("context", 0))
        shown = "-" if name == "drain" else str(matches)
        extra = ""
        if "kubectl_rss" in got:
            extra = (f"  (kubectl {got['kubectl_rss'] / MIB:.0f} + "
                     f"grep {got['grep_rss'] / MIB:.0f})")
        print(f"  {name:<20} {got['wall']:8.2f} {size / MIB / got['wall']:8.1f} "
              f"{got['cpu']:7.2f} {got['rss'] / MIB:14.1f}  {shown}{extra}")
    for name in ("ours", "ours, defining only", "drain"):
        seconds = results[name]["seconds"]
        print(f"  {name} in-process (no interpreter start): {seconds:.2f} s = "
              f"{size / MIB / seconds:.1f} MiB/s")


def check(results: dict[str, dict[str, Any]]) -> None:
    ours = results["ours"]
    assert ours["status"] == "ok" and ours["bytes"] == results["drain"]["bytes"]
    for name in ("kubectl get --raw", "kubectl logs"):
        assert results[name]["matches"] == ours["defining"] + ours["context"], name
    assert ours["defining"] > 0 and ours["occurrences"] > 0
    lean = results["ours, defining only"]
    assert (lean["defining"], lean["occurrences"]) == (ours["defining"], ours["occurrences"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--child", nargs=2, metavar=("NAME", "KUBECONFIG"))
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(args.mb, Path(tmp))
    report(results)
    check(results)


@pytest.mark.bench
def test_logscan_vs_kubectl_small(tmp_path: Path) -> None:
    results = measure(50, tmp_path)
    report(results)
    check(results)


if __name__ == "__main__":
    main()
