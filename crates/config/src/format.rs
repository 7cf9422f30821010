//! `kiln fmt`: the canonical layout of a configuration file.
//!
//! The rules are Terraform's: two spaces of indentation per nesting level,
//! the `=` of consecutive one-line attributes aligned, one space around `=`,
//! one blank line between blocks (and never more than one anywhere), no
//! blank line right inside braces, no trailing whitespace, one final newline.
//! Comments and heredoc bodies are kept as written.
//!
//! The file is parsed first (hcl-edit), so only valid files are rewritten;
//! the layout itself works line by line, with a small scanner that knows
//! strings, template interpolations, comments and heredocs, so that it never
//! changes what an expression means.

use std::sync::Arc;

use kiln_diag::Diagnostics;

use crate::SourceFile;
use crate::syntax::syntax_error;

/// One source line, as the scanner saw it.
struct Line {
    /// The text without its indentation and trailing whitespace.
    text: String,
    /// Nesting depth at the start of the line.
    depth: usize,
    /// The line starts by closing a bracket.
    closes_first: bool,
    /// Part of a heredoc body (or its closing marker): kept verbatim.
    verbatim: bool,
    /// Indented, but never aligned.
    continuation: bool,
}

/// The file in canonical layout, or the syntax error that stops it.
pub fn format(name: &str, text: &str) -> Result<String, Diagnostics> {
    let file = Arc::new(SourceFile {
        name: name.to_string(),
        text: text.to_string(),
    });
    if let Err(e) = hcl_edit::parser::parse_body(text) {
        return Err(syntax_error(&file, &e).into());
    }
    let lines = scan(text);
    Ok(layout(&lines))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Code,
    /// In a quoted string.
    Str,
    /// In a `/* */` comment.
    Comment,
}

fn scan(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    // The stack of open constructs: brackets in code, strings, and the
    // interpolations inside strings (which are code again).
    let mut stack: Vec<char> = Vec::new();
    let mut mode = Mode::Code;
    let mut heredoc: Option<String> = None;
    let mut depth = 0usize;
    for raw in text.lines() {
        if let Some(marker) = &heredoc {
            let done = raw.trim() == marker;
            // The body and the closing marker are kept as written.
            out.push(Line {
                text: raw.trim_end().to_string(),
                depth,
                closes_first: false,
                verbatim: true,
                continuation: false,
            });
            if done {
                heredoc = None;
            }
            continue;
        }
        let start_depth = depth;
        let in_comment = mode == Mode::Comment;
        let trimmed = raw.trim();
        let mut closes_first = false;
        let mut first_code = true;
        let chars: Vec<char> = trimmed.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match mode {
                Mode::Comment => {
                    if c == '*' && next == Some('/') {
                        mode = Mode::Code;
                        i += 1;
                    }
                }
                Mode::Str => match c {
                    '\\' => i += 1,
                    '"' => {
                        stack.pop();
                        mode = code_or_str(&stack);
                    }
                    '$' | '%' if next == Some('{') => {
                        stack.push('$');
                        mode = Mode::Code;
                        i += 1;
                    }
                    _ => {}
                },
                Mode::Code => {
                    if first_code && matches!(c, '}' | ']' | ')') {
                        closes_first = true;
                    }
                    first_code = false;
                    match c {
                        '#' => break,
                        '/' if next == Some('/') => break,
                        '/' if next == Some('*') => {
                            mode = Mode::Comment;
                            i += 1;
                        }
                        '"' => {
                            stack.push('"');
                            mode = Mode::Str;
                        }
                        '{' | '[' | '(' => {
                            stack.push(c);
                            depth += 1;
                        }
                        '}' | ']' | ')' => {
                            match stack.pop() {
                                // The end of an interpolation: back in the string.
                                Some('$') => mode = Mode::Str,
                                Some(_) => depth = depth.saturating_sub(1),
                                None => {}
                            }
                        }
                        '<' if next == Some('<') && mode == Mode::Code => {
                            let rest: String = chars[i + 2..].iter().collect();
                            let rest = rest.strip_prefix('-').unwrap_or(&rest);
                            let marker: String = rest
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            if !marker.is_empty() && rest[marker.len()..].trim().is_empty() {
                                heredoc = Some(marker);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        // The inside of a multi-line comment is kept as written.
        out.push(Line {
            text: if in_comment {
                raw.trim_end().to_string()
            } else {
                trimmed.to_string()
            },
            depth: start_depth,
            closes_first,
            verbatim: in_comment,
            continuation: false,
        });
    }
    out
}

fn code_or_str(stack: &[char]) -> Mode {
    match stack.last() {
        Some('"') => Mode::Str,
        _ => Mode::Code,
    }
}

/// An attribute line's name and value (`name = value`), if it is one.
fn attribute(text: &str) -> Option<(&str, &str)> {
    let eq = text.find('=')?;
    let (name, rest) = (text[..eq].trim_end(), &text[eq + 1..]);
    if name.is_empty()
        || rest.starts_with('=')
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    Some((name, rest.trim_start()))
}

fn is_block_start(text: &str) -> bool {
    text.ends_with('{') && attribute(text).is_none()
}

fn layout(lines: &[Line]) -> String {
    // First pass: indentation, blank lines and `name = value` spacing.
    let mut out: Vec<(String, Option<usize>)> = Vec::new(); // (line, name width if aligned attr)
    let mut prev_blank = true;
    let mut prev_closed_block = false;
    // For each bracket left open at the end of a line: does it open a block?
    let mut kinds: Vec<bool> = Vec::new();
    for (k, l) in lines.iter().enumerate() {
        if l.verbatim {
            out.push((l.text.clone(), None));
            prev_blank = false;
            prev_closed_block = false;
            continue;
        }
        if l.text.is_empty() {
            // No blank line right after an opening brace, before a closing
            // one, or at the start of the file; never two in a row.
            let opens = out
                .last()
                .is_some_and(|(t, _)| t.trim_end().ends_with('{') || t.trim_end().ends_with('['));
            let closes = lines[k + 1..]
                .iter()
                .find(|n| !n.text.is_empty() || n.verbatim)
                .is_none_or(|n| n.closes_first && !n.verbatim);
            if !prev_blank && !opens && !closes {
                out.push((String::new(), None));
                prev_blank = true;
            }
            continue;
        }
        let depth = if l.closes_first {
            l.depth.saturating_sub(1)
        } else {
            l.depth
        };
        let indent = "  ".repeat(depth);
        // One blank line between a block's end and what follows at its level.
        if prev_closed_block && !prev_blank && !l.closes_first {
            out.push((String::new(), None));
        }
        let mut aligned = None;
        let text = if l.continuation {
            l.text.clone()
        } else if let Some((name, value)) = attribute(&l.text) {
            aligned = Some(name.chars().count());
            format!("{name} = {value}")
        } else {
            l.text.clone()
        };
        let mut closed_block = false;
        if !l.continuation {
            if l.closes_first {
                closed_block = kinds.pop().unwrap_or(false) && text == "}";
            }
            if text.ends_with(['{', '[', '(']) {
                kinds.push(is_block_start(&text));
            }
        }
        prev_closed_block = closed_block;
        prev_blank = false;
        // Only attribute lines whose whole value is on the line are aligned.
        let single = aligned.is_some() && lines.get(k + 1).is_none_or(|n| n.depth <= l.depth);
        out.push((
            format!("{indent}{text}"),
            if single { aligned } else { None },
        ));
    }
    while out.last().is_some_and(|(t, _)| t.is_empty()) {
        out.pop();
    }
    // Second pass: align `=` within runs of one-line attributes at one depth.
    let mut i = 0;
    while i < out.len() {
        if out[i].1.is_none() {
            i += 1;
            continue;
        }
        let indent = leading(&out[i].0);
        let mut j = i;
        while j < out.len() && out[j].1.is_some() && leading(&out[j].0) == indent {
            j += 1;
        }
        let width = out[i..j].iter().filter_map(|(_, w)| *w).max().unwrap_or(0);
        for (line, w) in &mut out[i..j] {
            let w = w.unwrap_or(0);
            if let Some(eq) = line.find(" = ") {
                let pad = " ".repeat(width - w);
                line.insert_str(eq, &pad);
            }
        }
        i = j.max(i + 1);
    }
    let mut s = String::new();
    for (line, _) in out {
        s.push_str(&line);
        s.push('\n');
    }
    s
}

fn leading(s: &str) -> usize {
    s.len() - s.trim_start().len()
}
