//! The operations in-process, on the null provider and the local store:
//! what each returns, what it reports, and what it leaves in the state.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_diag::{Diagnostic, Diagnostics};
use kiln_ops::{Applied, ApplyOptions, Interrupt, OpenOptions, PlanRequest, Workspace};
use kiln_plan::Plan;
use kiln_testkit::TempProject;

const CONFIG: &str = r#"
variable "n" {
  type    = number
  default = 2
}

resource "null_resource" "web" {
  count    = var.n
  triggers = { index = count.index }
  delay    = "200ms"
}

output "ids" {
  value = null_resource.web[*].id
}
"#;

/// Records what an operation reports; answers confirmations with `yes`.
#[derive(Default)]
struct Recorder {
    yes: bool,
    lines: Mutex<Vec<String>>,
}

impl Recorder {
    fn approving() -> Recorder {
        Recorder {
            yes: true,
            ..Default::default()
        }
    }

    fn said(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn push(&self, kind: &str, message: &str) {
        self.lines
            .lock()
            .unwrap()
            .push(format!("{kind}: {message}"));
    }
}

impl kiln_engine::Observer for Recorder {}

impl kiln_ops::Observer for Recorder {
    fn status(&self, message: &str) {
        self.push("status", message);
    }
    fn warn(&self, message: &str) {
        self.push("warn", message);
    }
    fn error(&self, message: &str) {
        self.push("error", message);
    }
    fn diagnostic(&self, diagnostic: &Diagnostic) {
        self.push("diagnostic", &diagnostic.summary);
    }
    fn diagnostics(&self, diagnostics: &Diagnostics) {
        for d in diagnostics {
            self.diagnostic(d);
        }
    }
    fn planned(&self, plan: &Plan) {
        self.push("planned", &plan.summary().past_tense());
    }
    fn confirm(&self, question: &str) -> anyhow::Result<()> {
        self.push("asked", question);
        if self.yes {
            Ok(())
        } else {
            anyhow::bail!("cancelled: nothing was changed")
        }
    }
    fn ask(&self, _question: &str) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
}

fn linked() -> Vec<Arc<dyn kiln_provider::Provider>> {
    vec![Arc::new(kiln_provider_null::NullProvider::new())]
}

fn workspace(p: &TempProject) -> Workspace {
    Workspace::open(&OpenOptions {
        dir: p.path().to_path_buf(),
        env: "default".into(),
        backend: None,
        linked,
        exit_after: false,
    })
    .unwrap()
}

fn project() -> (TempProject, Workspace) {
    let p = TempProject::new();
    p.write("main.hcl", CONFIG);
    let ws = workspace(&p);
    (p, ws)
}

fn done(applied: Applied) -> Box<kiln_ops::Done> {
    match applied {
        Applied::Done(done) => done,
        other => panic!("expected the plan to be applied, got {other:?}"),
    }
}

#[tokio::test]
async fn apply_reports_its_plan_asks_once_and_a_second_apply_changes_nothing() {
    let (p, ws) = project();
    let obs = Recorder::approving();
    let req = PlanRequest::default();
    let first = done(
        kiln_ops::apply(&ws, &req, &ApplyOptions::default(), &obs)
            .await
            .unwrap(),
    );
    assert_eq!(first.summary, "2 created");
    assert!(!first.destroy);
    assert_eq!(first.state.resources.len(), 2);
    assert!(first.state.outputs.contains_key("ids"));
    assert_eq!(
        obs.said(),
        "planned: 2 created\nasked: Apply these changes?"
    );
    let stored = p.state_json("default").expect("the state is written");
    assert_eq!(stored["serial"], first.state.serial);

    let again = kiln_ops::apply(&ws, &req, &ApplyOptions::default(), &obs)
        .await
        .unwrap();
    assert!(matches!(
        again,
        Applied::Unchanged {
            expiry_renewed: None
        }
    ));
    let planned = kiln_ops::plan(&ws, &req, &obs).await.unwrap();
    assert!(!planned.plan.has_changes());
    assert!(!planned.recovery_pending);
}

#[tokio::test]
async fn a_refused_confirmation_changes_nothing() {
    let (p, ws) = project();
    let obs = Recorder::default();
    let err = kiln_ops::apply(&ws, &PlanRequest::default(), &ApplyOptions::default(), &obs)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("cancelled"), "{err:#}");
    assert!(p.state_json("default").is_none());
    // The lock was released: the next operation takes it at once.
    let approved = Recorder::approving();
    kiln_ops::apply(
        &ws,
        &PlanRequest::default(),
        &ApplyOptions::default(),
        &approved,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn destroy_says_destroy_and_an_empty_state_has_nothing_to_destroy() {
    let (_p, ws) = project();
    let obs = Recorder::approving();
    let (req, opts) = (PlanRequest::default(), ApplyOptions::default());
    kiln_ops::apply(&ws, &req, &opts, &obs).await.unwrap();
    let gone = done(kiln_ops::destroy(&ws, &req, &opts, &obs).await.unwrap());
    assert!(gone.destroy);
    assert_eq!(gone.summary, "2 destroyed");
    assert!(gone.state.resources.is_empty());
    assert!(
        obs.said()
            .contains("asked: Destroy everything listed above?")
    );
    let nothing = kiln_ops::destroy(&ws, &req, &opts, &obs).await.unwrap();
    assert!(matches!(nothing, Applied::NothingToDestroy));
}

#[tokio::test]
async fn an_interrupt_starts_no_new_step_and_the_state_records_what_ran() {
    let (p, ws) = project();
    let obs = Recorder::approving();
    let req = PlanRequest {
        vars: kiln_ops::VarInputs {
            vars: vec!["n=6".into()],
            var_files: Vec::new(),
        },
        ..Default::default()
    };
    // The interrupt fires as soon as steps run; one step runs at a time.
    let options = ApplyOptions {
        parallelism: 1,
        interrupt: Some(Interrupt(Arc::new(|| Box::pin(async {})))),
        ..Default::default()
    };
    let err = kiln_ops::apply(&ws, &req, &options, &obs)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("apply interrupted"), "{err:#}");
    assert!(
        obs.said()
            .contains("warn: interrupted: no new steps will start")
    );
    let state = p.state_json("default").expect("the state is written");
    let made = state["resources"].as_array().map_or(0, Vec::len);
    assert!(made < 6, "an interrupted apply created all 6: {state}");
    // The next apply finishes the job from what the state records.
    let rest = done(
        kiln_ops::apply(&ws, &req, &ApplyOptions::default(), &obs)
            .await
            .unwrap(),
    );
    assert_eq!(rest.summary, format!("{} created", 6 - made));
}

#[tokio::test]
async fn a_saved_plan_applies_once_and_is_stale_after_another_apply() {
    let (p, ws) = project();
    let obs = Recorder::approving();
    let opts = ApplyOptions::default();
    kiln_ops::apply(&ws, &PlanRequest::default(), &opts, &obs)
        .await
        .unwrap();
    let three = PlanRequest {
        vars: kiln_ops::VarInputs {
            vars: vec!["n=3".into()],
            var_files: Vec::new(),
        },
        ..Default::default()
    };
    let planned = kiln_ops::plan(&ws, &three, &obs).await.unwrap();
    let file = p.path().join("saved.plan");
    kiln_ops::save_plan(&file, &planned.plan).unwrap();
    let saved = kiln_ops::load_plan(&file, &Default::default()).unwrap();
    let applied = done(
        kiln_ops::apply_saved(&ws, &saved, &opts, &obs)
            .await
            .unwrap(),
    );
    assert_eq!(applied.summary, "1 created");
    let err = kiln_ops::apply_saved(&ws, &saved, &opts, &obs)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("is stale"), "{err:#}");
}

#[tokio::test]
async fn a_held_lock_is_waited_for_then_refused() {
    let (_p, ws) = project();
    let obs = Recorder::approving();
    let holder = kiln_store::LockInfo::for_current_process("test");
    ws.store.lock(&ws.env, &holder).await.unwrap();
    let options = ApplyOptions {
        lock_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let err = kiln_ops::apply(&ws, &PlanRequest::default(), &options, &obs)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<kiln_store::StoreError>(),
            Some(kiln_store::StoreError::Locked { .. })
        ),
        "{err:#}"
    );
    ws.store.unlock(&ws.env, &holder.id).await.unwrap();
    assert!(
        kiln_ops::recover(&ws, Duration::ZERO, &obs)
            .await
            .unwrap()
            .is_none(),
        "nothing to recover after a refused apply"
    );
}
