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
