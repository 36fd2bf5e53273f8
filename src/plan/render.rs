//! The human rendering of a plan: a readable, optionally colored diff in the
//! style of `terraform plan`.

use std::fmt::Write;

use super::action::{Action, ActionKind, Plan};
use crate::model::Value;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => "null".into(),
        Some(v) => v.to_string(),
    }
}

/// Renders the plan; `color` adds ANSI colors.
pub fn render(plan: &Plan, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    let release = plan
        .release
        .as_deref()
        .map(|r| format!(" to release v{r}"))
        .unwrap_or_default();
    let base = plan
        .base_generation
        .map_or_else(|| "empty state".to_string(), |g| format!("generation {g}"));
    let _ = writeln!(out, "Plan for {}{release}, from {base}:", plan.stack);
    for k in &plan.kept {
        let _ = writeln!(
            out,
            "\n  {} {} is no longer in the release but is kept: it holds data (pass --allow-data-loss to delete it)",
            st.paint("36", "="),
            st.paint("1", &k.to_string())
        );
    }
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "\nNo changes. {} resources match the release.",
            plan.unchanged
        );
        return out;
    }
    for a in &plan.actions {
        let _ = writeln!(out);
        render_action(&mut out, a, &st);
    }
    let c = plan.counts();
    let _ = writeln!(
        out,
        "\nPlan: {} to add, {} to change, {} to replace, {} to destroy; {} unchanged.",
        c.create, c.update, c.replace, c.delete, plan.unchanged
    );
    if c.blocked > 0 {
        let _ = writeln!(
            out,
            "{}",
            st.paint(
                "31;1",
                &format!(
                    "{} action(s) blocked: nothing will be applied until they are resolved.",
                    c.blocked
                )
            )
        );
    }
    out
}

fn render_action(out: &mut String, a: &Action, st: &Style) {
    let (sym, code, verb) = match a.kind {
        ActionKind::Create => ("  +", "32", "will be created"),
        ActionKind::Update => ("  ~", "33", "will be updated in place"),
        ActionKind::Replace => ("-/+", "35", "must be replaced"),
        ActionKind::Delete => ("  -", "31", "will be destroyed"),
    };
    let reason = a
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {} {} {verb}{reason}",
        st.paint(code, sym),
        st.paint("1", &a.address.to_string()),
        a.arm_type
    );
    if let Some(b) = &a.blocked {
        let _ = writeln!(out, "      {} {b}", st.paint("31;1", "! blocked:"));
    }
    for c in &a.changes {
        let tail = if c.forces_replacement {
            st.paint("31", " # forces replacement")
        } else {
            String::new()
        };
        let secret = crate::catalog::is_secret(&a.arm_type, &c.path);
        let show = |v: &Option<Value>| {
            if secret && v.is_some() {
                crate::catalog::REDACTED.to_string()
            } else {
                show(v)
            }
        };
        let after = if c.unknown {
            format!("(known after apply: {})", show(&c.after))
        } else {
            show(&c.after)
        };
        match (a.kind, &c.before) {
            (ActionKind::Create, _) => {
                let _ = writeln!(out, "      {} {} = {after}", st.paint("32", "+"), c.path);
            }
            (_, None) => {
                let _ = writeln!(
                    out,
                    "      {} {} = {after}{tail}",
                    st.paint("32", "+"),
                    c.path
                );
            }
            (_, Some(_)) if c.after.is_none() => {
                let _ = writeln!(
                    out,
                    "      {} {} = {}{tail}",
                    st.paint("31", "-"),
                    c.path,
                    show(&c.before)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "      {} {} = {} -> {after}{tail}",
                    st.paint("33", "~"),
                    c.path,
                    show(&c.before)
                );
            }
        }
    }
}
