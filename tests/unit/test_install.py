"""A package missing from the environment is named with its exact pip line, never shown as a traceback."""

import subprocess
import sys

from ft_jupyter.install import install_line

BLOCKED = """
import sys
class Missing:  # behaves as if {name} had never been installed
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] == {name!r}:
            raise ModuleNotFoundError(f"No module named {{fullname!r}}", name=fullname)
sys.meta_path.insert(0, Missing())
from ft_jupyter.cli import main
sys.exit(main({argv!r}))
"""


def _run(name: str, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCKED.format(name=name, argv=argv)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )


def test_cli_names_the_missing_package_and_the_pip_line(tmp_path):
    proc = _run("transformers", ["estimate", "tiny-random"])
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "'transformers' is not installed" in proc.stderr
    line = proc.stderr.split("Install it with: ")[1].split(" — ")[0]
    assert line.startswith("pip install 'transformers") and ">=5.0" in line and "<6" in line  # the declared range


def test_install_line_maps_import_names_to_what_pip_installs():
    assert install_line("yaml.constructor").startswith("pip install 'pyyaml")
    assert install_line("rouge_score").startswith("pip install 'rouge-score")
    assert install_line("not_a_dependency_of_ours") == "pip install 'not_a_dependency_of_ours'"
