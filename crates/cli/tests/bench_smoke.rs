//! The benchmark at a few hundred resources, so it cannot rot: every scenario
//! runs (each asserts its own results: no-change plans have no changes,
//! applies create everything) and reports a figure.

#[path = "../benches/kiln.rs"]
mod bench;

#[test]
fn every_benchmark_scenario_runs_at_small_size() {
    let figures = bench::run(&[300], 1, false);
    let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
    for expected in [
        "parse 300 resources",
        "plan 300 fresh (after parse)",
        "plan 300 no changes (after parse)",
        "parse + plan chain of 300",
        "parse + plan 150 module instances (300 resources)",
        "apply 300 zero-delay null resources",
        "apply layered 10x5, 50 ms steps, parallelism unlimited",
        "apply layered 10x5, 50 ms steps, parallelism 3",
        "refresh 300, 50 ms reads, parallelism 10",
    ] {
        assert!(
            names.contains(&expected),
            "{expected:?} missing from {names:?}"
        );
    }
    assert!(
        figures.iter().all(|f| !f.value.is_zero()),
        "every figure was measured"
    );
}
