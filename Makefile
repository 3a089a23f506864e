# Hotline: common entry points. `make test` is what CI runs after fmt and clippy (.ci/run).
CARGO ?= cargo
# Extra arguments for `hotline serve`, e.g. make run SERVE_ARGS="--config hotline.toml"
SERVE_ARGS ?=

.PHONY: run test bench fmt lint clean

run:
	scripts/install-deps.sh run
	scripts/fetch-phone-dat.sh
	scripts/make-prompts.sh
	$(CARGO) build --release
	./target/release/hotline serve $(SERVE_ARGS)

test:
	scripts/install-deps.sh test
	scripts/fetch-phone-dat.sh
	$(CARGO) test --no-fail-fast

# Criterion benches, then the SIPp load scripts (sip-tester), then one summary; results
# under var/bench/, method and figures in BENCHMARKS.md. About 15 minutes on 2 cores.
bench:
	bash bench/criterion.sh
	bash bench/sipp_cps.sh
	NO_BUILD=1 bash bench/idle_dialogs.sh
	@echo; echo "######## summary (var/bench/) ########"
	@cat var/bench/criterion.txt var/bench/sipp_cps.txt var/bench/idle_dialogs.txt

# Media load matrix (bench/media_load.sh): 500, 1000 and 2000 concurrent 60 s calls with RTP
# both ways, echo and welcome+record, with rtpengine (via Kamailio) relaying the same calls as
# the reference. Needs root; installs its packages (scripts/install-deps.sh bench); ~12 min.
# Results: var/bench/media_load.txt. Knobs as environment, e.g. make bench-media LOADS=500.
.PHONY: bench-media
bench-media:
	bash bench/media_load.sh

# WebRTC under whole-call load (benches/webrtc_load.rs): LEGS SIPp callers queued and
# answered by LEGS browser-like str0m agents over the agent WebSocket; ~3 min; prints
# Hotline's CPU per bridged call and the WebRTC setup time (BENCHMARKS.md §10).
LEGS ?= 200
.PHONY: bench-webrtc
bench-webrtc:
	LEGS=$(LEGS) $(CARGO) bench --bench webrtc_load

# Fuzz the SIP parser (cargo-fuzz; not part of `make test`). FUZZ_SECONDS=600 for a long run.
# The corpus is seeded from the RFC 4475 torture messages; crashes land in fuzz/artifacts/.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/parse_message
	cp tests/data/rfc4475/*.dat fuzz/corpus/parse_message/
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run parse_message corpus/parse_message -- \
		-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
