//! Synthetic configurations of null resources, in the shapes the benchmarks
//! and scale tests use.

use std::fmt::Write;

/// `n` independent resources.
pub fn wide(n: usize, delay: Option<&str>) -> String {
    let mut s = String::with_capacity(n * 96);
    for i in 0..n {
        let _ = writeln!(
            s,
            "resource \"null_resource\" \"r{i}\" {{\n  triggers = {{ v = \"1\" }}{}\n}}",
            delay_attr(delay)
        );
    }
    s
}

/// A chain of `n`: each resource refers to the previous one.
pub fn chain(n: usize, delay: Option<&str>) -> String {
    let mut s = String::with_capacity(n * 120);
    for i in 0..n {
        if i == 0 {
            let _ = writeln!(
                s,
                "resource \"null_resource\" \"r0\" {{\n  triggers = {{ v = \"1\" }}{}\n}}",
                delay_attr(delay)
            );
        } else {
            let _ = writeln!(
                s,
                "resource \"null_resource\" \"r{i}\" {{\n  triggers = {{ prev = null_resource.r{}.id }}{}\n}}",
                i - 1,
                delay_attr(delay)
            );
        }
    }
    s
}

/// A grid of `width` × `depth`: every resource of layer d refers to the
/// resource of the same column in layer d-1.
pub fn layered(width: usize, depth: usize, delay: Option<&str>) -> String {
    let mut s = String::with_capacity(width * depth * 120);
    for d in 0..depth {
        for w in 0..width {
            if d == 0 {
                let _ = writeln!(
                    s,
                    "resource \"null_resource\" \"l{d}_{w}\" {{\n  triggers = {{ v = \"1\" }}{}\n}}",
                    delay_attr(delay)
                );
            } else {
                let _ = writeln!(
                    s,
                    "resource \"null_resource\" \"l{d}_{w}\" {{\n  triggers = {{ up = null_resource.l{}_{w}.id }}{}\n}}",
                    d - 1,
                    delay_attr(delay)
                );
            }
        }
    }
    s
}

fn delay_attr(delay: Option<&str>) -> String {
    delay
        .map(|d| format!("\n  delay = \"{d}\""))
        .unwrap_or_default()
}
