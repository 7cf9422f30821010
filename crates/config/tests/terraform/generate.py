#!/usr/bin/env python3
"""Generates cases.txt, the differential corpus: one HCL expression per case.

Ids are positions (c0001 ...): after adding cases, run this, then
record.py, then `KILN_CORPUS_GAPS=write cargo test -p kiln-config --test
terraform` to list what kiln does not match yet in gaps.txt.
"""
import os
cases = []
def add(cat, *exprs):
    for e in exprs:
        cases.append((cat, e))

# numbers
add("number",
 "1 + 2", "0.1 + 0.2", "0.1 + 0.2 == 0.3", "1 / 3", "10 / 4", "7 % 3", "-7 % 3", "7 % -3", "2 * 3.5",
 "9007199254740993", "18446744073709551616", "1e21", "1e20", "1.5e300 * 1e10", "1e-7", "0.000001",
 "123456789012345678", "-0", "3 - 5", "100 / 3 * 3", "floor(7.9)", "ceil(7.1)", "floor(-7.5)", "ceil(-7.5)",
 "abs(-3.5)", "max(1, 5, 3)", "min(1, 5, -3)", "pow(2, 10)", "pow(2, 0.5)", "log(100, 10)", "log(8, 2)",
 "signum(-4)", "signum(0)", "signum(7)", "parseint(\"ff\", 16)", "parseint(\"-101\", 2)", "parseint(\"zz\", 36)",
 "1 < 2", "2 <= 2", "3 > 4", "\"a\" == \"a\"", "1 == 1.0", "5 / 0", "-5 / 0", "0 / 0", "1.25 * 4",
 "tonumber(\"0x10\")", "tonumber(\"1e3\")", "tonumber(\"12.50\")", "tonumber(\" 12\")", "tostring(1.50)",
 "tostring(100000000000000000000)", "tostring(0.1 + 0.2)", "tostring(1/3)", "2 + \"3\"", "\"2\" * \"3\"",
 "-(-3)", "!true", "true && false", "true || false", "max()", "min([1,2]...)", "max(-1.5, -2.5)",
 "floor(1e21)", "pow(10, 20)", "pow(10, 21)", "sum([1, 2, 3.5])", "sum([])", "sum([0.1, 0.2])",
)
# strings
add("string",
 "upper(\"hello\")", "lower(\"HeLLo\")", "upper(\"ß\")", "title(\"hello world\")", "title(\"hELLO\")",
 "length(\"hello\")", "length(\"héllo\")", "length(\"👍🏽\")", "length(\"e\\u0301\")",
 "substr(\"hello world\", 1, 4)", "substr(\"hello\", -3, -1)", "substr(\"hello\", 0, 10)", "substr(\"héllo\", 1, 2)",
 "replace(\"a-b-c\", \"-\", \"_\")", "replace(\"hello\", \"/l+/\", \"L\")", "replace(\"abc\", \"\", \"-\")",
 "replace(\"aaa\", \"a\", \"aa\")", "split(\",\", \"a,b,,c\")", "split(\",\", \"\")", "join(\"-\", [\"a\", \"b\"])",
 "join(\"\", [])", "trimspace(\"  x \\n\")", "trim(\"?!hello?!\", \"!?\")", "trimprefix(\"helloworld\", \"hello\")",
 "trimsuffix(\"helloworld\", \"world\")", "chomp(\"hello\\n\\n\")", "chomp(\"hello\\r\\n\")", "indent(2, \"a\\nb\\nc\")",
 "strrev(\"hello\")", "strrev(\"héllo\")", "startswith(\"hello\", \"he\")", "endswith(\"hello\", \"lo\")",
 "strcontains(\"hello\", \"ell\")", "regex(\"[a-z]+\", \"123abc456\")", "regex(\"(\\\\d+)-(\\\\d+)\", \"10-20\")",
 "regex(\"(?P<a>\\\\d+)\", \"x42\")", "regexall(\"\\\\d\", \"a1b2c3\")", "regexall(\"z\", \"abc\")",
 "regex(\"z\", \"abc\")", "format(\"%d items\", 3)", "format(\"%s-%s\", \"a\", \"b\")", "format(\"%.2f\", 2.345)",
 "format(\"%.2f\", 2.355)", "format(\"%5d|\", 42)", "format(\"%-5d|\", 42)", "format(\"%05d\", 42)", "format(\"%+d\", 5)",
 "format(\"%x\", 255)", "format(\"%X\", 255)", "format(\"%o\", 8)", "format(\"%b\", 5)", "format(\"%e\", 1234.5)",
 "format(\"%E\", 1234.5)", "format(\"%g\", 1234.5)", "format(\"%G\", 0.00001234)", "format(\"%.3s\", \"abcdef\")",
 "format(\"%10s|\", \"hi\")", "format(\"%-10s|\", \"hi\")", "format(\"%q\", \"hi\")", "format(\"%v\", true)",
 "format(\"%#v\", \"hi\")", "format(\"%#v\", [1, 2])", "format(\"%[2]s %[1]s\", \"a\", \"b\")", "format(\"%%\")",
 "format(\"%d\", 1.5)", "format(\"%s\", 1.5)", "format(\"%t\", true)", "format(\"%v\", {a = 1})", "format(\"%d\")",
 "formatlist(\"%s=%d\", [\"a\", \"b\"], [1, 2])", "formatlist(\"x%s\", \"a\")", "formatlist(\"%s-%s\", [\"a\"], \"b\")",
 "\"a\" == \"A\"", "\"${1 + 1}\"", "\"x${true}y\"", "\"%{if true}yes%{else}no%{endif}\"",
 "\"%{for x in [1, 2, 3]}${x},%{endfor}\"", "\"%{for i, x in [\\\"a\\\", \\\"b\\\"]}${i}=${x} %{endfor}\"",
 "\"a ~ b\"", "\"%{ if true ~}  yes  %{~ endif }\"", "\"$${x}\"", "\"%%{x}\"", "\"\\u00e9\"", "\"tab\\there\"",
 "\"quote\\\"d\"", "\"%{for k, v in {b = 2, a = 1}}${k}${v}%{endfor}\"",
)
# collections
add("collection",
 "length([1, 2, 3])", "length({a = 1, b = 2})", "length([])", "concat([1], [2, 3], [])", "concat()",
 "contains([\"a\", \"b\"], \"b\")", "contains([1, 2], \"1\")", "distinct([1, 2, 1, 3, 2])", "distinct([\"b\", \"a\", \"b\"])",
 "element([\"a\", \"b\", \"c\"], 1)", "element([\"a\", \"b\", \"c\"], 4)", "element([], 0)", "index([\"a\", \"b\"], \"b\")",
 "index([\"a\"], \"z\")", "flatten([[1, [2]], [], [3]])", "flatten([])", "keys({b = 1, a = 2})", "values({b = 1, a = 2})",
 "lookup({a = 1}, \"a\", 0)", "lookup({a = 1}, \"b\", 0)", "lookup({a = 1}, \"b\")", "merge({a = 1}, {b = 2}, {a = 3})",
 "merge({a = 1}, {a = \"x\"})", "merge()", "reverse([1, 2, 3])", "slice([1, 2, 3, 4], 1, 3)", "slice([1, 2], 0, 5)",
 "sort([\"b\", \"a\", \"c\"])", "sort([10, 9, 100])", "sort([\"10\", \"9\", \"100\"])", "range(3)", "range(1, 4)",
 "range(0, 10, 3)", "range(5, 0, -2)", "range(1, 2, 0)", "range(-1)", "zipmap([\"a\", \"b\"], [1, 2])",
 "zipmap([\"a\"], [1, 2])", "chunklist([1, 2, 3, 4, 5], 2)", "chunklist([], 2)", "coalesce(\"\", \"a\", \"b\")",
 "coalesce(null, 2)", "coalesce(1, \"a\")", "coalescelist([], [1, 2])", "compact([\"a\", \"\", \"b\", null])",
 "setproduct([\"a\", \"b\"], [1, 2])", "setunion([1, 2], [2, 3])", "setintersection([1, 2, 3], [2, 3, 4])",
 "setsubtract([1, 2, 3], [2])", "transpose({a = [\"1\", \"2\"], b = [\"2\"]})", "one([])", "one([5])", "one([1, 2])",
 "alltrue([true, true])", "alltrue([])", "anytrue([false, true])", "anytrue([])", "sum([1, 2])",
 "matchkeys([\"a\", \"b\", \"c\"], [1, 2, 3], [2])", "tolist(toset([3, 1, 2]))", "toset([\"b\", \"a\", \"b\"])",
 "[for x in [1, 2, 3] : x * 2]", "[for x in [1, 2, 3] : x if x > 1]", "{for k, v in {a = 1, b = 2} : v => k}",
 "{for x in [\"a\", \"b\", \"a\"] : x => x...}", "{for x in [\"a\", \"a\"] : x => x}", "[for k, v in {b = 1, a = 2} : \"${k}${v}\"]",
 "[for i, x in [\"a\", \"b\"] : i]", "[for x in toset([\"b\", \"a\"]) : x]", "[for k, v in toset([\"b\", \"a\"]) : \"${k}${v}\"]",
 "[1, 2, 3][1]", "[1, 2, 3][5]", "{a = 1}[\"a\"]", "{a = 1}.a", "{a = {b = [1, 2]}}.a.b[1]", "[[1, 2], [3]][*][0]",
 "[{a = 1}, {a = 2}][*].a", "[{a = 1}, {a = 2}].*.a", "null[*]", "\"x\"[*]", "length(null)",
 "tomap({a = 1, b = \"x\"})", "tolist([1, \"a\"])", "tolist([[1], \"a\"])", "toset([1, \"1\"])",
 "tolist([1]) == [1]", "[1] == [1]", "{a = 1} == {a = 1}", "tomap({a = 1}) == {a = 1}", "toset([1]) == toset([1])",
 "length(toset([1, 1, 2]))", "flatten([toset([1]), [2]])", "keys({})", "reverse([])", "sort([])",
 "slice([1, 2, 3], 2, 1)", "lookup({}, \"a\", \"default\")", "contains([], 1)",
)
# type conversion / conditionals
add("convert",
 "true ? 1 : \"a\"", "false ? 1 : \"a\"", "true ? [1] : []", "true ? {a = 1} : {b = \"x\"}", "true ? null : 1",
 "false ? null : 1", "tostring(true)", "tostring(null)", "tonumber(\"abc\")", "tonumber(true)", "tobool(\"true\")",
 "tobool(\"yes\")", "tobool(1)", "tostring([1])", "tomap([1])", "tolist({a = 1})", "tolist(\"a\")",
 "can(tonumber(\"x\"))", "can(tonumber(\"1\"))", "try(tonumber(\"x\"), 7)", "try(1, 2)", "try(tonumber(\"x\"))",
 "type(1)", "1 == \"1\"", "true == \"true\"", "null == null", "[] == []", "{} == {}", "[] == {}",
 "tolist([]) == []", "tomap({}) == {}", "\"1\" + 1", "true + 1", "[1] + [2]", "!\"true\"", "!1",
 "true ? 1 : null", "(1 > 0) ? \"pos\" : \"neg\"", "coalesce(true, \"x\")", "concat([1], [\"a\"])",
 "merge({a = [1]}, {b = \"x\"})", "[for x in [1, \"a\", true] : x]", "tolist([1, true])", "tolist([null, 1])",
 "toset([null])", "jsonencode(tolist([1, \"a\"]))", "jsonencode(true ? 1 : \"a\")",
)
# encoding
add("encoding",
 "jsonencode({b = 1, a = [true, null, \"x\"]})", "jsonencode(\"\\u2028\")", "jsonencode(\"<>&\")", "jsonencode(1.5)",
 "jsonencode(100000000000000000000)", "jsonencode(0.1 + 0.2)", "jsondecode(\"{\\\"a\\\": [1, 2.5, null]}\")",
 "jsondecode(\"1e3\")", "jsondecode(\"[\")", "jsondecode(\"\\\"x\\\"\")", "base64encode(\"hello\")", "base64decode(\"aGVsbG8=\")",
 "base64decode(\"!!!\")", "base64gzip(\"hello\")", "textencodebase64(\"hi\", \"UTF-16LE\")", "textdecodebase64(\"aABpAA==\", \"UTF-16LE\")",
 "urlencode(\"a b&c=d/é\")", "csvdecode(\"a,b\\n1,2\\n3,4\")", "csvdecode(\"a,b\\n1\")", "yamlencode({a = 1, b = [\"x\", \"y\"]})",
 "yamlencode(\"multi\\nline\")", "yamlencode({s = \"yes\"})", "yamldecode(\"a: 1\\nb: [x, y]\")", "yamldecode(\"b: yes\")",
 "yamldecode(\"b: on\")", "yamldecode(\"x: 010\")", "yamldecode(\"x: 1.0\")", "yamldecode(\"x: ~\")", "yamldecode(\"- a\\n- b\")",
 "md5(\"hello\")", "sha1(\"hello\")", "sha256(\"hello\")", "sha512(\"hello\")", "base64sha256(\"hello\")",
 "base64sha512(\"hello\")", "uuidv5(\"dns\", \"example.com\")", "uuidv5(\"url\", \"https://example.com\")",
 "filebase64sha256", "bcrypt", "jsonencode({})", "jsonencode([])", "jsonencode(null)", "jsonencode(\"é\")",
 "jsonencode(tomap({a = 1}))", "jsonencode(toset([\"b\", \"a\"]))", "yamlencode([])", "yamlencode(null)",
 "yamlencode(1.5)", "yamlencode(true)", "yamlencode({})", "csvdecode(\"\")",
)
# network / misc
add("misc",
 "cidrhost(\"10.0.0.0/16\", 5)", "cidrhost(\"10.0.0.0/24\", -1)", "cidrhost(\"10.0.0.0/30\", 10)", "cidrnetmask(\"10.0.0.0/12\")",
 "cidrsubnet(\"10.0.0.0/16\", 8, 2)", "cidrsubnet(\"10.0.0.0/16\", 8, 256)", "cidrsubnets(\"10.0.0.0/16\", 4, 4, 8)",
 "cidrsubnet(\"fd00::/56\", 8, 1)", "cidrhost(\"fd00::/64\", 1)", "formatdate(\"YYYY-MM-DD\", \"2024-01-02T03:04:05Z\")",
 "formatdate(\"DD MMM YYYY hh:mm ZZZ\", \"2024-01-02T03:04:05Z\")", "formatdate(\"EEEE, h:mmaa\", \"2024-01-02T15:04:05Z\")",
 "timeadd(\"2024-01-01T00:00:00Z\", \"36h\")", "timeadd(\"2024-01-01T00:00:00Z\", \"-1m30s\")", "timecmp(\"2024-01-01T00:00:00Z\", \"2024-01-02T00:00:00Z\")",
 "timecmp(\"2024-01-01T00:00:00Z\", \"2024-01-01T01:00:00+01:00\")", "abspath(\".\") == abspath(\".\")", "dirname(\"a/b/c.txt\")",
 "basename(\"a/b/c.txt\")", "pathexpand(\"a/b\")", "path.module", "path.root", "terraform.workspace", "sensitive(1) == 1",
 "nonsensitive(sensitive(\"x\"))", "issensitive(sensitive(1))", "issensitive(1)", "startswith(\"\", \"\")",
 "templatestring(\"x=${x}\", {x = 1})", "startswith(\"a\", \"\")", "can(regex(\"[\", \"x\"))", "length(regexall(\"a\", \"aaa\"))",
 "replace(\"hello\", \"/(l+)/\", \"<$1>\")", "replace(\"hello\", \"/(?P<x>l+)/\", \"[$${x}]\")", "regex(\"^(a)(b)?$\", \"a\")",
 "sum([1]) + length([1])", "lookup({a = {b = 1}}, \"a\").b", "element(tolist(toset([\"c\", \"a\", \"b\"])), 0)",
 "index(tolist(toset([\"c\", \"a\"])), \"c\")", "reverse(sort([\"b\", \"a\"]))", "jsonencode(range(3))",
 "format(\"%s\", [1])", "format(\"%d\", \"12\")", "format(\"%s\", null)", "format(\"%v\", null)",
 "upper(null)", "length(\"\")", "split(\"\", \"abc\")", "join(\",\", [1, 2])", "join(\",\", [true])",
 "element([\"a\", \"b\"], -1)", "substr(\"abc\", 5, 1)", "chunklist([1], 0)", "coalesce()", "coalescelist()",
)
# heredocs (single-line expressions can't hold heredocs; use escapes)
add("template",
 "\"line1\\nline2\"", "\"a%{if false}b%{endif}c\"", "\"%{for x in []}${x}%{endfor}end\"", "\"${\"nested ${1 + 2}\"}\"",
 "\"%{if 1 == 1}one%{endif}\"", "\"%{if \\\"a\\\" != \\\"b\\\"}diff%{endif}\"", "\"${[1, 2][0]}\"", "\"${tostring(1.0)}\"",
 "\"${1.0}\"", "\"${1.50}\"", "\"${100000000000000000000}\"", "\"${0.1 + 0.2}\"", "\"${1/3}\"", "\"${true}\"",
 "\"${null}\"", "\"${[1]}\"", "\"%{for x in [1, 2] ~}\\n  ${x}\\n%{~ endfor}\"", "\"a\\n  %{~ if true }b%{ endif ~}  \\nc\"",
)
# format verbs in depth (appended: earlier ids stay)
add("format",
 "format(\"%g\", 1234567)", "format(\"%g\", 1e20)", "format(\"%g\", 0.0001)", "format(\"%.3g\", 1234.5)",
 "format(\"%.3g\", 0.000012345)", "format(\"%e\", 0)", "format(\"%.0f\", 0.5)", "format(\"%.0f\", 1.5)",
 "format(\"%.1f\", 0.25)", "format(\"%x\", -255)", "format(\"%5.1f|\", 3.14159)", "format(\"%-8.2e|\", 12345.678)",
 "format(\"%+.2f\", 1)", "format(\"%08.3f\", -3.5)", "format(\"% d\", 5)", "format(\"%.2f\", 1e21)",
 "format(\"%f\", 1/3)", "format(\"%.10f\", 0.1)", "format(\"%d\", 1e15)", "format(\"%b\", 0)",
 "format(\"%o\", 64)", "format(\"%X\", 3735928559)", "format(\"%5s|%-5s|\", \"ab\", \"cd\")", "format(\"%.0s|\", \"abc\")",
 "format(\"%q\", \"a\\nb\")", "format(\"%#v\", {b = 2, a = \"x\"})", "format(\"%v\", [1, \"a\"])", "format(\"%#v\", 1.5)",
 "format(\"%[1]s%[1]s\", \"ab\")", "format(\"%[3]s\", \"a\", \"b\", \"c\")", "format(\"%[2]d %d\", 1, 2, 3)",
 "format(\"%s %s\", \"a\")", "format(\"%s\", \"a\", \"b\")", "format(\"%z\", 1)", "format(\"%\")",
 "format(\"%5t|\", true)", "format(\"%.2e\", 9.999)", "format(\"%.1e\", 0.05)", "format(\"%g\", 100000)", "format(\"%g\", 1000000)",
 "formatlist(\"%02d\", [1, 10])", "formatlist(\"%s\", [])", "formatlist(\"%s=%s\", [\"a\"], [\"b\", \"c\"])",
)
# type unification (appended)
add("unify",
 "true ? 1 : true", "false ? \"a\" : 2", "true ? \"a\" : false", "tolist([true, \"x\"])", "tomap({a = true, b = 1})",
 "toset([1, 1, \"1\"])", "tolist([null, \"a\", 1])", "[for x in tolist([1, \"b\"]) : x]", "true ? null : \"s\"",
 "length(toset([\"a\", 1, true]))",
)
# characters and YAML documents (appended)
add("unicode",
 "substr(\"e\\u0301xyz\", 0, 2)", "strrev(\"e\\u0301x\")", "length(\"👩‍👩‍👧\")", "length(\"👾🕹️\")",
 "yamlencode(\"hi\")", "yamlencode(\"\")", "yamlencode(1)", "upper(\"ǆ\")", "lower(\"İ\")", "title(\"élan vital\")",
)
# networks (appended)
add("network",
 "cidrhost(\"10.12.112.0/20\", 16)", "cidrhost(\"10.12.112.0/20\", 268)", "cidrhost(\"10.0.0.0/24\", -1)", "cidrhost(\"10.0.0.0/30\", 9)",
 "cidrhost(\"fd00:fd12:3456:7890::/56\", 16)", "cidrnetmask(\"172.16.0.0/12\")", "cidrnetmask(\"10.0.0.0/32\")",
 "cidrsubnet(\"172.16.0.0/12\", 4, 2)", "cidrsubnet(\"10.1.2.0/24\", 4, 15)", "cidrsubnet(\"10.1.2.0/24\", 4, 16)",
 "cidrsubnet(\"fd00:fd12:3456:7890::/56\", 16, 162)", "cidrsubnets(\"10.1.0.0/16\", 4, 4, 8, 4)", "cidrsubnets(\"10.0.0.0/8\")",
 "cidrsubnet(\"10.0.0.0/8\", 25, 0)", "cidrhost(\"not-a-cidr\", 1)", "cidrsubnet(\"10.0.0.0/16\", 8, 0)",
)
# more collections (appended)
add("collection",
 "setproduct([\"a\", \"b\"], [1, 2])", "setproduct([], [1])", "setunion([\"a\", \"b\"], [\"b\", \"c\"])",
 "setintersection([\"a\", \"b\"], [\"b\", \"c\"], [\"b\", \"d\"])", "setsubtract([\"a\", \"b\", \"c\"], [\"a\", \"c\"])",
 "transpose({a = [\"1\", \"2\"], b = [\"2\", \"3\"]})", "zipmap([\"a\", \"b\"], [1, 2])", "zipmap([\"a\"], [1, 2])",
 "chunklist([1, 2, 3, 4, 5], 2)", "chunklist([1, 2], 0)", "coalescelist([], [1, 2])", "coalescelist([], [])",
 "alltrue([true, true])", "alltrue([])", "anytrue([false, true])", "anytrue([])", "one([])", "one([\"x\"])", "one([1, 2])",
 "compact([\"a\", \"\", \"b\", null])", "keys({})", "values({})", "tomap({})", "length(null)", "length(\"\")",
 "contains([], 1)", "index([1, 2, 3], 2)", "reverse([])", "sort([])", "distinct([])", "flatten([[[]]])",
 "slice([1, 2, 3], 2, 1)", "slice([1, 2, 3], 3, 3)", "range(0)", "range(5, 1, -2)", "range(1, 2, 0)", "range(1, 10, 3)",
 "merge({a = {x = 1}}, {a = {y = 2}})", "lookup({}, \"a\", null)", "matchkeys([\"a\", \"b\"], [1, 2], [2])",
 "[for k, v in {a = 1, b = 2} : \"${k}${v}\" if v > 1]", "{for s in [\"a\", \"bb\", \"cc\"] : length(s) => s...}",
 "{for s in [\"a\", \"b\"] : s => upper(s)}", "{for s in [\"a\", \"a\"] : s => s}", "[for i, v in [\"x\", \"y\"] : i]",
 "[for v in [] : v]", "[1, 2, 3][1]", "[1, 2, 3][5]", "{a = 1}[\"a\"]", "{a = 1}.b", "[{a = 1}, {a = 2}][*].a",
 "[{a = {b = 1}}][*].a.b", "null[*]", "\"x\"[*]", "{a = 1}[*]", "tolist(toset([\"b\", \"a\", \"c\"]))",
)
# conversions and conditionals (appended)
add("convert",
 "tobool(\"true\")", "tobool(\"false\")", "tobool(\"yes\")", "tobool(null)", "tostring(true)", "tostring(null)",
 "tonumber(true)", "tonumber(\"1_000\")", "tonumber(\"-0.5\")", "tostring([1])", "tolist(\"a\")", "tomap([1])",
 "true ? [1] : [\"a\"]", "false ? [1] : [\"a\", 2]", "true ? {a = 1} : null", "null == null", "null != \"\"",
 "1 == \"1\"", "[1] == [1]", "{a = 1} == {a = 1}", "true ? 1 : error_func()", "can(regex(\"[\", \"x\"))",
 "try(tonumber(\"x\"), 0)", "try(local.nope, \"fallback\")", "can(1 + 1)", "try()", "\"5\" + 5", "\"a\" + 1",
 "!null", "-\"3\"", "1 < \"2\"", "true == \"true\"",
)
# encodings and hashes (appended)
add("encoding",
 "urlencode(\"a b&c=d/é\")", "base64encode(\"héllo\")", "base64decode(\"aGVsbG8=\")", "base64decode(\"!!\")",
 "jsondecode(\"{\\\"a\\\": [1, 2.5, null, true]}\")", "jsondecode(\"1e3\")", "jsondecode(\"[\")", "jsonencode({b = [1, \"x\"], a = null})",
 "jsonencode(\"<>&\")", "jsonencode(1.5)", "jsonencode(tolist([]))", "jsonencode({})", "csvdecode(\"a,b\\n1,2\\n3,4\")",
 "csvdecode(\"a,b\\n1\")", "md5(\"hello\")", "sha1(\"hello\")", "sha256(\"hello\")", "sha512(\"hi\")",
 "base64sha256(\"hello\")", "base64sha512(\"hi\")", "yamldecode(\"- 1\\n- two\\n- 3.5\")", "yamldecode(\"a:\\n  b: c\")",
 "yamldecode(\"~\")", "yamlencode({a = [1, \"b\"], c = {d = true}})", "yamlencode([])", "yamlencode(null)",
)
# dates (appended)
add("date",
 "formatdate(\"YYYY-MM-DD\", \"2024-02-29T10:00:00Z\")", "formatdate(\"EEEE, DD-MMM-YY hh:mm:ss ZZZ\", \"2018-01-02T23:12:01Z\")",
 "formatdate(\"h:mm AA\", \"2020-01-01T15:04:05Z\")", "formatdate(\"'Day' D\", \"2020-01-05T00:00:00Z\")",
 "formatdate(\"YYYY\", \"not-a-date\")", "timeadd(\"2024-01-31T00:00:00Z\", \"24h\")", "timeadd(\"2024-01-01T00:00:00Z\", \"-1.5h\")",
 "timeadd(\"2024-01-01T00:00:00Z\", \"1d\")", "timecmp(\"2024-01-01T00:00:00Z\", \"2024-01-01T01:00:00+01:00\")",
 "timecmp(\"2024-01-02T00:00:00Z\", \"2024-01-01T00:00:00Z\")",
)
# strings again (appended)
add("string",
 "split(\"\", \"abc\")", "join(\",\", [1, 2])", "upper(\"\")", "substr(\"abc\", 5, 1)", "substr(\"abc\", 1, -1)",
 "trim(\"  x  \", \" \")", "trimspace(\"\")", "indent(4, \"\")", "title(\"a-b c_d\")", "format(\"%s\", null)",
 "format(\"%d\", \"12\")", "format(\"%.0f\", 2.5)", "format(\"%.0f\", 3.5)", "format(\"%6.2f|\", 3.14159)",
 "format(\"%x\", \"ab\")", "strcontains(\"\", \"\")", "startswith(\"\", \"\")", "regexall(\"(a)(b)?\", \"ab a\")",
 "replace(\"hello\", \"/(l)(l)/\", \"$2$1\")", "replace(\"a.b\", \".\", \"-\")", "replace(\"abc\", \"/b/\", \"$0$0\")",
 "\"${[for x in [1, 2] : x * 2]}\"", "\"a\\\\b\"", "\"%{if false}x%{endif}\"", "\"${\"nested ${1 + 1}\"}\"",
)
# numbers again (appended)
add("number",
 "floor(-0.5)", "ceil(0.0001)", "abs(-0)", "min(3)", "max(1.5, \"2\")", "pow(0, 0)", "pow(-8, 1/3)",
 "log(1, 10)", "log(0, 10)", "parseint(\"12\", 10)", "parseint(\"12\", 1)", "parseint(\"1.5\", 10)",
 "signum(-0.25)", "5 % 0", "7.5 % 2", "-7.5 % 2", "2 - 0.1", "1e3", "0.5 + 0.25", "3 * 0.1",
)
seen = set()
out = []
for cat, e in cases:
    if e in seen:
        continue
    seen.add(e)
    out.append((cat, e))
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.txt"), "w") as f:
    f.write("# The differential corpus: CATEGORY<TAB>EXPRESSION, one case per line.\n")
    f.write("# Cases are named by their line number's id (c0001 ...) in recorded.json.\n")
    for i, (cat, e) in enumerate(out, 1):
        f.write(f"c{i:04d}\t{cat}\t{e}\n")
print(len(out))
