//! The ready-queue machinery of an apply and of its rollback: nodes that
//! become ready once every node they wait for is done, and one scheduler
//! ([`walk`]) that starts ready nodes as provider calls, up to a
//! parallelism bound, until nothing is running and nothing more may start.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll, Waker};

use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

/// Nodes and what each waits for; per node, constant-time bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    /// For each node, how many nodes it still waits for.
    waiting: Vec<usize>,
    /// For each node, the nodes that wait for it.
    then: Vec<Vec<usize>>,
    queue: VecDeque<usize>,
}

impl Ready {
    pub(crate) fn new(n: usize) -> Ready {
        Ready {
            waiting: vec![0; n],
            then: vec![Vec::new(); n],
            queue: VecDeque::new(),
        }
    }

    /// Node `later` starts only after node `first` is done.
    pub(crate) fn wait(&mut self, later: usize, first: usize) {
        self.waiting[later] += 1;
        self.then[first].push(later);
    }

    /// Queues, in `order`, every node that waits for nothing.
    pub(crate) fn queue_free(&mut self, order: impl IntoIterator<Item = usize>) {
        for i in order {
            if self.waiting[i] == 0 {
                self.queue.push_back(i);
            }
        }
    }

    pub(crate) fn push(&mut self, i: usize) {
        self.queue.push_back(i);
    }

    pub(crate) fn pop(&mut self) -> Option<usize> {
        self.queue.pop_front()
    }

    /// The nodes that wait for `i`.
    pub(crate) fn waiting_for(&self, i: usize) -> &[usize] {
        &self.then[i]
    }

    /// Node `i` is done: every node it was the last wait of is queued if
    /// `startable` says it may still start.
    pub(crate) fn done(&mut self, i: usize, startable: impl Fn(usize) -> bool) {
        for &d in &self.then[i] {
            self.waiting[d] -= 1;
            if self.waiting[d] == 0 && startable(d) {
                self.queue.push_back(d);
            }
        }
    }
}

/// What [`walk`] runs: ready nodes, each started as one provider call.
pub(crate) trait Walk {
    /// The call a node runs, and what it hands back.
    type Job: Send + 'static;
    type Done: Send + 'static;

    /// Nothing new may start.
    fn stopped(&self) -> bool;
    /// Start nothing new: the user cancelled.
    fn cancel(&mut self);
    /// The next node to start, if one is ready.
    fn next_ready(&mut self) -> Option<usize>;
    /// Prepares node `i` and journals its intent; the call to run, or
    /// `None` if the node ended without one.
    async fn start(&mut self, i: usize) -> Option<Self::Job>;
    /// Runs a call (in a task of its own).
    fn run(i: usize, job: Self::Job) -> impl Future<Output = Self::Done> + Send + 'static;
    /// A call returned.
    async fn finished(&mut self, done: Self::Done);
    /// A call never returned: it panicked (`why`: the panic's message).
    async fn lost(&mut self, i: usize, why: String);
    /// Nothing more can start until a running call returns (or nothing
    /// runs): the walk is about to wait, or to end. What was held back
    /// for a batch (results for the journal) is written now.
    async fn idle(&mut self) {}
}

/// Starts ready nodes of `w` (at most `limit` calls at once) as soon as
/// they are ready, hands each finished call back, and returns when nothing
/// runs and nothing more may start. `cancel` stops new starts (running
/// calls finish and are handed back).
pub(crate) async fn walk<W: Walk>(w: &mut W, limit: usize, cancel: &CancellationToken) {
    let mut tasks = JoinSet::new();
    let mut nodes: HashMap<tokio::task::Id, usize> = HashMap::new();
    loop {
        if !w.stopped() && cancel.is_cancelled() {
            w.cancel();
        }
        while !w.stopped() && tasks.len() < limit {
            let Some(i) = w.next_ready() else {
                break;
            };
            if let Some(job) = w.start(i).await {
                // A call that returns without waiting (a provider that
                // answers from memory) is handed back at once: only one
                // that waits becomes a task, which saves waking a worker
                // thread per call. The task polls it again with its own
                // waker, as the Future contract allows.
                let mut call = Box::pin(W::run(i, job));
                let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    call.as_mut().poll(&mut Context::from_waker(Waker::noop()))
                }));
                match polled {
                    Ok(Poll::Ready(done)) => w.finished(done).await,
                    Ok(Poll::Pending) => {
                        let handle = tasks.spawn(call);
                        nodes.insert(handle.id(), i);
                    }
                    Err(panic) => w.lost(i, panic_text(panic.as_ref())).await,
                }
            }
            // Calls already back are handed back before more start: with
            // a high limit and fast calls, finished tasks (each with what
            // it returns) would otherwise pile up until every ready node
            // had started, and their results wait to be recorded.
            while let Some(joined) = tasks.try_join_next_with_id() {
                hand_back(w, &mut nodes, joined).await;
            }
        }
        w.idle().await;
        if tasks.is_empty() {
            return;
        }
        let joined = tokio::select! {
            biased;
            joined = tasks.join_next_with_id() => joined,
            () = cancel.cancelled(), if !w.stopped() => {
                w.cancel();
                continue;
            }
        };
        match joined {
            Some(joined) => hand_back(w, &mut nodes, joined).await,
            None => return,
        }
    }
}

/// A joined task's result to `w`: its call's, or its loss if it panicked.
async fn hand_back<W: Walk>(
    w: &mut W,
    nodes: &mut HashMap<tokio::task::Id, usize>,
    joined: Result<(tokio::task::Id, W::Done), JoinError>,
) {
    match joined {
        Ok((id, done)) => {
            nodes.remove(&id);
            w.finished(done).await;
        }
        Err(e) => {
            if let Some(i) = nodes.remove(&e.id()) {
                let why = match e.try_into_panic() {
                    Ok(panic) => panic_text(panic.as_ref()),
                    Err(e) => e.to_string(),
                };
                w.lost(i, why).await;
            }
        }
    }
}

/// What a panic says: its message, if it has one.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => format!("{s:?}"),
        (_, Some(s)) => format!("{s:?}"),
        _ => "no message".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_ready_once_its_last_wait_is_done() {
        // 0 → 2, 1 → 2, 2 → 3
        let mut r = Ready::new(4);
        r.wait(2, 0);
        r.wait(2, 1);
        r.wait(3, 2);
        r.queue_free(0..4);
        assert_eq!((r.pop(), r.pop(), r.pop()), (Some(0), Some(1), None));
        r.done(0, |_| true);
        assert_eq!(r.pop(), None, "2 still waits for 1");
        r.done(1, |_| true);
        assert_eq!(r.pop(), Some(2));
        r.done(2, |_| false);
        assert_eq!(r.pop(), None, "3 is not startable any more");
        assert_eq!(r.waiting_for(2), &[3]);
    }
}
