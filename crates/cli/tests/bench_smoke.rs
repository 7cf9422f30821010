//! The benchmark at a few hundred resources, so it cannot rot: every scenario
//! runs (each asserts its own results: no-change plans have no changes,
//! applies create everything, the `kiln` command succeeds and reports its
//! peak memory) and reports a figure.

#[path = "../benches/kiln.rs"]
mod bench;

#[test]
fn every_benchmark_scenario_runs_at_small_size() {
    let figures = bench::run(&[300], 1, false);
    let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
    for expected in [
        "kiln plan 300, fresh (parse + plan + render)",
        "kiln plan 300, fresh: peak memory",
        "kiln apply 300 zero-delay null resources",
        "kiln apply 300: peak memory",
        "kiln apply --rebuild 300 (replace every resource)",
        "state file of 300: size per resource",
        "kiln plan 300, no changes",
        "kiln plan 300, no changes: peak memory",
        "parse 300 resources",
        "plan 300 fresh (after parse)",
        "plan 300 no changes (after parse)",
        "parse + plan chain of 300",
        "parse + plan 150 module instances (300 resources)",
        "state 300: serialize",
        "state 300: parse",
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
        figures
            .iter()
            .all(|f| f.value > 0.0 || (f.unit == bench::Unit::MiB && !cfg!(target_os = "linux"))),
        "every figure was measured"
    );
    // Not a timing: the state's size per resource is deterministic.
    let size = figures
        .iter()
        .find(|f| f.name == "state file of 300: size per resource")
        .unwrap();
    assert_eq!(size.met(), Some(true), "{} B per resource", size.value);
}
