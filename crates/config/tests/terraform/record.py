#!/usr/bin/env python3
"""Records Terraform's answer for every case of cases.txt into recorded.json.

Run by hand, with Terraform 1.11.4 on PATH (offline: the cases use no
provider):

    python3 crates/config/tests/terraform/record.py

Each case becomes `output "cNNNN" { value = EXPRESSION }` in one root module;
`terraform apply` evaluates them all at once. A case Terraform refuses (its
error names the output, or the line) is recorded as an error and taken out,
and the rest is applied again. Values are stored in a canonical text form
that the Rust test reproduces from kiln's values: compact JSON, object keys
sorted, numbers as exact decimals (no exponent, no trailing zeros).
"""
import json, os, re, subprocess, sys, tempfile
import decimal
from decimal import Decimal

# Terraform's numbers have up to ~155 significant digits (512 bits): keep
# them all (Decimal's default context would round to 28).
decimal.getcontext().prec = 2000

HERE = os.path.dirname(os.path.abspath(__file__))

def canonical(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, int): return str(v)
    if isinstance(v, Decimal):
        if v == v.to_integral_value():
            return str(int(v))
        s = format(v.normalize(), "f")
        return s
    if isinstance(v, str): return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list): return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v[k]) for k in sorted(v)) + "}"
    raise TypeError(type(v))

def cases():
    out = []
    with open(os.path.join(HERE, "cases.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"): continue
            cid, cat, expr = line.split("\t", 2)
            # A case on several lines (a heredoc) writes its newlines as ⏎.
            out.append((cid, cat, expr.replace("\u23ce", "\n")))
    return out

def main():
    version = subprocess.run(["terraform", "version"], capture_output=True, text=True).stdout.splitlines()[0]
    pending = {cid: expr for cid, _, expr in cases()}
    result = {}
    work = tempfile.mkdtemp(prefix="kiln-corpus-")
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    subprocess.run(["terraform", "init", "-input=false", "-no-color"], cwd=work, capture_output=True, env=env)
    while pending:
        order = sorted(pending)
        # Line numbers of Terraform's errors map back to cases.
        body = ""
        starts = {}
        for cid in order:
            starts[body.count("\n") + 1] = cid
            body += f'output "{cid}" {{\n  value = {pending[cid]}\n}}\n'
        with open(os.path.join(work, "main.tf"), "w", encoding="utf-8") as f:
            f.write(body)
        for state in ("terraform.tfstate", "terraform.tfstate.backup"):
            p = os.path.join(work, state)
            if os.path.exists(p): os.remove(p)
        run = subprocess.run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color"],
                             cwd=work, capture_output=True, text=True, env=env)
        if run.returncode == 0:
            out = subprocess.run(["terraform", "output", "-json"], cwd=work, capture_output=True, text=True, env=env)
            doc = json.loads(out.stdout, parse_float=Decimal)
            for cid in order:
                result[cid] = canonical(doc[cid]["value"]) if cid in doc else "null"
            break
        failed = set(re.findall(r'in output "(c\d+)"', run.stderr))
        # Values Terraform computes but cannot store (an infinity).
        failed |= set(re.findall(r'output value "(c\d+)"', run.stderr))
        if not failed:
            # Errors that name no output: map their lines to cases.
            for m in re.finditer(r"on main\.tf line (\d+)", run.stderr):
                line = int(m.group(1))
                start = max(l for l in starts if l <= line)
                failed.add(starts[start])
        if not failed:
            sys.exit("terraform failed without naming a case:\n" + run.stderr)
        for cid in failed:
            result[cid] = "error"
            pending.pop(cid, None)
        for cid in list(pending):
            if cid in result: pending.pop(cid)
        print(f"{len(failed)} error case(s); {len(pending)} left", file=sys.stderr)
    with open(os.path.join(HERE, "recorded.json"), "w", encoding="utf-8") as f:
        json.dump({"terraform": version, "cases": dict(sorted(result.items()))}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"recorded {len(result)} cases with {version}")

if __name__ == "__main__":
    main()
