# The README's two commands: `make demo` and `make test`. Both bootstrap their environment.
.PHONY: demo test lint bootstrap lock bench k8s golden

demo:
	@scripts/bootstrap
	@.venv/bin/aislot-simulator demo

test:
	@scripts/bootstrap --system
	@scripts/build-k8s >/dev/null
	.venv/bin/ruff check service simulator tests
	.venv/bin/mypy
	.venv/bin/lint-imports
	.venv/bin/python -m pytest -q

# Rewrite tests/golden/ (every message as each sink shows it) after a deliberate change;
# review the diff before committing it.
golden:
	@scripts/bootstrap
	UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/integration/test_golden_messages.py

bench:
	@scripts/bootstrap
	.venv/bin/python -m pytest -q -m bench tests/bench -s

# The real control plane (etcd, kube-apiserver, controllers, kwok) and kubectl the tests run,
# built from Go modules once per machine (first time: ~6 min on 2 cores), then cached.
k8s:
	@scripts/build-k8s

# uv is a tool of this target only (not a dependency of the project or its tests).
lock:
	@test -x .venv/bin/uv || .venv/bin/pip install -q uv
	.venv/bin/uv pip compile pyproject.toml simulator/pyproject.toml --extra dev -o requirements.lock --quiet
