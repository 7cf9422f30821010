//! The diagnostic for text HCL cannot parse, located at the parser's offset.

use std::sync::Arc;

use kiln_diag::Diagnostic;

use crate::{Loc, SourceFile};

/// A syntax error from hcl-edit, as a diagnostic at the offending byte.
pub(crate) fn syntax_error(file: &Arc<SourceFile>, e: &hcl_edit::parser::Error) -> Diagnostic {
    let offset = e.location().offset();
    let loc = Loc {
        file: file.clone(),
        range: offset..offset + 1,
    };
    let msg = e.message().trim();
    loc.error(format!("syntax error: {msg}"))
}

/// hcl-edit refuses number literals it cannot hold in a `u64` or a finite
/// `f64` (`18446744073709551616`, `1e400`), which Terraform reads exactly.
/// This returns the text with each such literal replaced by a placeholder
/// of the same length (`0.000…`), so spans stay true and the evaluator reads
/// the literal back from the original text ([`is_placeholder`]); `None` when
/// nothing needs replacing (nearly always: a quick look rules it out).
pub(crate) fn hide_big_numbers(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if !might_hold_big_number(b) {
        return None;
    }
    let mut out = b.to_vec();
    let mut changed = false;
    scan_code(text, |i, _| {
        let c = b[i];
        // An identifier (digits inside it are not a number).
        if c.is_ascii_alphabetic() || c == b'_' {
            let mut i = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
            return i;
        }
        // A legacy index (`a.0`): digits after a dot.
        if c == b'.' {
            let mut i = i + 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            return i;
        }
        if !c.is_ascii_digit() {
            return i + 1;
        }
        let end = number_end(b, i);
        let literal = &text[i..end];
        if !hcl_edit_holds(literal) && end - i >= 3 {
            out[i] = b'0';
            out[i + 1] = b'.';
            for x in &mut out[i + 2..end] {
                *x = b'0';
            }
            changed = true;
        }
        end
    });
    // Only ASCII bytes were replaced by ASCII bytes.
    changed.then(|| String::from_utf8(out).unwrap_or_else(|_| text.to_string()))
}

/// Walks HCL text as its scanner splits it, calling `code(i, open)` at each
/// byte of code — outside strings, comments and heredocs, and not a
/// bracket or a quote (which this tracks) — with the number of brackets,
/// strings and interpolations open around it; `code` returns where to go
/// on. An interpolation (`${` or `%{`, but not `$${` or `%%{`) returns to
/// code until its `}`. A heredoc is skipped up to its closing marker's
/// newline, which `code` sees. Returns false, stopping, at a closing
/// bracket with none open.
fn scan_code(text: &str, mut code: impl FnMut(usize, usize) -> usize) -> bool {
    let b = text.as_bytes();
    // Open strings and brackets; an interpolation (`$`) returns to code.
    let mut stack: Vec<u8> = Vec::new();
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if in_str {
            match c {
                b'\\' => i += 1,
                // `$${` and `%%{` are literal text, not an interpolation.
                b'$' | b'%' if next == Some(c) => i += 1,
                b'"' => {
                    stack.pop();
                    in_str = stack.last() == Some(&b'"');
                }
                b'$' | b'%' if next == Some(b'{') => {
                    stack.push(b'$');
                    in_str = false;
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'#' => i = line_end(b, i),
            b'/' if next == Some(b'/') => i = line_end(b, i),
            b'/' if next == Some(b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |k| i + 2 + k + 2);
            }
            b'"' => {
                stack.push(b'"');
                in_str = true;
                i += 1;
            }
            b'{' | b'[' | b'(' => {
                stack.push(c);
                i += 1;
            }
            b'}' | b']' | b')' => {
                match stack.pop() {
                    Some(b'$') => in_str = true,
                    None => return false,
                    Some(_) => {}
                }
                i += 1;
            }
            b'<' if next == Some(b'<') => {
                i = heredoc_end(text, i);
                // A heredoc ends with its marker's line, newline included.
                if i > 0 && b[i - 1] == b'\n' {
                    i -= 1;
                }
            }
            _ => i = code(i, stack.len()).max(i + 1),
        }
    }
    true
}

/// Whether a number literal's source text is a placeholder
/// [`hide_big_numbers`] wrote (`0.` and zeros): then the original text is
/// at the same span of the original source.
pub(crate) fn is_placeholder(repr: &str) -> bool {
    repr.len() >= 3 && repr.starts_with("0.") && repr[2..].bytes().all(|c| c == b'0')
}

/// A run of 20 digits (an integer beyond `u64`) or an exponent of three
/// digits (beyond `f64`), anywhere: without one there is nothing to hide.
fn might_hold_big_number(b: &[u8]) -> bool {
    let mut run = 0;
    for (i, c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 20 {
                return true;
            }
        } else {
            if matches!(c, b'e' | b'E') && run > 0 {
                let rest = &b[i + 1..];
                let rest = rest
                    .strip_prefix(b"+")
                    .or(rest.strip_prefix(b"-"))
                    .unwrap_or(rest);
                if rest.iter().take_while(|d| d.is_ascii_digit()).count() >= 3 {
                    return true;
                }
            }
            run = 0;
        }
    }
    false
}

/// The end of the number literal starting at `i` (digits, an optional
/// fraction, an optional exponent), as HCL's scanner reads it.
fn number_end(b: &[u8], mut i: usize) -> usize {
    let digits = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        digits(&mut i);
    }
    if let Some(b'e' | b'E') = b.get(i) {
        let mut j = i + 1;
        if let Some(b'+' | b'-') = b.get(j) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            i = j;
            digits(&mut i);
        }
    }
    i
}

/// Whether hcl-edit's number parser accepts the literal: an integer that
/// fits a `u64`, or a float whose `f64` is finite.
fn hcl_edit_holds(literal: &str) -> bool {
    if literal.bytes().all(|c| c.is_ascii_digit()) {
        literal.parse::<u64>().is_ok()
    } else {
        literal.parse::<f64>().is_ok_and(f64::is_finite)
    }
}

/// Where `text` (a whole file's body) may be cut into pieces that parse on
/// their own: offsets just past a newline outside any bracket, string,
/// interpolation, comment or heredoc — between two top-level blocks or
/// attributes, as HCL ends a body item at such a newline — each handed to
/// `cut` as soon as it is found, in order. Each piece is at least `min_len`
/// bytes (the last may be shorter). Returns false when a closing bracket
/// has none open: no cut is judged after it, and the text from the last
/// cut on is for the caller to take as a whole. A mistake here cannot
/// change a configuration's meaning: a piece that does not parse sends
/// the caller back to parsing the whole text.
pub(crate) fn top_level_cuts(text: &str, min_len: usize, cut: &mut dyn FnMut(usize)) -> bool {
    let b = text.as_bytes();
    if b.len() < 2 * min_len {
        return true;
    }
    let mut last = 0;
    scan_code(text, |i, open| {
        let after = i + 1;
        if b[i] == b'\n' && open == 0 && after - last >= min_len && b.len() - after >= min_len {
            cut(after);
            last = after;
        }
        after
    })
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |k| i + k)
}

/// The end of a heredoc starting at `i` (`<<EOT` / `<<-EOT` … `EOT`), or
/// just past the `<<` when it is not one. Its body is kept as written.
fn heredoc_end(text: &str, i: usize) -> usize {
    let rest = &text[i + 2..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let marker: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let Some(eol) = text[i..].find('\n').map(|k| i + k) else {
        return text.len();
    };
    if marker.is_empty()
        || !text[i + 2..eol].trim_start_matches('-')[marker.len()..]
            .trim()
            .is_empty()
    {
        return i + 2;
    }
    let mut pos = eol + 1;
    for line in text[eol + 1..].split_inclusive('\n') {
        pos += line.len();
        if line.trim() == marker {
            return pos;
        }
    }
    text.len()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The cuts [`top_level_cuts`] hands out, and what it returns.
    pub(crate) fn cuts(text: &str, min_len: usize) -> (Vec<usize>, bool) {
        let mut cuts = Vec::new();
        let balanced = top_level_cuts(text, min_len, &mut |c| cuts.push(c));
        (cuts, balanced)
    }

    /// Cuts fall only between top-level items: never inside a block, a
    /// string or its interpolation, a comment or a heredoc.
    #[test]
    fn cuts_fall_between_top_level_items() {
        let text = "a {\n  x = 1\n}\nc = \"${ {\n} }\"\n/* {\n */\n# {\nd = <<EOT\n{\nEOT\ne = [\n1,\n]\nf {}\n";
        let (found, balanced) = cuts(text, 1);
        assert!(balanced);
        let at: Vec<&str> = found
            .iter()
            .map(|&c| &text[..c])
            .map(|s| s.rsplit('\n').nth(1).unwrap())
            .collect();
        // The line each cut follows.
        assert_eq!(at, ["}", "} }\"", " */", "# {", "EOT", "]"]);
        assert_eq!(cuts(text, 1000), (vec![], true));
        // A closing bracket with none open: no cut after it, and the rest
        // is the caller's to take whole.
        assert_eq!(cuts("a = 1\n}\n\n\n\n", 1), (vec![6], false));
    }

    #[test]
    fn big_literals_are_hidden_in_code_only() {
        let text = "a = 18446744073709551616\nb = \"18446744073709551616 ${1e400}\"\n# 1e400\nc = x.123456789012345678901\n";
        let hidden = hide_big_numbers(text).unwrap();
        assert_eq!(hidden.len(), text.len());
        assert_eq!(
            hidden,
            "a = 0.000000000000000000\nb = \"18446744073709551616 ${0.000}\"\n# 1e400\nc = x.123456789012345678901\n"
        );
        assert!(hide_big_numbers("a = 1e30\nb = 18446744073709551615\n").is_none());
        // `$${` is literal text: what follows is a string's, not code.
        assert_eq!(
            hide_big_numbers("a = 18446744073709551616\ne = \"$${18446744073709551616}\"\n")
                .unwrap(),
            "a = 0.000000000000000000\ne = \"$${18446744073709551616}\"\n"
        );
        assert!(is_placeholder("0.000") && !is_placeholder("0.001") && !is_placeholder("0"));
    }
}
