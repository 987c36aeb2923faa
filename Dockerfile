# syntax=docker/dockerfile:1
# aislot-responder image: two stages.
#   build   - a venv in /opt/venv with the runtime dependencies at the versions of
#             requirements.lock, then the package itself with --no-deps.
#   runtime - the same slim Python base with /opt/venv copied in: no compiler, no pip, no
#             setuptools, a non-root user (uid 10001), read-only root filesystem friendly
#             (bytecode compiled at build time; the only writable path is the /data volume).
# No container engine runs on the project's machines: tests/e2e/test_deploy_docker.py runs the
# build stage's RUN steps in a clean venv and checks that `aislot-responder --help` works.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY service ./service
RUN python -m venv /opt/venv
# Runtime dependencies only (the lock also pins the dev extra: pytest, mypy, ruff stay out),
# each at exactly the version of requirements.lock, wheels only (nothing compiles).
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/runtime-requirements.txt', 'w').write(chr(10).join(deps) + chr(10))" \
 && /opt/venv/bin/pip install --only-binary=:all: -c requirements.lock -r /tmp/runtime-requirements.txt
# The package itself (service only: the simulator, simulator/, is a separate development
# distribution and is not in the build context): no dependency resolution here, everything came from the lock above.
# pip byte-compiles what it installs (the runtime root filesystem is read-only); then pip and
# setuptools leave the venv.
RUN /opt/venv/bin/pip install --no-deps /src \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall -y -q pip setuptools

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="aislot-responder" \
      org.opencontainers.image.description="Alert auto-responder for the AI-slot build runbook RB-CK8S-AISLOT-BUILD-0001" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 aislot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin aislot \
 && mkdir -p /data /etc/aislot-responder \
 && chown 10001:10001 /data \
 && (python -m pip uninstall -y -q pip setuptools wheel || true) \
 && rm -rf /root/.cache /tmp/*
COPY --from=build /opt/venv /opt/venv
COPY config/responder.yaml /etc/aislot-responder/responder.yaml
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AISLOT_CONFIG=/etc/aislot-responder/responder.yaml \
    AISLOT_STORE__SQLITE_PATH=/data/responder.db \
    AISLOT_LOGGING__FORMAT=json
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["aislot-responder"]
CMD ["serve"]
