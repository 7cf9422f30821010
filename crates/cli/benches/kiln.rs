//! kiln's benchmark: the `kiln` command end to end (plan and apply at
//! several sizes, with peak memory) and the parts inside it (parsing, the
//! planner, the state's encoding, the engine's scheduling), each figure
//! printed next to its target (issue 8), as a table and as JSON
//! (`KILN_BENCH_JSON=path`).
//!
//! Run with `cargo bench -p kiln-cli --bench kiln` (or `just bench`).
//! `KILN_BENCH_SIZES=1000,10000` limits the sizes, `KILN_BENCH_RUNS` sets
//! the runs per figure (median reported; 5 by default). The test suite runs
//! every scenario at a few hundred resources (tests/bench_smoke.rs) so the
//! benchmark cannot rot.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The same allocator as the `kiln` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use kiln_config::SourceFile;
use kiln_model::Value;
use kiln_plan::{ActionKind, PlanOptions};
use kiln_provider::Registry;
use kiln_state::{ResourceState, State};

/// What a figure measures; lower is better for every unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Seconds,
    MiB,
    Bytes,
    Ratio,
}

pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: Unit,
    pub target: Option<f64>,
    /// The fastest and slowest run, where the spread is worth showing.
    pub spread: Option<(f64, f64)>,
}

impl Figure {
    fn time(name: impl Into<String>, value: Duration, target: Option<Duration>) -> Figure {
        Figure {
            name: name.into(),
            value: value.as_secs_f64(),
            unit: Unit::Seconds,
            target: target.map(|t| t.as_secs_f64()),
            spread: None,
        }
    }

    fn with_spread(mut self, runs: &Runs) -> Figure {
        self.spread = Some((runs.min.as_secs_f64(), runs.max.as_secs_f64()));
        self
    }

    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| self.value <= t)
    }

    fn show(unit: Unit, v: f64) -> String {
        match unit {
            Unit::Seconds if v < 1.0 => format!("{:.1} ms", v * 1e3),
            Unit::Seconds => format!("{v:.2} s"),
            Unit::MiB => format!("{v:.0} MiB"),
            Unit::Bytes => format!("{v:.0} B"),
            Unit::Ratio => format!("x{v:.1}"),
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(Arc::new(kiln_provider_null::NullProvider::new()));
    r
}

fn options() -> PlanOptions {
    PlanOptions {
        env: "bench".into(),
        root_dir: ".".into(),
        ..Default::default()
    }
}

/// Parses and plans a fresh configuration; returns the timings and the plan.
fn plan_fresh(text: &str, registry: &Registry) -> (Duration, Duration, kiln_plan::Plan) {
    let t = Instant::now();
    let (config, diags) = kiln_config::parse(vec![SourceFile {
        name: "bench.hcl".into(),
        text: text.to_string(),
    }]);
    assert!(!diags.has_errors(), "{diags}");
    let parse = t.elapsed();
    let t = Instant::now();
    let plan = kiln_plan::plan(
        &config,
        &State::new("bench", ""),
        registry.schemas(),
        &options(),
    )
    .expect("plan");
    (parse, t.elapsed(), plan)
}

/// The state an apply of `plan` would leave, built directly.
fn state_of(plan: &kiln_plan::Plan) -> State {
    let mut s = State::new("bench", "bench-lineage");
    s.serial = 1;
    s.generation = 1;
    for (i, a) in plan.actions.iter().enumerate() {
        let mut attrs = a.after.clone().unwrap_or_default();
        if let Value::Map(m) = &mut attrs {
            m.insert("id", Value::from(format!("{i}")));
            for v in m.values_mut() {
                if *v == Value::Unknown {
                    *v = Value::from("x");
                }
            }
        }
        s.resources.insert(
            a.addr.clone(),
            ResourceState {
                addr: a.addr.clone(),
                type_name: a.type_name.clone(),
                provider: a.provider.clone(),
                id: i.to_string().into(),
                attributes: attrs,
                dependencies: a.dependencies.clone(),
                generation: 1,
                stateful: false,
                idempotency_key: Default::default(),
            },
        );
    }
    s
}

#[allow(dead_code)]
fn main() {
    let sizes: Vec<usize> = std::env::var("KILN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let runs: usize = std::env::var("KILN_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let only_plan = std::env::var("KILN_BENCH_ONLY").is_ok_and(|v| v == "plan");
    let started = Instant::now();
    let figures = run(&sizes, runs, only_plan);
    print_figures(&figures);
    if !only_plan {
        terraform_side_by_side();
    }
    println!(
        "\nthe whole benchmark ran in {:.0?} (median of {runs} runs per figure)",
        started.elapsed()
    );
}

#[allow(dead_code)]
/// One command under `/usr/bin/time -f %M`: wall time and peak resident
/// memory in MiB (`None` without GNU time).
fn timed(dir: &Path, program: &str, args: &[&str]) -> (Duration, Option<f64>) {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut c = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "kiln-bench-peak-kib %M", program]);
        c
    } else {
        Command::new(program)
    };
    let t = Instant::now();
    let out = c
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run the command");
    let wall = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} {args:?} failed: {stderr}");
    let peak = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("kiln-bench-peak-kib "))
        .find_map(|v| v.trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0);
    (wall, peak)
}

#[allow(dead_code)]
/// Terraform side by side (issue 17 §1): when `terraform` is on PATH, the
/// same `terraform_data` configuration planned fresh, applied, planned with
/// no changes and destroyed by both tools, one after the other, each figure
/// with both tools' peak memory and the ratio. Sizes from
/// `KILN_BENCH_TERRAFORM_SIZES` (1,000 and 2,000 by default);
/// `KILN_BENCH_TERRAFORM=0` skips it.
fn terraform_side_by_side() {
    if std::env::var("KILN_BENCH_TERRAFORM").is_ok_and(|v| v == "0") {
        return;
    }
    let version = Command::new("terraform")
        .arg("version")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        });
    let Some(version) = version else {
        println!("\nTerraform side by side: terraform was not found on PATH; kiln's figures only");
        return;
    };
    let sizes: Vec<usize> = std::env::var("KILN_BENCH_TERRAFORM_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 2_000]);
    println!(
        "\nTerraform side by side ({version}, the same terraform_data configuration, one run each):"
    );
    println!(
        "{:<34} {:>10} {:>10} {:>9}   {:>10} {:>10}",
        "figure", "kiln", "terraform", "faster", "kiln peak", "tf peak"
    );
    let mib = |p: Option<f64>| p.map_or_else(|| "-".to_string(), |m| format!("{m:.0} MiB"));
    for n in sizes {
        eprintln!("bench: terraform and kiln side by side at {n} resources");
        let text = kiln_testkit::generate::wide_terraform_data(n);
        let (kd, td) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        for d in [&kd, &td] {
            std::fs::write(d.path().join("main.tf"), &text).expect("write the configuration");
        }
        timed(
            td.path(),
            "terraform",
            &["init", "-input=false", "-no-color"],
        );
        let steps: [(&str, &[&str], &[&str]); 4] = [
            (
                "plan, fresh",
                &["plan", "--refresh=false"],
                &[
                    "plan",
                    "-refresh=false",
                    "-input=false",
                    "-lock=false",
                    "-no-color",
                ],
            ),
            (
                "apply",
                &["apply", "--yes"],
                &[
                    "apply",
                    "-auto-approve",
                    "-input=false",
                    "-lock=false",
                    "-no-color",
                ],
            ),
            (
                "plan, no changes",
                &["plan", "--refresh=false"],
                &[
                    "plan",
                    "-refresh=false",
                    "-input=false",
                    "-lock=false",
                    "-no-color",
                ],
            ),
            (
                "destroy",
                &["destroy", "--yes"],
                &[
                    "destroy",
                    "-auto-approve",
                    "-input=false",
                    "-lock=false",
                    "-no-color",
                ],
            ),
        ];
        for (what, kiln_args, tf_args) in steps {
            let (kw, kp) = timed(kd.path(), KILN, kiln_args);
            let (tw, tp) = timed(td.path(), "terraform", tf_args);
            println!(
                "{:<34} {:>10} {:>10} {:>8.0}x   {:>10} {:>10}",
                format!("{what} {n}"),
                Figure::show(Unit::Seconds, kw.as_secs_f64()),
                Figure::show(Unit::Seconds, tw.as_secs_f64()),
                tw.as_secs_f64() / kw.as_secs_f64().max(1e-9),
                mib(kp),
                mib(tp),
            );
        }
    }
}

/// The `kiln` binary built with this benchmark (the bench profile, or the
/// test profile in the smoke test).
const KILN: &str = env!("CARGO_BIN_EXE_kiln");

/// Runs every scenario at the given sizes; the smoke test
/// (crates/cli/tests/bench_smoke.rs) calls it with a few hundred resources.
pub fn run(sizes: &[usize], runs: usize, only_plan: bool) -> Vec<Figure> {
    let mut figures = Vec::new();
    if !only_plan {
        figures.extend(command_figures(sizes, runs));
    }
    figures.extend(planner_figures(sizes, runs));
    if !only_plan {
        figures.extend(engine_figures(sizes, runs));
    }
    figures
}

/// One run of the `kiln` command in `dir`: its wall time (spawn to exit,
/// as a user sees it) and peak memory (`KILN_STATS`).
fn kiln(dir: &Path, args: &[&str]) -> (Duration, f64) {
    let t = Instant::now();
    let out = Command::new(KILN)
        .args(args)
        .current_dir(dir)
        .env("KILN_STATS", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run kiln");
    let wall = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kiln {args:?} failed: {stderr}");
    let peak = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("kiln-stats: "))
        .filter_map(|l| l.split("peak memory ").nth(1))
        .filter_map(|l| l.strip_suffix(" MiB"))
        .find_map(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    (wall, peak)
}

/// The wall times of several runs of a command, and its median peak memory.
struct Runs {
    median: Duration,
    min: Duration,
    max: Duration,
    peak: f64,
}

/// `runs` runs of `kiln args` (with `before` run ahead of each).
fn kiln_runs(dir: &Path, args: &[&str], runs: usize, before: impl Fn()) -> Runs {
    let (mut walls, mut peaks) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        before();
        let (w, p) = kiln(dir, args);
        walls.push(w);
        peaks.push(p);
    }
    peaks.sort_by(f64::total_cmp);
    walls.sort();
    Runs {
        median: walls[walls.len() / 2],
        min: walls[0],
        max: walls[walls.len() - 1],
        peak: peaks[peaks.len() / 2],
    }
}

/// The command as a user runs it: `kiln plan` of a fresh configuration,
/// `kiln apply` of it, and `kiln plan` with no changes against the state
/// that apply left — each end to end (reading the files and the state,
/// parsing, planning, rendering every line, writing the state and journal).
fn command_figures(sizes: &[usize], runs: usize) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut no_change = Vec::new();
    for &n in sizes {
        eprintln!("bench: the kiln command at {n} resources");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("main.tf"),
            kiln_testkit::generate::wide(n, None),
        )
        .expect("write the configuration");
        let plan = ["plan", "--refresh=false"];

        // Targets at 100,000: issue 17's (docs/performance.md), which
        // replaced issue 8's (2 s and 1 GiB fresh, 1.5 s with no changes).
        let at_100k = n == 100_000;
        let r = kiln_runs(dir.path(), &plan, runs, || {});
        figures.push(
            Figure::time(
                format!("kiln plan {n}, fresh (parse + plan + render)"),
                r.median,
                at_100k.then(|| Duration::from_millis(500)),
            )
            .with_spread(&r),
        );
        figures.push(Figure {
            name: format!("kiln plan {n}, fresh: peak memory"),
            value: r.peak,
            unit: Unit::MiB,
            target: at_100k.then_some(350.0),
            spread: None,
        });

        let apply = ["apply", "--yes", "--refresh=false", "--parallelism", "0"];
        let datadir = dir.path().join(".kiln");
        let r = kiln_runs(dir.path(), &apply, runs, || {
            let _ = std::fs::remove_dir_all(&datadir);
        });
        figures.push(
            Figure::time(
                format!("kiln apply {n} zero-delay null resources"),
                r.median,
                match n {
                    10_000 | 100_000 => Some(Duration::from_secs(2)),
                    _ => None,
                },
            )
            .with_spread(&r),
        );
        figures.push(Figure {
            name: format!("kiln apply {n}: peak memory"),
            value: r.peak,
            unit: Unit::MiB,
            target: at_100k.then_some(600.0),
            spread: None,
        });
        // A new generation of everything (`--rebuild`): N creates, then N
        // deletes of the old objects once all are up.
        let rebuild = [
            "apply",
            "--yes",
            "--refresh=false",
            "--parallelism",
            "0",
            "--rebuild",
        ];
        let r = kiln_runs(dir.path(), &rebuild, runs, || {});
        figures.push(
            Figure::time(
                format!("kiln apply --rebuild {n} (replace every resource)"),
                r.median,
                None,
            )
            .with_spread(&r),
        );
        let state_bytes = std::fs::metadata(datadir.join("default/state.json"))
            .expect("the apply wrote the state")
            .len();
        figures.push(Figure {
            name: format!("state file of {n}: size per resource"),
            value: state_bytes as f64 / n as f64,
            unit: Unit::Bytes,
            target: Some(1024.0),
            spread: None,
        });

        let r = kiln_runs(dir.path(), &plan, runs, || {});
        let target = match n {
            1_000 => Some(Duration::from_millis(20)),
            10_000 => Some(Duration::from_millis(150)),
            100_000 => Some(Duration::from_millis(500)),
            _ => None,
        };
        figures.push(
            Figure::time(format!("kiln plan {n}, no changes"), r.median, target).with_spread(&r),
        );
        figures.push(Figure {
            name: format!("kiln plan {n}, no changes: peak memory"),
            value: r.peak,
            unit: Unit::MiB,
            target: at_100k.then_some(400.0),
            spread: None,
        });
        no_change.push((n, r.median));
    }
    // Linear growth: ten times the resources, under twelve times the time.
    for &(n, big) in &no_change {
        if let Some(&(m, small)) = no_change.iter().find(|(m, _)| *m * 10 == n) {
            figures.push(Figure {
                name: format!("kiln plan no changes: growth {m} -> {n}"),
                value: big.as_secs_f64() / small.as_secs_f64(),
                unit: Unit::Ratio,
                target: Some(12.0),
                spread: None,
            });
        }
    }
    figures
}

/// The parts of a plan measured in-process: parsing, the planner (fresh and
/// no changes), the state's encoding, and the other shapes.
fn planner_figures(sizes: &[usize], runs: usize) -> Vec<Figure> {
    let registry = registry();
    let mut figures = Vec::new();
    for &n in sizes {
        eprintln!("bench: parsing and planning {n} resources in-process");
        let text = kiln_testkit::generate::wide(n, None);
        let mut parses = Vec::new();
        let mut plans = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let (p, q, plan) = plan_fresh(&text, &registry);
            parses.push(p);
            plans.push(q);
            last = Some(plan);
        }
        let plan = last.expect("at least one run");
        assert_eq!(
            plan.actions
                .iter()
                .filter(|a| a.kind == ActionKind::Create)
                .count(),
            n
        );
        figures.push(Figure::time(
            format!("parse {n} resources"),
            median(parses),
            None,
        ));
        figures.push(Figure::time(
            format!("plan {n} fresh (after parse)"),
            median(plans),
            None,
        ));

        // No-change plan against an existing state.
        let state = state_of(&plan);
        let (config, _) = kiln_config::parse(vec![SourceFile {
            name: "bench.hcl".into(),
            text: text.clone(),
        }]);
        let mut noop = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let p = kiln_plan::plan(&config, &state, registry.schemas(), &options()).expect("plan");
            noop.push(t.elapsed());
            assert!(
                !p.has_changes(),
                "a plan against the applied state has no changes"
            );
        }
        figures.push(Figure::time(
            format!("plan {n} no changes (after parse)"),
            median(noop),
            None,
        ));

        // State save and load.
        let (mut saves, mut loads) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            let bytes = kiln_state::format::to_json(&state);
            saves.push(t.elapsed());
            let t = Instant::now();
            let back = kiln_state::format::from_json(&bytes).expect("load");
            loads.push(t.elapsed());
            assert_eq!(back.resources.len(), n);
        }
        let state_target = (n == 100_000).then(|| Duration::from_millis(500));
        figures.push(Figure::time(
            format!("state {n}: serialize"),
            median(saves),
            state_target,
        ));
        figures.push(Figure::time(
            format!("state {n}: parse"),
            median(loads),
            state_target,
        ));
    }

    // Other shapes, fresh plans including parsing: a deep chain, and many
    // instances of a small module.
    for &n in sizes {
        eprintln!("bench: other shapes at {n} resources");
        let text = kiln_testkit::generate::chain(n, None);
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let (_, _, plan) = plan_fresh(&text, &registry);
            times.push(t.elapsed());
            assert_eq!(plan.actions.len(), n);
        }
        figures.push(Figure::time(
            format!("parse + plan chain of {n}"),
            median(times),
            None,
        ));

        let instances = (n / 2).max(1);
        let (root, module) = kiln_testkit::generate::module_heavy(instances);
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let mut load = |dir: &str| -> Result<Vec<SourceFile>, String> {
                Ok(vec![SourceFile {
                    name: format!("{dir}/main.hcl"),
                    text: module.clone(),
                }])
            };
            let (config, diags) = kiln_config::parse_tree(
                vec![SourceFile {
                    name: "main.hcl".into(),
                    text: root.clone(),
                }],
                &mut load,
            );
            assert!(!diags.has_errors(), "{diags}");
            let plan = kiln_plan::plan(
                &config,
                &State::new("bench", ""),
                registry.schemas(),
                &options(),
            )
            .expect("plan");
            times.push(t.elapsed());
            assert_eq!(plan.actions.len(), instances * 2);
        }
        figures.push(Figure::time(
            format!("parse + plan {instances} module instances ({n} resources)"),
            median(times),
            None,
        ));
    }
    figures
}

/// The engine's scheduling, in-process with the null provider: a layered
/// graph of 50 ms steps, and a refresh whose reads take 50 ms each.
fn engine_figures(sizes: &[usize], runs: usize) -> Vec<Figure> {
    eprintln!("bench: the engine's scheduling");
    let registry = registry();
    let mut figures = Vec::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Apply of a layered graph where every step takes 50 ms: wall time against
    // the critical path (unlimited parallelism) and against ⌈W/P⌉ × depth × 50 ms.
    let (width, depth) = (10usize, 5usize);
    let text = kiln_testkit::generate::layered(width, depth, Some("50ms"));
    let (_, _, plan) = plan_fresh(&text, &registry);
    for parallelism in [0usize, 3] {
        let bound = if parallelism == 0 {
            depth * 50
        } else {
            width.div_ceil(parallelism) * depth * 50
        };
        let mut runs_ = Vec::new();
        for _ in 0..runs {
            let dir = tempfile::tempdir().expect("tempdir");
            let t = Instant::now();
            let report = rt.block_on(apply_plan(&plan, &registry, dir.path(), parallelism));
            runs_.push(t.elapsed());
            assert!(report.failures.is_empty());
        }
        let bound = Duration::from_millis(bound as u64);
        figures.push(Figure::time(
            format!(
                "apply layered {width}x{depth}, 50 ms steps, parallelism {}",
                if parallelism == 0 {
                    "unlimited".to_string()
                } else {
                    parallelism.to_string()
                }
            ),
            median(runs_),
            Some(bound + bound / 10),
        ));
    }

    // Refresh of 1,000 resources whose provider read takes 50 ms each.
    let n = sizes.iter().copied().max().unwrap_or(1_000).min(1_000);
    let text = kiln_testkit::generate::wide(n, None);
    let (_, _, plan) = plan_fresh(&text, &registry);
    let state = state_of(&plan);
    let mut slow = Registry::new();
    slow.register(Arc::new(SlowReads(kiln_provider_null::NullProvider::new())));
    let parallelism = 10;
    let t = Instant::now();
    let report = rt.block_on(kiln_engine::refresh(&state, &slow, parallelism));
    let elapsed = t.elapsed();
    assert_eq!(report.state.resources.len(), n);
    let bound = Duration::from_millis((n * 50 / parallelism) as u64);
    figures.push(Figure::time(
        format!("refresh {n}, 50 ms reads, parallelism {parallelism}"),
        elapsed,
        Some(bound + bound / 10),
    ));
    figures
}

#[allow(dead_code)]
fn print_figures(figures: &[Figure]) {
    println!(
        "{:<56} {:>12} {:>12}          runs from .. to",
        "figure", "median", "target"
    );
    for f in figures {
        let verdict = match f.met() {
            Some(true) => "ok",
            Some(false) => "MISSED",
            None => "",
        };
        let spread = f
            .spread
            .map(|(lo, hi)| {
                format!(
                    "{} .. {}",
                    Figure::show(f.unit, lo),
                    Figure::show(f.unit, hi)
                )
            })
            .unwrap_or_default();
        println!(
            "{:<56} {:>12} {:>12}  {verdict:<6}  {spread}",
            f.name,
            Figure::show(f.unit, f.value),
            f.target
                .map(|t| format!("< {}", Figure::show(f.unit, t)))
                .unwrap_or_else(|| "-".into())
        );
    }
    if let Ok(path) = std::env::var("KILN_BENCH_JSON") {
        let doc: Vec<serde_json::Value> = figures
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name,
                    "value": f.value,
                    "unit": format!("{:?}", f.unit).to_lowercase(),
                    "target": f.target,
                    "met": f.met(),
                    "min": f.spread.map(|s| s.0),
                    "max": f.spread.map(|s| s.1),
                })
            })
            .collect();
        std::fs::write(&path, serde_json::to_vec_pretty(&doc).expect("json"))
            .expect("write the JSON figures");
    }
}

struct NoProgress;
impl kiln_engine::Observer for NoProgress {}

async fn apply_plan(
    plan: &kiln_plan::Plan,
    registry: &Registry,
    dir: &std::path::Path,
    parallelism: usize,
) -> kiln_engine::ApplyReport {
    use kiln_store::StateStore;
    let store = kiln_store::LocalStore::new(dir.to_path_buf());
    let mut journal = store.journal("bench").await.expect("journal");
    let options = kiln_engine::ApplyOptions {
        parallelism,
        cancel: Default::default(),
        command: "bench".into(),
        workdir: ".".into(),
        datadir: dir.display().to_string(),
        config: None,
    };
    kiln_engine::apply(
        plan,
        State::new("bench", "l"),
        registry,
        journal.as_mut(),
        &NoProgress,
        &options,
    )
    .await
}

/// The null provider, with reads that take 50 ms per resource (a cloud that
/// answers one resource at a time), to measure refresh scheduling.
struct SlowReads(kiln_provider_null::NullProvider);

#[async_trait::async_trait]
impl kiln_provider::Provider for SlowReads {
    fn schema(&self) -> kiln_model::ProviderSchema {
        self.0.schema()
    }
    async fn create(&self, req: kiln_provider::CreateRequest) -> kiln_provider::CreateResponse {
        self.0.create(req).await
    }
    async fn read(&self, req: kiln_provider::ReadRequest) -> kiln_provider::ReadResponse {
        tokio::time::sleep(Duration::from_millis(50) * req.items.len() as u32).await;
        self.0.read(req).await
    }
    async fn update(&self, req: kiln_provider::UpdateRequest) -> kiln_provider::UpdateResponse {
        self.0.update(req).await
    }
    async fn delete(&self, req: kiln_provider::DeleteRequest) -> kiln_provider::DeleteResponse {
        self.0.delete(req).await
    }
}
