# Convenience targets; each runs the idempotent set-up first (see scripts/setup.sh).
.PHONY: setup demo test
setup:
	bash scripts/setup.sh
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
