//! How the CLI shows what a workflow reports: [`Term`] implements the
//! library's [`Hooks`] for a terminal or a log (events as lines, the
//! confirmation prompt, progress bars on terminals only).

use std::io::{BufRead, IsTerminal, Write};

use crate::apply::{LineProgress, Progress};
use crate::mirror::TransferProgress;
use crate::ops::{Applied, Event, Hooks, OpsError};
use crate::plan;

pub use crate::ops::human_bytes;

/// Pretty JSON on its own line.
pub fn json(out: &mut dyn Write, v: &impl serde::Serialize) -> std::io::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_default()
    )
}

/// A progress bar on terminals; nothing elsewhere (CI logs get the summary).
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(what: &str, show: bool) -> Self {
        if !show {
            return Bar(None);
        }
        let b = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} objects, {msg}",
        ) {
            b.set_style(style.progress_chars("=> "));
        }
        b.set_prefix(what.to_string());
        Bar(Some(b))
    }
}

impl TransferProgress for Bar {
    fn update(&mut self, done: usize, total: usize, bytes: u64) {
        if let Some(b) = &self.0
            && total > 8
        {
            b.set_length(total as u64);
            b.set_position(done as u64);
            b.set_message(human_bytes(bytes));
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// The CLI's side of a workflow: prints events to `out`, asks on the
/// terminal (unless `auto_approve`), shows progress bars when `bars`.
pub struct Term<'a> {
    /// Where results go.
    pub out: &'a mut dyn Write,
    /// Colour the plan.
    pub color: bool,
    /// Do not ask.
    pub auto_approve: bool,
    /// Progress bars on stderr (a terminal, not CI).
    pub bars: bool,
}

impl Hooks for Term<'_> {
    fn event(&mut self, event: Event<'_>) -> Result<(), OpsError> {
        show(self.out, &event, self.color).map_err(OpsError::Output)
    }

    fn confirm(&mut self, stack: &crate::model::Stack) -> Result<bool, OpsError> {
        if self.auto_approve {
            writeln!(self.out)?;
            return Ok(true);
        }
        if !std::io::stdin().is_terminal() {
            return Err(OpsError::Invalid("refusing to apply without confirmation: stdin is not a terminal; review the plan and pass --auto-approve".into()));
        }
        write!(
            self.out,
            "\nApply these changes to {stack}? Only 'yes' is accepted: "
        )?;
        self.out.flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        writeln!(self.out)?;
        Ok(line.trim() == "yes")
    }

    fn progress(&mut self, total: usize) -> Box<dyn Progress + '_> {
        Box::new(LineProgress::new(&mut *self.out, self.bars, total))
    }

    fn transfer(&mut self, what: &'static str) -> Box<dyn TransferProgress> {
        Box::new(Bar::new(what, self.bars))
    }
}

fn show(out: &mut dyn Write, event: &Event<'_>, color: bool) -> std::io::Result<()> {
    match event {
        // The plan in colour on terminals; its text otherwise.
        Event::Plan { plan, desired } if color => {
            let header = crate::ops::plan_header(*desired);
            write!(out, "{header}{}", plan::render::render(plan, true))
        }
        // Stale views go to stderr, so `--json` output stays a document.
        Event::Stale(w) => {
            eprintln!("{w}");
            Ok(())
        }
        other => write!(out, "{other}"),
    }
}

/// After an apply: its restores, and what was not applied. An apply with
/// operations not applied is an error (exit 1), after they are listed.
pub fn finish(out: &mut dyn Write, a: &Applied) -> Result<(), super::CliError> {
    write!(out, "{}", a.restores_text())?;
    let failures = a.failures_text();
    if failures.is_empty() {
        return Ok(());
    }
    writeln!(out, "Not applied:\n{}", failures.join("\n"))?;
    Err(super::CliError::Failed(format!(
        "apply {} with {} operation(s) not applied; fix the cause and apply again",
        a.report.generation.outcome,
        failures.len()
    )))
}
