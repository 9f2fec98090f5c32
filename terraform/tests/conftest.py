"""Shared parsing of the Terraform module, the example and the code contracts for the tests.

python-hcl2 keeps HCL string literals with their quotes and expressions as "${...}" text; the
helpers here turn that into plain values so tests can compare against the JSON contracts.
"""

import json
import re
from pathlib import Path

import hcl2
import pytest

TERRAFORM = Path(__file__).resolve().parent.parent
REPO = TERRAFORM.parent
MODULE_FILES = sorted(TERRAFORM.glob("*.tf"))
EXAMPLE_FILES = sorted((TERRAFORM / "examples").glob("*/*.tf"))
HTTP_API_FILES = sorted((TERRAFORM / "modules" / "http_api").glob("*.tf"))


def unquote(value):
    """A plain Python value from python-hcl2's rendering: '"abc"' -> 'abc', recursively."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if not k.startswith("__")}
    return value


def parse(path):
    with open(path) as f:
        try:
            return hcl2.load(f)
        except Exception as err:  # python-hcl2 raises lark errors of several types
            raise AssertionError(f"{path}: not valid HCL: {err}") from err


class Module:
    """Blocks of a directory of .tf files, indexed by kind, type and name."""

    def __init__(self, files):
        self.files = files
        self.resources = {}
        self.data = {}
        self.variables = {}
        self.outputs = {}
        self.locals = {}
        self.modules = {}
        self.moved = []
        self.raw = {}
        for path in files:
            self.raw[path.name] = path.read_text()
            doc = parse(path)
            for block in doc.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        self.resources[(unquote(rtype), unquote(name))] = body
            for block in doc.get("data", []):
                for dtype, named in block.items():
                    for name, body in named.items():
                        self.data[(unquote(dtype), unquote(name))] = body
            for block in doc.get("variable", []):
                for name, body in block.items():
                    self.variables[unquote(name)] = body
            for block in doc.get("output", []):
                for name, body in block.items():
                    self.outputs[unquote(name)] = body
            for block in doc.get("locals", []):
                self.locals.update(block)
            for block in doc.get("module", []):
                for name, body in block.items():
                    self.modules[unquote(name)] = body
            self.moved.extend(doc.get("moved", []))

    def resource(self, rtype, name):
        key = (rtype, name)
        assert key in self.resources, f"terraform/ declares no resource {rtype}.{name}"
        return self.resources[key]

    def data_source(self, dtype, name):
        key = (dtype, name)
        assert key in self.data, f"terraform/ declares no data source {dtype}.{name}"
        return self.data[key]

    def module_call(self, name):
        assert name in self.modules, f"terraform/ calls no module {name}"
        return self.modules[name]

    def local(self, name):
        assert name in self.locals, f"terraform/ declares no local {name}"
        return self.locals[name]


def block(body, name):
    """The single nested block `name` of a resource body."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {name} block, found {blocks!r}"
    return blocks[0]


def dynamic_blocks(body, name):
    """The `dynamic "name"` blocks of a body."""
    found = []
    for entry in body.get("dynamic", []):
        for label, dyn in entry.items():
            if unquote(label) == name:
                found.append(dyn)
    return found


def policy_statements(document):
    """Every statement of an aws_iam_policy_document body, static ones and dynamic contents, as
    (statement body, for_each expression or None)."""
    statements = [(s, None) for s in document.get("statement", [])]
    for dyn in dynamic_blocks(document, "statement"):
        for content in dyn["content"]:
            statements.append((content, dyn["for_each"]))
    return statements


@pytest.fixture(scope="session")
def module():
    return Module(MODULE_FILES)


@pytest.fixture(scope="session")
def http_api():
    """modules/http_api: the HTTP API in front of one function (the predict and job APIs)."""
    return Module(HTTP_API_FILES)


@pytest.fixture(scope="session")
def example():
    return Module(EXAMPLE_FILES)


@pytest.fixture(scope="session")
def contract():
    with open(REPO / "handlers" / "lambda-functions.json") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def retry_strategy_contract():
    with open(REPO / "batch-job" / "retry-strategy.json") as f:
        return json.load(f)
