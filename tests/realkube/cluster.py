"""A real Kubernetes control plane on loopback for the realkube tests.

Purpose: start etcd, kube-apiserver (static token auth, RBAC, loopback only), the controller
manager (every controller, each with its own ServiceAccount credentials), the scheduler and kwok
(the fake node's kubelet: pod phases by Stage, container logs from files) from the binaries that
scripts/build-k8s built, and stop them by PID. ``ControlPlane.restart_apiserver`` stops and starts
the apiserver alone, on the same port and etcd.
Boundary: processes, files and certificates; talking to the API is ``tests.realkube.api``.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.procs import free_port, wait_until
from tests.realkube.api import Api

ROOT = Path(__file__).resolve().parents[2]
STAGES = Path(__file__).with_name("kwok-stages.yaml")
NODE = "kwok-node-0"
AUDITED = "monitoring"  # the namespace of the responder's ServiceAccount (the chart's release)
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl",
            "kwok")


@functools.cache
def binaries() -> Path:
    """The cached binaries; builds them first (scripts/build-k8s) when they are not there."""
    done = subprocess.run([str(ROOT / "scripts" / "build-k8s")], stdout=subprocess.PIPE,
                          text=True, check=False)
    if done.returncode != 0:
        raise AssertionError("scripts/build-k8s failed: the real control plane cannot start")
    where = Path(done.stdout.strip().splitlines()[-1])
    missing = [b for b in BINARIES if not (where / b).exists()]
    assert not missing, f"scripts/build-k8s left no {missing} in {where}"
    return where


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certs(work: Path) -> None:
    """Serving certificates (apiserver, kwok) for 127.0.0.1 and the ServiceAccount key pair."""
    for name in ("apiserver", "kwok"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-keyout", str(work / f"{name}.key"), "-out", str(work / f"{name}.crt"),
                 "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    _openssl("genrsa", "-out", str(work / "sa.key"), "2048")
    _openssl("rsa", "-in", str(work / "sa.key"), "-pubout", "-out", str(work / "sa.pub"))


def kubeconfig(path: Path, server: str, ca: Path, token: str,
               namespace: str = "default") -> Path:
    """A kubeconfig for one bearer token (JSON is YAML)."""
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "realkube",
        "clusters": [{"name": "realkube",
                      "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": "user", "user": {"token": token}}],
        "contexts": [{"name": "realkube", "context": {"cluster": "realkube", "user": "user",
                                                        "namespace": namespace}}],
    }))
    return path


@dataclass
class ControlPlane:
    """The running processes, their ports and the admin's credentials."""

    work: Path
    bin: Path
    admin_token: str = field(default_factory=lambda: "admin-" + secrets.token_hex(16))
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    etcd_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    kwok_port: int = field(default_factory=free_port)
    startup_s: dict[str, float] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def ca(self) -> Path:
        return self.work / "apiserver.crt"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.work / "admin.kubeconfig"

    def api(self, token: str | None = None) -> Api:
        return Api(self.server, token or self.admin_token, self.ca)

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")[-6000:]

    def _spawn(self, name: str, args: list[str]) -> None:
        with (self.work / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen([str(self.bin / args[0]), *args[1:]],
                                                stdout=out, stderr=subprocess.STDOUT,
                                                cwd=self.work)

    def _alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited {proc.returncode}:\n{self.log(name)}")

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> None:
        began = time.monotonic()
        make_certs(self.work)
        (self.work / "tokens.csv").write_text(
            f'{self.admin_token},admin,admin-uid,"system:masters"\n')
        kubeconfig(self.admin_kubeconfig, self.server, self.ca, self.admin_token)
        self._start_etcd()
        self.start_apiserver()
        self._start_controllers()
        self._start_kwok()
        self.startup_s["total"] = time.monotonic() - began

    def _start_etcd(self) -> None:
        began = time.monotonic()
        peer = free_port()
        self._spawn("etcd", [
            "etcd", "--name=realkube", f"--data-dir={self.work / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{self.etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{self.etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=realkube=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync", "--log-level=warn", "--quota-backend-bytes=1073741824",
        ])

        def healthy() -> bool:
            self._alive("etcd")
            return Api.plain_ok(f"http://127.0.0.1:{self.etcd_port}/health")

        wait_until(healthy, timeout=60, what="etcd /health")
        self.startup_s["etcd"] = time.monotonic() - began

    def start_apiserver(self) -> None:
        began = time.monotonic()
        w = self.work
        self._spawn("kube-apiserver", [
            "kube-apiserver", f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}", f"--cert-dir={w / 'apiserver-certs'}",
            f"--tls-cert-file={w / 'apiserver.crt'}",
            f"--tls-private-key-file={w / 'apiserver.key'}",
            f"--token-auth-file={w / 'tokens.csv'}", "--authorization-mode=Node,RBAC",
            "--anonymous-auth=false",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={w / 'sa.pub'}",
            f"--service-account-signing-key-file={w / 'sa.key'}",
            "--service-cluster-ip-range=10.43.0.0/16",
            # pods/log goes to kwok's kubelet port; its certificate is self-signed, and with no
            # --kubelet-certificate-authority the apiserver does not verify it.
            "--kubelet-preferred-address-types=InternalIP",
            # Every request of a ServiceAccount of the responder's namespace, to the audit log:
            # what the responder did (and never tried) is read from the apiserver's own record.
            f"--audit-policy-file={self._audit_policy()}", f"--audit-log-path={self.audit_path}",
            "--audit-log-format=json", "--audit-log-mode=blocking",
            "--enable-priority-and-fairness=false", "--profiling=false",
            "--watch-cache=true", "--v=1",
        ])
        api = self.api()

        def ready() -> bool:
            self._alive("kube-apiserver")
            return api.ok("/readyz")

        wait_until(ready, timeout=120, interval=0.25, what="kube-apiserver /readyz")
        self.startup_s["kube-apiserver"] = time.monotonic() - began

    @property
    def audit_path(self) -> Path:
        return self.work / "audit.log"

    def _audit_policy(self) -> Path:
        path = self.work / "audit-policy.json"
        path.write_text(json.dumps({
            "apiVersion": "audit.k8s.io/v1", "kind": "Policy",
            "omitStages": ["RequestReceived", "ResponseStarted"],
            "rules": [{"level": "Metadata", "userGroups": [f"system:serviceaccounts:{AUDITED}"]},
                      {"level": "None"}]}))
        return path

    def audit_mark(self) -> int:
        """Where the audit log ends now: ``audited(user, after=mark)`` reads only what follows."""
        return len(self._audit_lines())

    def _audit_lines(self) -> list[str]:
        if not self.audit_path.exists():
            return []
        return [line for line in self.audit_path.read_text().splitlines() if line]

    def audited(self, user: str, after: int = 0) -> list[dict[str, Any]]:
        """The apiserver's audit events (stage ResponseComplete) of ``user``, in order."""
        events = [json.loads(line) for line in self._audit_lines()[after:]]
        return [e for e in events if e["user"]["username"] == user
                and e["stage"] == "ResponseComplete"]

    def stop_apiserver(self) -> None:
        _stop(self.procs.pop("kube-apiserver"))

    def restart_apiserver(self) -> None:
        self.stop_apiserver()
        self.start_apiserver()

    def _start_controllers(self) -> None:
        began = time.monotonic()
        w = self.work
        self._spawn("kube-controller-manager", [
            "kube-controller-manager", f"--kubeconfig={self.admin_kubeconfig}",
            "--controllers=*", "--use-service-account-credentials=true",
            f"--service-account-private-key-file={w / 'sa.key'}", f"--root-ca-file={self.ca}",
            "--leader-elect=false", "--secure-port=0", "--v=1",
            "--concurrent-job-syncs=5", "--concurrent-deployment-syncs=5",
        ])
        self._spawn("kube-scheduler", [
            "kube-scheduler", f"--kubeconfig={self.admin_kubeconfig}", "--leader-elect=false",
            "--secure-port=0", "--v=1",
        ])
        api = self.api()

        def default_account() -> bool:
            self._alive("kube-controller-manager")
            self._alive("kube-scheduler")
            return api.ok("/api/v1/namespaces/default/serviceaccounts/default")

        wait_until(default_account, timeout=60, interval=0.25,
                   what="the serviceaccount controller's default ServiceAccount")
        self.startup_s["controllers"] = time.monotonic() - began

    def _start_kwok(self) -> None:
        began = time.monotonic()
        api = self.api()
        for crd in sorted((self.bin / "kwok-crds").glob("*.yaml")):
            api.apply_yaml(crd.read_text())
        wait_until(lambda: api.ok("/apis/kwok.x-k8s.io/v1alpha1/logs"), timeout=30,
                   what="kwok's Logs CRD served")
        api.create("/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE, "annotations": {"kwok.x-k8s.io/node": "fake"},
                         "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                                    "type": "kwok"}},
        })
        self._spawn("kwok", [
            "kwok", f"--kubeconfig={self.admin_kubeconfig}", f"--config={STAGES}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-ip=127.0.0.1", f"--node-port={self.kwok_port}",
            f"--server-address=127.0.0.1:{self.kwok_port}",
            f"--tls-cert-file={self.work / 'kwok.crt'}",
            f"--tls-private-key-file={self.work / 'kwok.key'}",
            "--enable-crds=Logs",
        ])

        def node_ready() -> bool:
            self._alive("kwok")
            node = api.get(f"/api/v1/nodes/{NODE}")
            return any(c["type"] == "Ready" and c["status"] == "True"
                       for c in node.get("status", {}).get("conditions", []))

        wait_until(node_ready, timeout=60, interval=0.25, what="the kwok node Ready")
        self.startup_s["kwok"] = time.monotonic() - began

    # -- stop ----------------------------------------------------------------------------------
    def stop(self) -> None:
        for name in ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver",
                     "etcd"):
            proc = self.procs.pop(name, None)
            if proc is not None:
                _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s, and always reap: by PID, nothing else."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
