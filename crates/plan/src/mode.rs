//! How a resource or module block expands into instances: shared by the
//! expansion, the graph and the scopes that evaluate `count.index` and
//! `each.key`.

/// How a resource block expands into instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Single,
    Count,
    ForEach,
}
