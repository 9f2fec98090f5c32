"""Regenerates definitions.jsonl from a clone of aws-samples/step-functions-workflows-collection:
every `*.asl.json` at HEAD, with the deployment placeholders (`${...}`) filled with plausible
values, one JSON object per line: {"path", "definition"} or, when the file is not JSON even after
filling, {"path", "text"}.

Usage: python3 make_definitions.py <git dir or clone> > definitions.jsonl
"""
import json
import re
import subprocess
import sys

NAMED = {
    "partition": "aws", "awspartition": "aws", "aws::partition": "aws",
    "region": "us-east-1", "awsregion": "us-east-1", "aws::region": "us-east-1",
    "accountid": "123456789012", "aws::accountid": "123456789012",
    "account": "123456789012", "accountnumber": "123456789012",
}


def fill_text(text):
    def replace(m):
        key = m.group(1).lower().replace("_", "")
        return NAMED.get(key, "x" + re.sub(r"[^A-Za-z0-9]", "", m.group(1)))
    return re.sub(r"\$\{([^}]*)\}", replace, text)


def fill(value, key=None):
    """A whole-value placeholder in a Task Resource becomes a Lambda (or activity) ARN;
    any other placeholder becomes a plain word."""
    if isinstance(value, dict):
        return {k: fill(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v) for v in value]
    if isinstance(value, str) and "${" in value:
        if key == "Resource" and re.fullmatch(r"\$\{[^}]*\}", value.strip()):
            name = re.sub(r"[^A-Za-z0-9-_]", "", value)
            if "activity" in name.lower():
                return f"arn:aws:states:us-east-1:123456789012:activity:{name}"
            return f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        return fill_text(value)
    return value


def main(repo):
    git = ["git", "-C", repo]
    paths = subprocess.check_output(git + ["ls-tree", "-r", "--name-only", "HEAD"], text=True)
    for path in sorted(p for p in paths.split("\n") if p.lower().endswith(".asl.json")):
        text = subprocess.check_output(git + ["show", f"HEAD:{path}"], text=True)
        try:
            definition = json.loads(text)
        except ValueError:
            try:
                # an unquoted number placeholder: `"MaxConcurrency": ${n}`
                definition = json.loads(re.sub(r":\s*\$\{[^}]*\}", ": 1", text))
            except ValueError:
                print(json.dumps({"path": path, "text": text}, separators=(",", ":")))
                continue
        print(json.dumps({"path": path, "definition": fill(definition)}, separators=(",", ":")))


main(sys.argv[1])
