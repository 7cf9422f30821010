//! Diagnostics: what went wrong, where, and what to do next.
//!
//! Every kiln crate that can be handed user input reports problems as a
//! [`Diagnostic`] rather than failing: parsing and planning return a value plus
//! [`Diagnostics`], and only the binary decides how to print them. A diagnostic
//! optionally carries a [`Span`] that already holds the source line it points
//! into, so it renders with a rustc-like snippet without access to the files.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A position in a source file, 1-based line and column (columns count chars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A located range of source text, with the text of its first line kept for
/// rendering a snippet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub file: String,
    pub start: Pos,
    pub end: Pos,
    /// The full text of line `start.line`, without its line ending.
    pub line_text: String,
}

impl Span {
    /// Builds a span from a byte range of `source`, computing line, column and
    /// the snippet line. Out-of-range offsets are clamped, never a panic.
    pub fn from_range(file: &str, source: &str, range: std::ops::Range<usize>) -> Span {
        let start = clamp_boundary(source, range.start);
        let end = clamp_boundary(source, range.end.max(range.start));
        let start_pos = pos_at(source, start);
        let end_pos = pos_at(source, end);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_text = source[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        Span {
            file: file.to_string(),
            start: start_pos,
            end: end_pos,
            line_text,
        }
    }
}

fn clamp_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn pos_at(source: &str, offset: usize) -> Pos {
    let before = &source[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() as u32 + 1;
    Pos { line, col }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.start.line, self.start.col)
    }
}

/// One problem, with an optional location and an optional longer explanation
/// (which should say what to do next).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: None,
            span: None,
        }
    }

    pub fn warning(summary: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: None,
            span: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Diagnostic {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_span(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    /// Sets the span only if the diagnostic has none yet.
    pub fn or_span(mut self, span: impl FnOnce() -> Option<Span>) -> Diagnostic {
        if self.span.is_none() {
            self.span = span();
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// Renders rustc-style: a header, the location, the snippet with a caret
    /// under the span, then the detail.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}", self.summary)?;
        if let Some(span) = &self.span {
            let num = span.start.line.to_string();
            let pad = " ".repeat(num.len());
            write!(f, "\n{pad}--> {span}")?;
            write!(f, "\n{pad} |\n{num} | {}", span.line_text)?;
            let col = span.start.col as usize;
            let width = if span.end.line == span.start.line && span.end.col > span.start.col {
                (span.end.col - span.start.col) as usize
            } else {
                span.line_text
                    .chars()
                    .count()
                    .saturating_sub(col - 1)
                    .max(1)
            };
            let indent: String = span
                .line_text
                .chars()
                .take(col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} | {indent}{}", "^".repeat(width.max(1)))?;
        }
        if let Some(detail) = &self.detail {
            for (i, line) in detail.lines().enumerate() {
                if i == 0 {
                    write!(f, "\n  = {line}")?;
                } else {
                    write!(f, "\n    {line}")?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// An ordered set of diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }

    /// `Ok(())` when there is no error, otherwise `Err(self)`.
    pub fn into_result(self) -> Result<Diagnostics, Diagnostics> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(v: Vec<Diagnostic>) -> Diagnostics {
        Diagnostics(v)
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Diagnostics {
        Diagnostics(iter.into_iter().collect())
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_snippet_with_caret() {
        let src = "resource \"x\" \"y\" {\n  foo = 1\n}\n";
        let start = src.find("foo").unwrap();
        let span = Span::from_range("main.hcl", src, start..start + 3);
        let d = Diagnostic::error("unknown attribute \"foo\"")
            .with_span(span)
            .with_detail("remove it");
        let text = d.to_string();
        assert_eq!(
            text,
            "error: unknown attribute \"foo\"\n --> main.hcl:2:3\n  |\n2 |   foo = 1\n  |   ^^^\n  = remove it"
        );
    }

    #[test]
    fn out_of_range_spans_clamp() {
        let span = Span::from_range("f", "ab", 5..9);
        assert_eq!(span.start, Pos { line: 1, col: 3 });
    }
}
