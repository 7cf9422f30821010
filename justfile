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

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Fuzz the parser and evaluator (needs nightly and `cargo install cargo-fuzz`;
# not part of CI). Runs for SECONDS seconds, 300 by default.
fuzz SECONDS="300":
    cd fuzz && mkdir -p corpus/config && cargo +nightly fuzz run config corpus/config seeds/config -- -max_total_time={{SECONDS}}
