"""The .tf files are formatted as `terraform fmt` formats them.

No terraform binary can be installed here, so the check runs HashiCorp's hclwrite formatter (the
engine of `terraform fmt`) from the npm package @cdktf/hcl-tools, which scripts/check-infra
installs into .venv/node. Fix a failure with:
    NODE_PATH=.venv/node/node_modules node terraform/tests/hclfmt.js --write terraform/**/*.tf
"""

import os
import shutil
import subprocess
from pathlib import Path

from conftest import EXAMPLE_FILES, HTTP_API_FILES, MODULE_FILES, REPO

NODE_MODULES = REPO / ".venv" / "node" / "node_modules"
HCLFMT = Path(__file__).with_name("hclfmt.js")


def run_hclfmt(files):
    node = shutil.which("node")
    assert node, "node is not installed; scripts/check-infra needs Node.js to run the HCL formatter"
    assert (NODE_MODULES / "@cdktf" / "hcl-tools").is_dir(), f"{NODE_MODULES} lacks @cdktf/hcl-tools: run scripts/check-infra"
    env = dict(os.environ, NODE_PATH=str(NODE_MODULES))
    return subprocess.run([node, str(HCLFMT), *map(str, files)], capture_output=True, text=True, env=env, timeout=120)


def test_terraform_files_are_formatted():
    files = MODULE_FILES + EXAMPLE_FILES + HTTP_API_FILES
    assert len(files) >= 10
    result = run_hclfmt(files)
    assert result.returncode == 0, f"not formatted like terraform fmt:\n{result.stdout}{result.stderr}"


def test_the_formatter_rejects_misaligned_attributes(tmp_path):
    # Guards the check above against a formatter that silently accepts anything.
    sample = tmp_path / "sample.tf"
    sample.write_text('locals {\n  a = 1\n  long_name = 2\n}\n')
    result = run_hclfmt([sample])
    assert result.returncode == 3 and str(sample) in result.stdout, result.stdout + result.stderr
