//! A fake provider, an in-memory journal and a plan builder for the engine
//! tests.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_diag::Diagnostic;
use kiln_model::{AttributeSchema, InstanceAddr, ProviderSchema, ResourceSchema, Type, Value};
use kiln_plan::{Action, ActionKind, Plan, PlanSource, Step, StepOp};
use kiln_provider::{
    CreateRequest, CreateResponse, DeleteRequest, DeleteResponse, FindRequest, FindResponse,
    HealthRequest, HealthResponse, Provider, ReadRequest, ReadResponse, ReadResult, Registry,
    UpdateRequest, UpdateResponse,
};
use kiln_state::{JournalRecord, ResourceState, State};
use kiln_store::{Journal, StoreError};

pub const LINEAGE: &str = "lin-test";

#[derive(Debug, Clone)]
pub struct Object {
    pub addr: String,
    pub key: String,
    pub attrs: Value,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub op: &'static str,
    pub addr: String,
    pub start: Instant,
    pub end: Instant,
    /// What the provider was sent (config or planned attributes).
    pub payload: Value,
    pub changed: Vec<String>,
    pub batch: usize,
}

/// An in-memory provider `fake` with `fake_thing` and the health-checked
/// `fake_service`.
#[derive(Default)]
pub struct Fake {
    pub objects: Mutex<BTreeMap<String, Object>>,
    pub fail_create: Mutex<BTreeSet<String>>,
    /// Creates that panic (after their delay, if any).
    pub panic_create: Mutex<BTreeSet<String>>,
    pub fail_delete: Mutex<BTreeSet<String>>,
    pub unhealthy: Mutex<BTreeSet<String>>,
    pub drift: Mutex<BTreeMap<String, String>>,
    pub delays: Mutex<BTreeMap<String, Duration>>,
    pub default_delay: Mutex<Duration>,
    pub log: Mutex<Vec<Call>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    next_id: AtomicU64,
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake::default())
    }

    pub fn registry(self: &Arc<Fake>) -> Registry {
        let mut r = Registry::new();
        r.register(self.clone());
        r
    }

    pub fn fail_create(&self, addr: &str) {
        self.fail_create.lock().unwrap().insert(addr.into());
    }

    pub fn set_delay(&self, d: Duration) {
        *self.default_delay.lock().unwrap() = d;
    }

    pub fn object_ids(&self) -> BTreeSet<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.log.lock().unwrap().clone()
    }

    /// Makes an object directly (as an interrupted create would have).
    pub fn insert(&self, addr: &str, key: &str, attrs: Value) -> String {
        let id = format!("id-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let attrs = with_id(attrs, &id);
        self.objects.lock().unwrap().insert(
            id.clone(),
            Object {
                addr: addr.into(),
                key: key.into(),
                attrs,
            },
        );
        id
    }

    async fn enter(&self, addr: &str) -> Instant {
        let start = Instant::now();
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = self
            .delays
            .lock()
            .unwrap()
            .get(addr)
            .copied()
            .unwrap_or(*self.default_delay.lock().unwrap());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        start
    }

    fn leave(
        &self,
        op: &'static str,
        addr: &str,
        start: Instant,
        payload: Value,
        changed: Vec<String>,
        batch: usize,
    ) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(Call {
            op,
            addr: addr.into(),
            start,
            end: Instant::now(),
            payload,
            changed,
            batch,
        });
    }
}

fn with_id(attrs: Value, id: &str) -> Value {
    let mut m = attrs.as_map().cloned().unwrap_or_default();
    m.insert("id", Value::from(id));
    Value::Map(m.into())
}

fn err<T: Default>(msg: String) -> (T, kiln_diag::Diagnostics) {
    (T::default(), Diagnostic::error(msg).into())
}

#[async_trait]
impl Provider for Fake {
    fn schema(&self) -> ProviderSchema {
        let thing = ResourceSchema::new()
            .attr("name", AttributeSchema::optional(Type::String))
            .attr("labels", AttributeSchema::optional(Type::String).runtime())
            .attr(
                "secret",
                AttributeSchema::optional(Type::String).sensitive(),
            )
            .attr("id", AttributeSchema::computed(Type::String));
        let mut service = thing.clone();
        service.health_check = true;
        ProviderSchema {
            name: "fake".into(),
            config: ResourceSchema::new(),
            resources: [
                ("fake_thing".to_string(), thing),
                ("fake_service".to_string(), service),
            ]
            .into_iter()
            .collect(),
            data_sources: BTreeMap::new(),
        }
    }

    async fn create(&self, req: CreateRequest) -> CreateResponse {
        let addr = req.context.address.clone();
        let start = self.enter(&addr).await;
        if self.panic_create.lock().unwrap().contains(&addr) {
            panic!("injected panic in the create of {addr}");
        }
        let resp = if self.fail_create.lock().unwrap().contains(&addr) {
            CreateResponse {
                diagnostics: Diagnostic::error(format!("injected create failure of {addr}")).into(),
                ..Default::default()
            }
        } else {
            let id = self.insert(&addr, &req.idempotency_key, req.config.clone());
            let state = self.objects.lock().unwrap()[&id].attrs.clone();
            CreateResponse {
                id: Some(id),
                state,
                diagnostics: Default::default(),
            }
        };
        self.leave("create", &addr, start, req.config, vec![], 0);
        resp
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let start = self.enter("").await;
        let objects = self.objects.lock().unwrap().clone();
        let drift = self.drift.lock().unwrap().clone();
        let results = req
            .items
            .iter()
            .map(|i| ReadResult {
                state: objects.get(&i.id).map(|o| o.attrs.clone()),
                drift: drift.get(&i.id).cloned(),
                diagnostics: Default::default(),
            })
            .collect();
        self.leave("read", "", start, Value::Null, vec![], req.items.len());
        ReadResponse {
            results,
            diagnostics: Default::default(),
        }
    }

    async fn update(&self, req: UpdateRequest) -> UpdateResponse {
        let addr = req.context.address.clone();
        let start = self.enter(&addr).await;
        let state = with_id(req.planned.clone(), &req.id);
        let resp = match self.objects.lock().unwrap().get_mut(&req.id) {
            Some(o) => {
                o.attrs = state.clone();
                UpdateResponse {
                    state,
                    diagnostics: Default::default(),
                }
            }
            None => {
                let (state, diagnostics) = err::<Value>(format!("{} does not exist", req.id));
                UpdateResponse { state, diagnostics }
            }
        };
        self.leave("update", &addr, start, req.planned, req.changed, 0);
        resp
    }

    async fn delete(&self, req: DeleteRequest) -> DeleteResponse {
        let addr = req.context.address.clone();
        let start = self.enter(&addr).await;
        let resp = if self.fail_delete.lock().unwrap().contains(&addr) {
            DeleteResponse {
                diagnostics: Diagnostic::error(format!("injected delete failure of {addr}")).into(),
            }
        } else {
            self.objects.lock().unwrap().remove(&req.id);
            DeleteResponse::default()
        };
        self.leave(
            "delete",
            &addr,
            start,
            Value::from(req.id.as_str()),
            vec![],
            0,
        );
        resp
    }

    async fn find_by_key(&self, req: FindRequest) -> FindResponse {
        let found = self
            .objects
            .lock()
            .unwrap()
            .iter()
            .find(|(_, o)| o.key == req.idempotency_key)
            .map(|(id, o)| (id.clone(), o.attrs.clone()));
        FindResponse {
            found,
            diagnostics: Default::default(),
        }
    }

    async fn check_health(&self, req: HealthRequest) -> HealthResponse {
        let addr = self
            .objects
            .lock()
            .unwrap()
            .get(&req.id)
            .map(|o| o.addr.clone())
            .unwrap_or_default();
        let healthy = !self.unhealthy.lock().unwrap().contains(&addr);
        HealthResponse {
            healthy,
            message: format!(
                "GET http://{addr}/healthz answered {}",
                if healthy { 200 } else { 503 }
            ),
            diagnostics: Default::default(),
        }
    }
}

/// A journal in memory.
#[derive(Debug, Clone, Default)]
pub struct MemJournal(pub Arc<Mutex<Vec<JournalRecord>>>);

impl MemJournal {
    pub fn records(&self) -> Vec<JournalRecord> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl Journal for MemJournal {
    async fn append(&mut self, record: &JournalRecord) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(record.clone());
        Ok(())
    }

    async fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

pub fn addr(s: &str) -> InstanceAddr {
    s.parse().unwrap()
}

pub fn attrs(name: &str) -> Value {
    Value::map([("name", Value::from(name))])
}

/// Builds plans by hand.
pub struct PlanBuilder {
    pub plan: Plan,
    /// The configuration the plan's creates and updates evaluate from: one
    /// block per resource, setting the planned string attributes.
    source: String,
    blocks: BTreeSet<String>,
}

impl PlanBuilder {
    pub fn new(generation: u64) -> PlanBuilder {
        PlanBuilder {
            plan: Plan {
                format_version: kiln_plan::PLAN_FORMAT_VERSION,
                env: "test".into(),
                prior_lineage: LINEAGE.into(),
                prior_serial: 0,
                generation,
                actions: vec![],
                steps: vec![],
                outputs: BTreeMap::new(),
                removed_outputs: BTreeMap::new(),
                source: PlanSource {
                    files: vec![],
                    variables: BTreeMap::new(),
                    root_dir: String::new(),
                    file_reads: Default::default(),
                    data: Default::default(),
                    deferred_data: Default::default(),
                },
                warnings: Default::default(),
                generations: None,
                destroy: false,
                ephemeral_variables: vec![],
                ephemeral: BTreeMap::new(),
                moves: vec![],
                forgotten: vec![],
                partial: false,
                imported: vec![],
            },
            source: String::new(),
            blocks: BTreeSet::new(),
        }
    }

    /// Adds an action; `type_name` is `fake_thing` unless the address says
    /// otherwise.
    pub fn action(
        &mut self,
        a: &str,
        kind: ActionKind,
        after: Option<Value>,
        deps: &[&str],
    ) -> usize {
        let addr = addr(a);
        let type_name = addr.resource.ty.clone();
        if let Some(after) = &after
            && kind != ActionKind::Delete
            && self.blocks.insert(addr.resource.to_string())
        {
            let mut block = format!(
                "resource \"{}\" \"{}\" {{\n",
                addr.resource.ty, addr.resource.name
            );
            for (k, v) in after.as_map().into_iter().flatten() {
                if let Some(s) = v.as_str() {
                    block.push_str(&format!("  {k} = {s:?}\n"));
                }
            }
            block.push_str("}\n");
            self.source.push_str(&block);
        }
        self.plan.actions.push(Action {
            addr,
            kind,
            type_name: type_name.clone(),
            provider: "fake".into(),
            stateful: false,
            before: None,
            after,
            reasons: vec![],
            dependencies: deps.iter().map(|d| self::addr(d)).collect(),
            generation: self.plan.generation,
            health_check: type_name == "fake_service",
            kept: false,
            cutover: None,
        });
        self.plan.actions.len() - 1
    }

    pub fn step(
        &mut self,
        action: usize,
        op: StepOp,
        object_id: Option<&str>,
        depends_on: &[usize],
    ) -> usize {
        let id = self.plan.steps.len();
        self.plan.steps.push(Step {
            id,
            action,
            op,
            object_id: object_id.map(String::from),
            depends_on: depends_on.to_vec(),
        });
        id
    }

    /// A create action with its step.
    pub fn create(&mut self, a: &str, deps: &[usize]) -> usize {
        let dep_addrs: Vec<String> = deps
            .iter()
            .map(|s| {
                self.plan.actions[self.plan.steps[*s].action]
                    .addr
                    .to_string()
            })
            .collect();
        let dep_refs: Vec<&str> = dep_addrs.iter().map(String::as_str).collect();
        let name = a.to_string();
        let act = self.action(a, ActionKind::Create, Some(attrs(&name)), &dep_refs);
        self.step(act, StepOp::Create, None, deps)
    }

    pub fn build(mut self) -> Plan {
        self.plan.source.files = vec![("main.hcl".into(), self.source)];
        self.plan
    }
}

/// A state holding objects that exist in `fake`.
pub fn state_with(fake: &Fake, addrs: &[&str]) -> State {
    let mut s = State::new("test", LINEAGE);
    s.generation = 1;
    for a in addrs {
        let id = fake.insert(a, &format!("old-key-{a}"), attrs(a));
        let attributes = fake.objects.lock().unwrap()[&id].attrs.clone();
        s.resources.insert(
            addr(a),
            ResourceState {
                addr: addr(a),
                type_name: addr(a).resource.ty.clone(),
                provider: "fake".into(),
                id: id.into(),
                attributes,
                dependencies: vec![],
                generation: 1,
                stateful: false,
                idempotency_key: format!("old-key-{a}").into(),
            },
        );
    }
    s
}

/// The ids the state says exist (current and deposed).
pub fn state_ids(s: &State) -> BTreeSet<String> {
    s.resources
        .values()
        .chain(s.deposed.iter())
        .map(|r| r.id.to_string())
        .collect()
}
