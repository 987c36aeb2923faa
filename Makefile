# The README's two commands: `make demo` and `make test`. Both bootstrap their environment.
.PHONY: demo test lint bootstrap lock bench golden

demo:
	@scripts/bootstrap
	@.venv/bin/aislot-responder demo

test:
	@scripts/bootstrap --system
	.venv/bin/ruff check service tests
	.venv/bin/mypy
	.venv/bin/python -m pytest -q

# Rewrite tests/golden/ (every message as each sink shows it) after a deliberate change;
# review the diff before committing it.
golden:
	@scripts/bootstrap
	UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/integration/test_golden_messages.py

bench:
	@scripts/bootstrap
	.venv/bin/python -m pytest -q -m bench tests/bench -s

lock:
	.venv/bin/uv pip compile pyproject.toml --extra dev -o requirements.lock --quiet
