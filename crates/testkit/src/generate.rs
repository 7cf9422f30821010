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

/// A root module calling a small module (two chained resources and an
/// output) once per key of a `for_each` of `n` keys: returns the root text
/// and the module's text (for `modules/small`).
pub fn module_heavy(n: usize) -> (String, String) {
    // The keys are written out: Terraform's range() stops at 1,024 elements.
    let keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\"")).collect();
    let root = format!(
        "module \"m\" {{\n  source   = \"./modules/small\"\n  for_each = toset([{}])\n  name     = each.key\n}}\n",
        keys.join(", ")
    );
    let module = "variable \"name\" {\n  type = string\n}\n\n\
        resource \"null_resource\" \"a\" {\n  triggers = { name = var.name }\n}\n\n\
        resource \"null_resource\" \"b\" {\n  triggers = { a = null_resource.a.id }\n}\n\n\
        output \"id\" {\n  value = null_resource.b.id\n}\n"
        .to_string();
    (root, module)
}

/// `n` independent `terraform_data` resources: the configuration kiln and
/// Terraform both run unchanged, for the side-by-side benchmark.
pub fn wide_terraform_data(n: usize) -> String {
    let mut s = String::with_capacity(n * 64);
    for i in 0..n {
        let _ = writeln!(
            s,
            "resource \"terraform_data\" \"r{i}\" {{\n  input = \"1\"\n}}"
        );
    }
    s
}
