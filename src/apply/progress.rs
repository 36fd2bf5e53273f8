use std::io::Write;
use std::time::Duration;

use super::report::{OpOutcome, OpResult};
use crate::plan::Action;

/// Receives the applier's progress, for display.
pub trait Progress {
    /// An operation started.
    fn started(&mut self, action: &Action, running: usize, elapsed: Duration);
    /// An operation ended (or was skipped).
    fn finished(&mut self, outcome: &OpOutcome, done: usize, total: usize, running: usize);
}

/// Prints nothing.
#[derive(Debug, Default)]
pub struct QuietProgress;

impl Progress for QuietProgress {
    fn started(&mut self, _: &Action, _: usize, _: Duration) {}
    fn finished(&mut self, _: &OpOutcome, _: usize, _: usize, _: usize) {}
}

/// One plain line per finished operation (for logs and non-terminals), or
/// a progress bar on a terminal.
pub struct LineProgress<W: Write> {
    out: W,
    bar: Option<indicatif::ProgressBar>,
}

fn fmt_duration(d: Duration) -> String {
    crate::model::Interval::from_secs(d.as_secs()).to_string()
}

impl<W: Write> LineProgress<W> {
    /// Plain lines to `out`; with `bar`, a progress bar on stderr for `total` operations instead.
    pub fn new(out: W, bar: bool, total: usize) -> Self {
        let bar = bar.then(|| {
            let pb = indicatif::ProgressBar::new(total as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        });
        LineProgress { out, bar }
    }
}

impl<W: Write> Progress for LineProgress<W> {
    fn started(&mut self, action: &Action, running: usize, elapsed: Duration) {
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "{running} running; {} {} (t+{})",
                action.kind,
                action.address,
                fmt_duration(elapsed)
            ));
        }
    }

    fn finished(&mut self, o: &OpOutcome, done: usize, total: usize, running: usize) {
        let line = match &o.result {
            OpResult::Done => format!(
                "[{done}/{total}] {} {} ok (took {}, t+{})",
                o.kind,
                o.address,
                fmt_duration(o.took),
                fmt_duration(o.ended)
            ),
            OpResult::Failed(e) => format!("[{done}/{total}] {} {} FAILED: {e}", o.kind, o.address),
            OpResult::Skipped(why) => {
                format!("[{done}/{total}] {} {} skipped: {why}", o.kind, o.address)
            }
        };
        match &self.bar {
            Some(b) => {
                b.set_position(done as u64);
                if !matches!(o.result, OpResult::Done) {
                    b.println(&line);
                }
                b.set_message(format!("{running} running"));
                if done == total {
                    b.finish_and_clear();
                }
            }
            None => {
                let _ = writeln!(self.out, "{line}");
            }
        }
    }
}
