# Shortcuts; packaging/bootstrap.sh does the work (and needs no make).
.PHONY: run test bench lint
run:
	bash packaging/bootstrap.sh run
test:
	bash packaging/bootstrap.sh test
bench:
	bash packaging/bootstrap.sh bench
lint:
	.venv/bin/ruff check src embedded_server tests && .venv/bin/ruff format --check src embedded_server tests && .venv/bin/mypy && .venv/bin/lint-imports
