# Hotline: common entry points. `make test` is what CI runs after fmt and clippy (.ci/run).
CARGO ?= cargo
# Extra arguments for `hotline serve`, e.g. make run SERVE_ARGS="--config hotline.toml"
SERVE_ARGS ?=

.PHONY: run test bench fmt lint clean

run:
	scripts/install-deps.sh run
	$(CARGO) build --release
	./target/release/hotline serve $(SERVE_ARGS)

test:
	scripts/install-deps.sh test
	$(CARGO) test --no-fail-fast

# Criterion benches, then the SIPp load scripts under bench/ (if any).
bench:
	$(CARGO) bench
	@set -e; for f in bench/*.sh; do \
		[ -e "$$f" ] || continue; \
		echo "== $$f"; bash "$$f"; \
	done

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
