//! kiln's benchmark: plan and apply figures at several sizes, each printed
//! next to its target, as a table and as JSON (`KILN_BENCH_JSON=path`).
//!
//! Run with `cargo bench -p kiln-cli --bench kiln` (or `just bench`).
//! `KILN_BENCH_SIZES=1000,10000` limits the sizes (the CI smoke run uses a
//! few hundred resources so the benchmark cannot rot).

#![allow(clippy::print_stdout)]

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

pub struct Figure {
    pub name: String,
    pub value: Duration,
    pub target: Option<Duration>,
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
            m.insert("id".into(), Value::from(format!("{i}")));
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
                id: i.to_string(),
                attributes: attrs,
                dependencies: a.dependencies.clone(),
                generation: 1,
                stateful: false,
                idempotency_key: String::new(),
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
        .unwrap_or(3);
    let only_plan = std::env::var("KILN_BENCH_ONLY").is_ok_and(|v| v == "plan");
    let figures = run(&sizes, runs, only_plan);
    print_figures(&figures);
    if let Some(peak) = peak_memory_kib() {
        println!(
            "peak memory (VmHWM, whole run)                    {:>9.1} MiB  target < 1024 MiB at 100,000",
            peak as f64 / 1024.0
        );
    }
}

/// The process's peak resident set, from /proc (Linux only).
#[allow(dead_code)]
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs every scenario at the given sizes; the smoke test
/// (crates/cli/tests/bench_smoke.rs) calls it with a few hundred resources.
pub fn run(sizes: &[usize], runs: usize, only_plan: bool) -> Vec<Figure> {
    let registry = registry();
    let mut figures = Vec::new();
    for &n in sizes {
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
        figures.push(Figure {
            name: format!("parse {n} resources"),
            value: median(parses),
            target: None,
        });
        let plan_target = match n {
            10_000 => Some(Duration::from_millis(100)),
            100_000 => Some(Duration::from_secs(1)),
            _ => None,
        };
        figures.push(Figure {
            name: format!("plan {n} fresh (after parse)"),
            value: median(plans),
            target: plan_target,
        });

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
        figures.push(Figure {
            name: format!("plan {n} no changes (after parse)"),
            value: median(noop),
            target: plan_target,
        });

        // State save and load.
        let t = Instant::now();
        let bytes = kiln_state::format::to_json(&state);
        let save = t.elapsed();
        let t = Instant::now();
        let back = kiln_state::format::from_json(&bytes).expect("load");
        let load = t.elapsed();
        assert_eq!(back.resources.len(), n);
        figures.push(Figure {
            name: format!(
                "state {n}: serialize ({} B/resource)",
                bytes.len() / n.max(1)
            ),
            value: save,
            target: None,
        });
        figures.push(Figure {
            name: format!("state {n}: parse"),
            value: load,
            target: None,
        });
    }

    // Other shapes, fresh plans including parsing: a deep chain, and many
    // instances of a small module.
    for &n in sizes {
        let text = kiln_testkit::generate::chain(n, None);
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let (_, _, plan) = plan_fresh(&text, &registry);
            times.push(t.elapsed());
            assert_eq!(plan.actions.len(), n);
        }
        figures.push(Figure {
            name: format!("parse + plan chain of {n}"),
            value: median(times),
            target: None,
        });

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
        figures.push(Figure {
            name: format!("parse + plan {instances} module instances ({n} resources)"),
            value: median(times),
            target: None,
        });
    }

    // `KILN_BENCH_ONLY=plan` stops here (for profiling the planner).
    if only_plan {
        return figures;
    }

    // Apply of N zero-delay null resources (engine bookkeeping per step).
    let apply_n = sizes
        .iter()
        .copied()
        .filter(|&n| n <= 10_000)
        .max()
        .unwrap_or(1_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let text = kiln_testkit::generate::wide(apply_n, None);
    let (_, _, plan) = plan_fresh(&text, &registry);
    let mut applies = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = kiln_store::LocalStore::new(dir.path().to_path_buf());
        let t = Instant::now();
        let report = rt.block_on(async {
            use kiln_store::StateStore;
            let mut journal = store.journal("bench").await.expect("journal");
            let options = kiln_engine::ApplyOptions {
                parallelism: 0,
                cancel: Default::default(),
                command: "bench".into(),
                workdir: ".".into(),
                datadir: dir.path().display().to_string(),
            };
            kiln_engine::apply(
                &plan,
                State::new("bench", "l"),
                &registry,
                journal.as_mut(),
                &NoProgress,
                &options,
            )
            .await
        });
        applies.push(t.elapsed());
        assert!(report.failures.is_empty());
        assert_eq!(report.state.resources.len(), apply_n);
    }
    figures.push(Figure {
        name: format!("apply {apply_n} zero-delay null resources"),
        value: median(applies),
        target: (apply_n == 10_000).then(|| Duration::from_secs(2)),
    });

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
        figures.push(Figure {
            name: format!(
                "apply layered {width}x{depth}, 50 ms steps, parallelism {}",
                if parallelism == 0 {
                    "unlimited".to_string()
                } else {
                    parallelism.to_string()
                }
            ),
            value: median(runs_),
            target: Some(bound + bound / 10),
        });
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
    figures.push(Figure {
        name: format!("refresh {n}, 50 ms reads, parallelism {parallelism}"),
        value: elapsed,
        target: Some(bound + bound / 10),
    });
    figures
}

#[allow(dead_code)]
fn print_figures(figures: &[Figure]) {
    println!("{:<48} {:>12} {:>12}", "figure", "median", "target");
    for f in figures {
        let verdict = match f.target {
            Some(t) if f.value <= t => "ok",
            Some(_) => "MISSED",
            None => "",
        };
        println!(
            "{:<48} {:>12} {:>12}  {verdict}",
            f.name,
            format!("{:.1?}", f.value),
            f.target
                .map(|t| format!("{t:.0?}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    if let Ok(path) = std::env::var("KILN_BENCH_JSON") {
        let doc: Vec<serde_json::Value> = figures
            .iter()
            .map(|f| serde_json::json!({"name": f.name, "seconds": f.value.as_secs_f64(), "target_seconds": f.target.map(|t| t.as_secs_f64())}))
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
