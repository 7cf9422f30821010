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
# killed with kill -9 at random moments on the local store and S3_KILLS with
# the state in S3; each followed by the next command, which must finish with
# no manual step, an exact state and an empty plan. Then, on the AWS emulator: AWS_KILLS kills of create / replace / destroy,
# and ROUNDS applies, replacements and destroys of examples/aws-web through
# a proxy losing 30% of the answers, then throttling, failing and resetting.
faults KILLS="100" S3_KILLS="30" AWS_KILLS="30" ROUNDS="5":
    cargo test -p kiln-cli --test crash --test s3 -- --nocapture crash
    KILN_FAULT_KILLS={{KILLS}} cargo test -p kiln-cli --test crash -- --nocapture random_kills
    KILN_FAULT_S3_KILLS={{S3_KILLS}} cargo test -p kiln-cli --test s3 -- --nocapture random_kills
    KILN_FAULT_KILLS={{AWS_KILLS}} KILN_FAULT_ROUNDS={{ROUNDS}} cargo test -p kiln-provider-aws --test faults -- --nocapture --test-threads 1

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Fuzz the parser and evaluator (needs `cargo install cargo-fuzz`; nightly
# flags on the installed toolchain through RUSTC_BOOTSTRAP; not part of CI).
# Runs for SECONDS seconds, 300 by default.
fuzz SECONDS="300":
    cd fuzz && mkdir -p corpus/config && RUSTC_BOOTSTRAP=1 cargo fuzz run config corpus/config seeds/config -- -max_total_time={{SECONDS}}
