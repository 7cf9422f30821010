//! The planner's rules (../shared/DESIGN.md, "The planner"), as one pure
//! function: what happens to one instance given what changed. The planner
//! gathers the facts (diff, flags, drift, schema) and turns the decision
//! into reasons, warnings and errors; nothing here looks at values.

use kiln_model::ChangeBehaviour;

use crate::ActionKind;

/// What is known about one configured instance when its action is decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The state has an object for it.
    pub in_state: bool,
    /// Its data must survive: never replaced unless the user allows it.
    pub stateful: bool,
    /// Kept across generations (a balancer, a listener): a rebuild or
    /// drift sets its run-time attributes again instead of replacing it.
    pub traffic_switch: bool,
    /// `--replace` names it, or a `replace_triggered_by` source is replaced.
    pub forced: bool,
    /// `--rebuild`: every stateless resource becomes a new generation.
    pub rebuild: bool,
    /// The real object differs from the state (refresh).
    pub drifted: bool,
    /// Some changed attribute forces a replacement ([`forces_replacement`]).
    pub forcing: bool,
    /// Some attribute changed at all.
    pub changed: bool,
    /// `--allow-replace` names it.
    pub allow_replace: bool,
}

/// What to do with the instance, and what to say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    pub kind: ActionKind,
    /// Say it is replaced because of `--rebuild`.
    pub rebuild_reason: bool,
    /// Say it is replaced because it drifted.
    pub drift_reason: bool,
    /// Warn that it drifted and is not replaced for it.
    pub drift_warning: Option<DriftWarning>,
    /// The replacement of a stateful resource the user did not allow: the
    /// plan fails with an error naming the attributes.
    pub refused: bool,
}

/// Why drift does not replace an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DriftWarning {
    Stateful,
    TrafficSwitch,
}

/// Whether a change of an attribute with `behaviour` replaces the object:
/// `Replace` attributes always; `Update` attributes (changeable in place
/// by the API) only on stateful resources — a stateless object is replaced,
/// never patched; `Runtime` attributes never.
pub(crate) fn forces_replacement(behaviour: ChangeBehaviour, stateful: bool) -> bool {
    behaviour == ChangeBehaviour::Replace || (behaviour == ChangeBehaviour::Update && !stateful)
}

/// The rule table.
///
/// | instance | replaced when | updated in place when | drift |
/// |---|---|---|---|
/// | not in state | — (created) | — | — |
/// | stateful | forced, or a forcing change (an error unless allowed) | any other change | warned, never replaces |
/// | traffic switch | forced, or a forcing change | any other change (rebuild too) | warned, never replaces |
/// | stateless | forced, rebuild, drift, or a forcing change | a run-time change | replaces |
pub(crate) fn decide(f: Facts) -> Decision {
    let mut d = Decision {
        kind: ActionKind::NoOp,
        rebuild_reason: false,
        drift_reason: false,
        drift_warning: None,
        refused: false,
    };
    if !f.in_state {
        d.kind = ActionKind::Create;
        return d;
    }
    let replace = if f.stateful {
        d.drift_warning = f.drifted.then_some(DriftWarning::Stateful);
        d.refused = !f.forced && f.forcing && !f.allow_replace;
        f.forced || f.forcing
    } else {
        let switch = f.traffic_switch;
        d.rebuild_reason = f.rebuild && !switch;
        d.drift_reason = f.drifted && !switch;
        d.drift_warning = (f.drifted && switch).then_some(DriftWarning::TrafficSwitch);
        f.forced || d.rebuild_reason || d.drift_reason || f.forcing
    };
    d.kind = if replace {
        ActionKind::Replace
    } else if f.changed {
        ActionKind::Update
    } else {
        ActionKind::NoOp
    };
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActionKind::*;

    /// Facts written as words: `in_state`, `stateful`, `switch`, `forced`,
    /// `rebuild`, `drifted`, `forcing`, `changed`, `allowed`.
    fn facts(words: &str) -> Facts {
        let mut f = Facts::default();
        for w in words.split_whitespace() {
            match w {
                "in_state" => f.in_state = true,
                "stateful" => f.stateful = true,
                "switch" => f.traffic_switch = true,
                "forced" => f.forced = true,
                "rebuild" => f.rebuild = true,
                "drifted" => f.drifted = true,
                "forcing" => f.forcing = true,
                "changed" => f.changed = true,
                "allowed" => f.allow_replace = true,
                other => panic!("unknown fact {other}"),
            }
        }
        f
    }

    /// Each row: facts, the action, and what is said (`rebuild`, `drift`,
    /// `warn-stateful`, `warn-switch`, `refused`).
    const TABLE: &[(&str, ActionKind, &str)] = &[
        ("", Create, ""),
        ("stateful rebuild drifted forcing changed", Create, ""),
        // Stateless: replaced, never patched, except for run-time changes.
        ("in_state", NoOp, ""),
        ("in_state changed", Update, ""),
        ("in_state changed forcing", Replace, ""),
        ("in_state forced", Replace, ""),
        ("in_state rebuild", Replace, "rebuild"),
        ("in_state drifted", Replace, "drift"),
        ("in_state rebuild drifted changed", Replace, "rebuild drift"),
        // A traffic switch moves in place: rebuild and drift do not replace it.
        ("in_state switch rebuild", NoOp, ""),
        ("in_state switch rebuild changed", Update, ""),
        ("in_state switch drifted", NoOp, "warn-switch"),
        ("in_state switch drifted changed", Update, "warn-switch"),
        ("in_state switch changed forcing", Replace, ""),
        ("in_state switch forced", Replace, ""),
        // Stateful: protected unless the user names it.
        ("in_state stateful", NoOp, ""),
        ("in_state stateful rebuild", NoOp, ""),
        ("in_state stateful changed", Update, ""),
        ("in_state stateful drifted", NoOp, "warn-stateful"),
        ("in_state stateful changed forcing", Replace, "refused"),
        ("in_state stateful changed forcing allowed", Replace, ""),
        ("in_state stateful forced", Replace, ""),
        ("in_state stateful forced changed forcing", Replace, ""),
    ];

    #[test]
    fn the_rule_table() {
        for (words, kind, said) in TABLE {
            let d = decide(facts(words));
            let mut got = Vec::new();
            if d.rebuild_reason {
                got.push("rebuild");
            }
            if d.drift_reason {
                got.push("drift");
            }
            match d.drift_warning {
                Some(DriftWarning::Stateful) => got.push("warn-stateful"),
                Some(DriftWarning::TrafficSwitch) => got.push("warn-switch"),
                None => {}
            }
            if d.refused {
                got.push("refused");
            }
            assert_eq!(
                (d.kind, got.join(" ")),
                (*kind, said.to_string()),
                "{words:?}"
            );
        }
    }

    #[test]
    fn update_attributes_replace_only_stateless_objects() {
        use ChangeBehaviour::*;
        assert!(forces_replacement(Replace, true));
        assert!(forces_replacement(Replace, false));
        assert!(forces_replacement(Update, false));
        assert!(!forces_replacement(Update, true));
        assert!(!forces_replacement(Runtime, false));
        assert!(!forces_replacement(Runtime, true));
    }
}
