# The README's two commands: `make demo` and `make test`. Both bootstrap their environment.
.PHONY: demo test lint bootstrap lock bench

demo:
	@scripts/bootstrap
	@.venv/bin/aislot-responder demo

test:
	@scripts/bootstrap --system
	.venv/bin/ruff check service tests
	.venv/bin/mypy
	.venv/bin/python -m pytest -q

bench:
	@scripts/bootstrap
	.venv/bin/python -m pytest -q -m bench tests/bench -s

lock:
	.venv/bin/uv pip compile pyproject.toml --extra dev -o requirements.lock --quiet
