//! Expression evaluation: `(expression, expected)` tables evaluated against
//! a small scope. Values render with their marks (`sensitive(..)`,
//! `unknown`); errors as `! SUMMARY-SUBSTRING @LINE:COL`.

mod common;

use common::{TestScope, check_all, show, show_diags};
use kiln_config::{eval, parse_expr};

fn run(input: &str) -> String {
    let expr = match parse_expr("test.hcl", input) {
        Ok(e) => e,
        Err(d) => return show_diags(&d),
    };
    match eval(&expr, &TestScope::new()) {
        Ok(v) => show(&v),
        Err(d) => show_diags(&d),
    }
}

fn check(cases: &[(&str, &str)]) {
    check_all(cases, run);
}

#[test]
fn literals_and_collections() {
    check(&[
        ("null", "null"),
        ("true", "true"),
        ("42", "42"),
        ("1.5", "1.5"),
        ("1e3", "1000"),
        (r#""hi""#, r#""hi""#),
        (r#""a\nb\"c""#, r#""a\nb\"c""#),
        ("[1, \"a\", true]", r#"[1, "a", true]"#),
        ("[]", "[]"),
        ("{a = 1, \"b\" = 2}", "{a = 1, b = 2}"),
        ("{(var.name) = 1}", "{web = 1}"),
        ("{(var.unk) = 1}", "unknown"),
        ("{a = var.unk}", "{a = unknown}"),
        ("(1)", "1"),
    ]);
}

#[test]
fn operators_and_precedence() {
    check(&[
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 - 4 - 3", "3"),
        ("7 / 2", "3.5"),
        ("7 % 3", "1"),
        ("-3 + 1", "-2"),
        ("1 + 2 == 3", "true"),
        ("1 < 2 && 2 < 1", "false"),
        ("true || false && false", "true"),
        ("!true || true", "true"),
        ("!(true || true)", "false"),
        ("2 >= 2", "true"),
        ("2 > 2", "false"),
        ("1 <= 0", "false"),
        ("\"1\" + 1", "2"),
        ("1 == \"1\"", "false"),
        ("[1, 2] == [1, 2]", "true"),
        ("{a = 1} != {a = 1}", "false"),
        ("null == null", "true"),
        ("var.flag ? \"y\" : \"n\"", r#""y""#),
        ("1 > 2 ? 1 : 2", "2"),
        ("false && var.nul.x", "false"),
        ("var.nul != null && var.nul.x", "false"),
        ("true || var.nul.x", "true"),
        ("1 / 0", "! division by zero @1:1"),
        (
            "1 + \"x\"",
            "! right operand of \"+\" must be a number, got string \"x\" @1:5",
        ),
        (
            "true + 1",
            "! left operand of \"+\" must be a number, got bool @1:1",
        ),
        ("!1", "! operand of \"!\" must be a bool, got number @1:2"),
        ("1 ? 2 : 3", "! condition must be a bool, got number @1:1"),
        ("null ? 2 : 3", "! condition must be a bool, got null @1:1"),
    ]);
}

#[test]
fn templates() {
    check(&[
        (r#""hello ${var.name}!""#, r#""hello web!""#),
        (r#""${var.n}""#, "3"),
        (r#""n=${var.n} ${true}""#, r#""n=3 true""#),
        (r#""$${not} %%{this}""#, r#""${not} %{this}""#),
        (r#""${var.list}""#, r#"["a", "b", "c"]"#),
        (
            r#""x${var.list}""#,
            "! cannot include a list in a string template @1:5",
        ),
        (r#""x${var.nul}""#, "! cannot include a null value @1:5"),
        (r#""%{if var.flag}yes%{else}no%{endif}""#, r#""yes""#),
        (r#""%{if !var.flag}yes%{endif}""#, r#""""#),
        (r#""%{for x in var.list}${x},%{endfor}""#, r#""a,b,c,""#),
        (
            r#""%{for i, x in var.list}${i}=${x} %{endfor}""#,
            r#""0=a 1=b 2=c ""#,
        ),
        (r#""a ${~ "b" ~} c""#, r#""abc""#),
        ("<<EOT\nhello ${var.name}\nEOT\n", "\"hello web\\n\""),
        (
            "<<-EOT\n    indented\n      more\n    EOT\n",
            "\"indented\\n  more\\n\"",
        ),
        (r#""x${var.unk}""#, "unknown"),
        (r#""x${var.secret}""#, r#"sensitive("xhunter2")"#),
        (r#""%{if var.unk}a%{endif}""#, "unknown"),
    ]);
}

#[test]
fn references_to_the_scope() {
    check(&[
        ("var.name", r#""web""#),
        ("local.greeting", r#""hello""#),
        ("null_resource.a.id", r#""a-1""#),
        ("null_resource.a.triggers.k", r#""v""#),
        ("null_resource.a.triggers[\"k\"]", r#""v""#),
        ("null_resource.a[\"id\"]", r#""a-1""#),
        ("null_resource.pending.id", "unknown"),
        ("null_resource.many[1].id", r#""m1""#),
        ("null_resource.many[*].id", r#"["m0", "m1"]"#),
        ("null_resource.many.*.id", r#"["m0", "m1"]"#),
        ("null_resource.a[*].id", r#"["a-1"]"#),
        ("var.nul[*]", "[]"),
        ("data.null_data_source.d.out", r#""d""#),
        ("var.list[0]", r#""a""#),
        ("var.list.1", r#""b""#),
        ("var.list[\"2\"]", r#""c""#),
        ("var.m.a", "1"),
        ("var.objs[*].id", r#"["x", "y"]"#),
        ("var.list[var.unk]", "unknown"),
        ("var.unk.foo[3]", "unknown"),
        ("count.index", "1"),
        ("each.key", r#""k""#),
        ("each.value", r#""v""#),
        ("path.module", r#""/module""#),
        ("kiln.env", r#""staging""#),
        ("terraform.workspace", r#""staging""#),
        ("var.secret", r#"sensitive("hunter2")"#),
        ("var.secret_list[1]", r#"sensitive("b")"#),
        ("var.secret_list[0]", r#""a""#),
        // Errors, located at the reference.
        (
            "var.nmae",
            "! reference to undeclared input variable \"nmae\"; did you mean \"name\"? @1:1",
        ),
        (
            "local.nope",
            "! reference to undeclared local value \"nope\" @1:1",
        ),
        (
            "null_resource.x",
            "! reference to undeclared resource \"null_resource.x\"; did you mean \"null_resource.a\"? @1:1",
        ),
        (
            "data.null_data_source.e.out",
            "! reference to undeclared data source \"data.null_data_source.e\" @1:1",
        ),
        (
            "1 + null_resource.a.nope",
            "! unsupported attribute \"nope\" @1:20",
        ),
        (
            "null_resource.a.trigers",
            "! unsupported attribute \"trigers\"; did you mean \"triggers\"? @1:16",
        ),
        (
            "var.list[3]",
            "! index 3 out of range for a list of 3 elements @1:10",
        ),
        ("var.list[-1]", "! index -1 out of range @1:10"),
        (
            "var.list[\"x\"]",
            "! a list index must be a number, got string \"x\" @1:10",
        ),
        ("var.m[\"c\"]", "! no element with key \"c\" @1:7"),
        ("var.list.x", "! cannot get attribute \"x\" of a list @1:9"),
        (
            "var.nul.x",
            "! cannot get attribute \"x\" of a null value @1:8",
        ),
        ("var.n[0]", "! cannot index a number @1:7"),
        ("var", "! \"var\" must be followed by a name @1:1"),
        ("foo", "! unknown name \"foo\" @1:1"),
        (
            "count.foo",
            "! the only attribute of \"count\" is count.index @1:1",
        ),
        ("each.x", "! each.key and each.value @1:1"),
        ("path.x", "! path.module, path.root and path.cwd @1:1"),
        (
            "module.m.out",
            "! reference to undeclared module \"m\" @1:1",
        ),
        (
            "[1, var.x, var.y]",
            "! undeclared input variable \"x\" @1:5\n! undeclared input variable \"y\" @1:12",
        ),
    ]);
}

#[test]
fn for_expressions() {
    check(&[
        ("[for x in var.list : upper(x)]", r#"["A", "B", "C"]"#),
        ("[for i, x in var.list : i]", "[0, 1, 2]"),
        ("[for x in var.nums : x if x > 1]", "[3, 2]"),
        ("{for k, v in var.m : k => v * 10}", "{a = 10, b = 20}"),
        (
            "{for x in var.list : x => x}",
            r#"{a = "a", b = "b", c = "c"}"#,
        ),
        (
            "{for x in [\"a\", \"b\", \"a\"] : x => 1...}",
            "{a = [1, 1], b = [1]}",
        ),
        ("[for x in var.unk : x]", "unknown"),
        ("[for x in var.mixed : x]", r#"["a", unknown]"#),
        ("[for x in var.list : x if var.unk]", "unknown"),
        ("[for x in var.secret_list : x]", r#"["a", sensitive("b")]"#),
        (
            "[for x in [[1, 2], [3]] : [for y in x : y * 2]]",
            "[[2, 4], [6]]",
        ),
        (
            "{for x in [\"a\", \"a\"] : x => 1}",
            "! duplicate key \"a\" in for expression @1:24",
        ),
        (
            "[for x in 3 : x]",
            "! iterates over a list or a map, not a number @1:11",
        ),
        ("[for x in var.list : y]", "! unknown name \"y\" @1:22"),
    ]);
}

#[test]
fn unknown_and_sensitive_propagate() {
    check(&[
        ("var.unk + 1", "unknown"),
        ("-var.unk", "unknown"),
        ("!var.unk", "unknown"),
        ("var.unk == 1", "unknown"),
        ("var.mixed == [\"a\", \"b\"]", "unknown"),
        ("var.unk ? 1 : 2", "unknown"),
        ("var.unk && false", "false"),
        ("var.unk && true", "unknown"),
        ("upper(var.unk)", "unknown"),
        ("length(var.mixed)", "2"),
        ("join(\",\", var.mixed)", "unknown"),
        ("var.secret == \"x\"", "sensitive(false)"),
        ("upper(var.secret)", r#"sensitive("HUNTER2")"#),
        ("length(var.secret)", "sensitive(7)"),
        ("var.flag ? var.secret : \"x\"", r#"sensitive("hunter2")"#),
        ("sensitive(1) + 1", "sensitive(2)"),
        (
            "jsonencode(var.secret_list)",
            r#"sensitive("[\"a\",\"b\"]")"#,
        ),
        (
            "concat(var.secret_list, [\"c\"])",
            r#"["a", sensitive("b"), "c"]"#,
        ),
        ("nonsensitive(var.secret)", r#""hunter2""#),
        ("sensitive(var.unk)", "sensitive(unknown)"),
        ("{a = var.secret}.a", r#"sensitive("hunter2")"#),
    ]);
}

#[test]
fn functions() {
    check(&[
        ("length(\"héllo\")", "5"),
        ("length([1, 2])", "2"),
        ("length({a = 1})", "1"),
        ("lower(\"AbC\")", r#""abc""#),
        ("upper(\"abc\")", r#""ABC""#),
        ("join(\"-\", [\"a\", \"b\", 1])", r#""a-b-1""#),
        ("split(\",\", \"a,b,,c\")", r#"["a", "b", "", "c"]"#),
        ("concat([1], [2, 3], [])", "[1, 2, 3]"),
        ("merge({a = 1, b = 1}, {b = 2}, null)", "{a = 1, b = 2}"),
        ("keys({b = 1, a = 2})", r#"["a", "b"]"#),
        ("values({b = 1, a = 2})", "[2, 1]"),
        ("lookup({a = 1}, \"a\")", "1"),
        ("lookup({a = 1}, \"b\", 0)", "0"),
        ("contains([1, 2], 2)", "true"),
        ("contains([\"a\"], \"b\")", "false"),
        ("element([\"a\", \"b\"], 3)", r#""b""#),
        (
            "format(\"%s-%d-%v-%.2f-%q-%%\", \"a\", 2, true, 1.5, \"q\")",
            r#""a-2-true-1.50-\"q\"-%""#,
        ),
        ("format(\"%v\", [1])", r#""[1]""#),
        ("replace(\"a.b.c\", \".\", \"-\")", r#""a-b-c""#),
        ("trimspace(\"  x \\n\")", r#""x""#),
        ("tostring(1)", r#""1""#),
        ("tostring(true)", r#""true""#),
        ("tonumber(\"12.5\")", "12.5"),
        ("tobool(\"true\")", "true"),
        ("tolist([\"b\", \"a\"])", r#"["b", "a"]"#),
        ("tomap({a = 1})", "{a = 1}"),
        ("toset([\"b\", \"a\", \"b\"])", r#"["a", "b"]"#),
        ("coalesce(null, \"\", \"x\", \"y\")", r#""x""#),
        (
            "jsonencode({a = [1, \"<b>\"], n = null})",
            r#""{\"a\":[1,\"\\u003cb\\u003e\"],\"n\":null}""#,
        ),
        ("jsondecode(\"{\\\"a\\\": [1, true]}\")", "{a = [1, true]}"),
        ("min(3, 1, 2)", "1"),
        ("max(3, 1, 2)", "3"),
        ("max(var.nums...)", "3"),
        ("abs(-4)", "4"),
        ("range(3)", "[0, 1, 2]"),
        ("range(1, 4)", "[1, 2, 3]"),
        ("range(5, 0, -2)", "[5, 3, 1]"),
        ("flatten([[1, [2]], [], 3])", "[1, 2, 3]"),
        ("distinct([1, 2, 1, 3])", "[1, 2, 3]"),
        ("sensitive(\"x\")", r#"sensitive("x")"#),
        (
            "try(var.nope, null_resource.a.nope, \"fallback\")",
            r#""fallback""#,
        ),
        ("try(var.unk.x, 1)", "unknown"),
        ("can(var.list[5])", "false"),
        ("can(var.list[1])", "true"),
        ("can(var.unk)", "unknown"),
        // Errors.
        ("lenght([])", "! call to unknown function \"lenght\" @1:1"),
        (
            "length(1, 2)",
            "! function \"length\" takes 1 argument (value), got 2 @1:1",
        ),
        (
            "lookup({})",
            "! function \"lookup\" takes 2 to 3 arguments @1:1",
        ),
        (
            "length(1)",
            "! length(): expected a string, list or map, got number @1:8",
        ),
        (
            "join(\",\", [[1]])",
            "! join(): element 0: expected a string, got list @1:11",
        ),
        (
            "tonumber(\"x\")",
            "! tonumber(): cannot convert to number: got string \"x\" @1:10",
        ),
        ("lookup({a = 1}, \"b\")", "! no key \"b\" in the map @1:17"),
        (
            "element([], 0)",
            "! cannot use element() with an empty list @1:9",
        ),
        ("format(\"%s %s\", 1)", "! not enough arguments @1:8"),
        ("format(\"%s\", 1, 2)", "! too many arguments @1:17"),
        ("jsondecode(\"{\")", "! invalid JSON @1:12"),
        ("range(1, 2, 0)", "! the step must not be zero @1:13"),
        (
            "coalesce(null, \"\")",
            "! no non-null, non-empty-string arguments @1:1",
        ),
        (
            "try(var.x, var.y)",
            "! no expression given to try() succeeded @1:1",
        ),
        (
            "concat([1], 2)",
            "! concat(): expected a list, got number @1:13",
        ),
    ]);
}

#[test]
fn references_are_listed() {
    let cases: &[(&str, &str)] = &[
        ("1", ""),
        ("var.a", "Variable(\"a\")@1:1"),
        (
            "\"${local.b} ${null_resource.x.id}\"",
            "Local(\"b\")@1:4 Resource(null_resource.x)@1:15",
        ),
        ("data.t.n.attr[0]", "Resource(data.t.n)@1:1"),
        (
            "[for x in var.l : x + count.index if each.key != x]",
            "Variable(\"l\")@1:11 CountIndex@1:23 EachKey@1:38",
        ),
        (
            "upper(path.module) == kiln.env",
            "Path(\"module\")@1:7 Env@1:23",
        ),
        (
            "{(var.k) = aws_instance.web[0].id}",
            "Variable(\"k\")@1:3 Resource(aws_instance.web)@1:12",
        ),
        (
            "\"%{for v in var.vs}${v}${var.w}%{endfor}\"",
            "Variable(\"vs\")@1:13 Variable(\"w\")@1:26",
        ),
        ("var.a[local.i]", "Variable(\"a\")@1:1 Local(\"i\")@1:7"),
        ("module.m.x", "Module(\"m\")@1:1"),
    ];
    check_all(cases, |input| {
        let expr = parse_expr("t.hcl", input).unwrap();
        expr.references()
            .iter()
            .map(|r| {
                let s = r.loc.span();
                let subject = match &r.subject {
                    kiln_config::Subject::Resource(a) => format!("Resource({a})"),
                    other => format!("{other:?}"),
                };
                format!("{subject}@{}:{}", s.start.line, s.start.col)
            })
            .collect::<Vec<_>>()
            .join(" ")
    });
}
