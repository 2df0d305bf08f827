# Shortcuts; README.md explains each.
SCENARIO ?= scenarios/fresh_start_height1.toml
SEED ?= 1
# Where cargo puts binaries: CARGO_TARGET_DIR if set, else target/.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
SIM := $(TARGET_DIR)/release/sim
# make fuzz: every seed of SEEDS of every scenario of FUZZ_SCENARIOS.
SEEDS ?= 1..1000
FUZZ_SCENARIOS ?= $(wildcard scenarios/*.toml)

.PHONY: build sim test clippy replay fuzz devnet-smoke

build:
	cargo build --release --features sim

# Run the main scenario on the simulated cluster, fixed then with bug 1.
sim: build
	$(SIM) run $(SCENARIO) --seed $(SEED)
	@echo "== the same seed with the pre-fix behaviour (expected: exit 11, liveness)"
	$(SIM) run $(SCENARIO) --seed $(SEED) --bug height1-deadlock; test $$? -eq 11

test:
	cargo test --features sim

clippy:
	cargo clippy --all-targets --features sim -- -D warnings

# Replay one seed with its full tracing log: make replay SCENARIO=... SEED=... [BUG=name]
replay: build
	$(SIM) run $(SCENARIO) --seed $(SEED) $(if $(BUG),--bug $(BUG)) --log replay.log; \
	  code=$$?; echo "log: replay.log"; exit $$code

# Every seed of SEEDS of every scenario, one run per CPU at a time (JOBS=N to
# change); each failure leaves an artefact in fuzz-artefacts/, replayed by
# target/release/sim replay fuzz-artefacts/<scenario>-seed<N>.json
fuzz: build
	$(SIM) fuzz $(FUZZ_SCENARIOS) --seeds $(SEEDS) $(if $(JOBS),--jobs $(JOBS))

# A real 3-node cluster on 127.0.0.1 for about 10 s: exits 0 only if a leader
# produced blocks and both followers hold the same blocks.
devnet-smoke:
	cargo build --release -p node
	$(TARGET_DIR)/release/node devnet --nodes 3 --base-port 7100 --duration-s 10
