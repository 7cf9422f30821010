//! The one place that writes to the terminal.
//!
//! Results (plans, outputs, JSON) go to stdout; progress, warnings and errors
//! to stderr. Colour is used only when the stream is a terminal and neither
//! `--no-color` nor `NO_COLOR` is set. While an apply runs on a terminal
//! (and `CI` is not set), a live status line under the progress lines says
//! how many steps are done, in flight and left.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use kiln_diag::{Diagnostic, Diagnostics, Severity};

/// ANSI styles used by the renderers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Bold,
    Green,
    Red,
    Yellow,
    Dim,
    Magenta,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "\x1b[1m",
            Style::Green => "\x1b[32m",
            Style::Red => "\x1b[31m",
            Style::Yellow => "\x1b[33m",
            Style::Dim => "\x1b[2m",
            Style::Magenta => "\x1b[35m",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    color_out: bool,
    color_err: bool,
    /// stderr is a terminal and `CI` is not set: an apply shows a live
    /// status line (else plain per-resource lines only).
    live_ok: bool,
    /// The live status line while one is shown; status lines print above it.
    live: Arc<Mutex<Option<ProgressBar>>>,
    /// An apply's step lines not yet written ([`Output::status_batched`]).
    held: Arc<Mutex<Vec<u8>>>,
}

/// Held step lines are written once they reach this many bytes.
const HELD_MAX: usize = 16 * 1024;

impl Output {
    pub fn new(no_color: bool) -> Output {
        Output {
            color_out: !no_color && io::stdout().is_terminal(),
            color_err: !no_color && io::stderr().is_terminal(),
            live_ok: io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
            live: Arc::default(),
            held: Arc::default(),
        }
    }

    /// A step's line of an apply: as [`Output::status_fmt`], but without
    /// a live line it may be held back and written with the lines after
    /// it, in one `write` (an apply of 100,000 resources has 200,000 such
    /// lines). Held lines are written when the apply waits for a call
    /// ([`Output::flush_status`]), before anything else is written, past
    /// 16 KiB, and when the output is dropped.
    pub fn status_batched(&self, text: std::fmt::Arguments<'_>) {
        if self.live.lock().is_ok_and(|l| l.is_some()) {
            self.status_fmt(text);
            return;
        }
        let Ok(mut held) = self.held.lock() else {
            return self.status_fmt(text);
        };
        let _ = writeln!(held, "{text}");
        if held.len() >= HELD_MAX {
            write_held(&mut held);
        }
    }

    /// Writes the step lines held back by [`Output::status_batched`].
    pub fn flush_status(&self) {
        if let Ok(mut held) = self.held.lock() {
            write_held(&mut held);
        }
    }

    /// Shows the live status line (a terminal only, not in CI), with `msg`.
    pub fn live_start(&self, msg: String) {
        self.flush_status();
        if !self.live_ok {
            return;
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar.set_message(msg);
        if let Ok(mut live) = self.live.lock() {
            *live = Some(bar);
        }
    }

    /// Replaces the live status line's text (made only if one is shown).
    pub fn live_update(&self, msg: impl FnOnce() -> String) {
        if let Some(bar) = self.live.lock().ok().and_then(|l| l.clone()) {
            bar.set_message(msg());
        }
    }

    /// Removes the live status line, if one is shown.
    pub fn live_stop(&self) {
        if let Some(bar) = self.live.lock().ok().and_then(|mut l| l.take()) {
            bar.finish_and_clear();
        }
    }

    /// Whether stdout gets colour (renderers build styled text with [`Output::paint`]).
    pub fn paint<'t>(&self, style: Style, text: &'t str) -> Cow<'t, str> {
        paint(self.color_out, style, text)
    }

    /// Writes text to stdout as is.
    pub fn print(&self, text: &str) {
        self.flush_status();
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Writes one line to stdout.
    pub fn line(&self, text: &str) {
        self.print(&format!("{text}\n"));
    }

    /// A progress or status line on stderr.
    pub fn status(&self, text: &str) {
        self.status_fmt(format_args!("{text}"));
    }

    /// [`Output::status`] of text still to be formatted (no copy of it).
    pub fn status_fmt(&self, text: std::fmt::Arguments<'_>) {
        self.flush_status();
        if let Some(bar) = self.live.lock().ok().and_then(|l| l.clone()) {
            bar.println(text.to_string());
            return;
        }
        // One write: stderr is unbuffered, and `writeln!` would write the
        // text and its newline apart (two system calls a line, for an
        // apply's two lines per resource).
        use std::fmt::Write as _;
        let mut line = String::with_capacity(80);
        let _ = writeln!(line, "{text}");
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }

    pub fn status_styled(&self, style: Style, text: &str) {
        self.status(&paint(self.color_err, style, text));
    }

    pub fn warn(&self, text: &str) {
        self.status(&format!(
            "{}: {text}",
            paint(self.color_err, Style::Yellow, "warning")
        ));
    }

    pub fn error(&self, text: &str) {
        self.status(&format!(
            "{}: {text}",
            paint(self.color_err, Style::Red, "error")
        ));
    }

    /// An error with its whole cause chain; diagnostics render with snippets.
    pub fn error_chain(&self, e: &anyhow::Error) {
        if let Some(d) = e.downcast_ref::<Diagnostics>() {
            self.diagnostics(d);
            return;
        }
        if let Some(d) = e.downcast_ref::<Diagnostic>() {
            self.diagnostic(d);
            return;
        }
        self.error(&format!("{e:#}"));
    }

    pub fn diagnostic(&self, d: &Diagnostic) {
        let text = d.to_string();
        let text = if self.color_err {
            let (label, style) = match d.severity {
                Severity::Error => ("error", Style::Red),
                Severity::Warning => ("warning", Style::Yellow),
            };
            text.replacen(label, &paint(true, style, label), 1)
        } else {
            text
        };
        self.status(&text);
        self.status("");
    }

    pub fn diagnostics(&self, ds: &Diagnostics) {
        for d in ds {
            self.diagnostic(d);
        }
        let n = ds.errors().count();
        if n > 1 {
            self.status(&format!("{n} errors"));
        }
    }

    /// Asks for one line on the terminal, returned without its line ending.
    pub fn prompt(&self, question: &str) -> io::Result<String> {
        self.flush_status();
        let mut err = io::stderr().lock();
        write!(err, "{question}")?;
        err.flush()?;
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        Ok(answer.trim_end_matches(['\n', '\r']).to_string())
    }

    /// Asks a yes/no question on the terminal; true only for "yes".
    pub fn confirm(&self, question: &str) -> io::Result<bool> {
        self.flush_status();
        let mut err = io::stderr().lock();
        write!(err, "{question}\n  Only 'yes' will be accepted: ")?;
        err.flush()?;
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        Ok(answer.trim() == "yes")
    }
}

/// Writes `held` to stderr in one `write` and empties it.
fn write_held(held: &mut Vec<u8>) {
    if !held.is_empty() {
        let _ = io::stderr().lock().write_all(held);
        held.clear();
    }
}

impl Drop for Output {
    /// Nothing held back is lost at the end of a command.
    fn drop(&mut self) {
        self.flush_status();
    }
}

/// `text` in `style` when `color`; without colour, `text` itself (no copy:
/// a large plan paints hundreds of thousands of lines).
pub fn paint(color: bool, style: Style, text: &str) -> Cow<'_, str> {
    if !color || style == Style::Plain {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{}{text}\x1b[0m", style.code()))
    }
}
