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

/// What a `count` or `for_each` that is not known yet means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unknowns {
    /// Planning: an error (instances must be known to plan them).
    Refuse,
    /// `kiln validate`: one instance whose `count.index` / `each` are
    /// unknown, so its body is still checked (Terraform's validate).
    OneInstance,
}

impl Unknowns {
    /// The one stand-in instance of a block expanded by an unknown value.
    pub(crate) fn stand_in(
        mode: Mode,
    ) -> (
        kiln_model::InstanceKey,
        Option<(kiln_model::Value, kiln_model::Value)>,
    ) {
        match mode {
            Mode::ForEach => (
                kiln_model::InstanceKey::Str(Default::default()),
                Some((kiln_model::Value::Unknown, kiln_model::Value::Unknown)),
            ),
            _ => (kiln_model::InstanceKey::Int(0), None),
        }
    }
}
