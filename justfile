# kiln's everyday commands (https://github.com/casey/just); each is a plain
# cargo command too, listed in the README.

# Apply the example on the embedded default provider (no cloud needed).
demo:
    cargo run -- apply -C examples/local-web --yes

# Every test of the workspace.
test:
    cargo test --workspace

# The benchmark suite: figures next to their targets.
bench:
    cargo bench -p kiln-cli --bench kiln

# The crash and fault harness (docs/reliability.md): every named crash point
# of every command on the local store and on S3 (moto), then KILLS applies
# killed with kill -9 at random moments; each followed by the next command,
# which must finish with no manual step, an exact state and an empty plan.
faults KILLS="100":
    cargo test -p kiln-cli --test crash --test s3 -- --nocapture crash
    KILN_FAULT_KILLS={{KILLS}} cargo test -p kiln-cli --test crash -- --nocapture random_kills

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Fuzz the parser and evaluator (needs nightly and `cargo install cargo-fuzz`;
# not part of CI). Runs for SECONDS seconds, 300 by default.
fuzz SECONDS="300":
    cd fuzz && mkdir -p corpus/config && cargo +nightly fuzz run config corpus/config seeds/config -- -max_total_time={{SECONDS}}
