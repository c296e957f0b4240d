"""The environment doctor on this CPU machine, with its CUDA, Colab/Kaggle and failure branches driven by fakes."""

import importlib
import json
import shutil
import subprocess
import sys
import urllib.request

import pytest

import ft_jupyter
from ft_jupyter.checkup import Check, DoctorReport, compare_version, front_end
from ft_jupyter.cli import main

# The module of the doctor (ft_jupyter.doctor is the function itself).
doctor_module = importlib.import_module("ft_jupyter.checkup")


@pytest.fixture(autouse=True)
def _offline_and_no_cloud(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(var, raising=False)


def test_the_cli_prints_one_line_per_check_and_exits_by_the_fail_marks(capsys):
    code = main(["doctor"])
    lines = capsys.readouterr().out.strip().splitlines()
    checks = lines[:-1]
    assert checks and all(line[0] in "✓⚠✗" for line in checks)
    names = [line[2:].split()[0] for line in checks]
    assert {"python", "torch", "gpu", "bitsandbytes", "transformers", "widgets", "disk", "hub"} <= set(names)
    assert code == (1 if any(line.startswith("✗") for line in checks) else 0)
    assert "✓ hub           offline mode: bundled models only" in checks


def test_json_output_parses_and_agrees_with_the_exit_code(capsys):
    code = main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is (code == 0)
    assert {c["status"] for c in report["checks"]} <= {"ok", "warn", "fail"}
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in report["checks"])


def test_no_gpu_is_a_clean_warning_on_this_machine():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (gpu,) = [c for c in doctor_module.check_torch() if c.name == "gpu"]
    assert gpu.status == "warn" and gpu.detail.startswith("no GPU: lessons run on CPU")


def test_the_cuda_branch_names_the_gpu_and_falls_back_to_fp16(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA T4")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index=0: (14 * 1024**3, 15 * 1024**3))
    (gpu,) = [c for c in doctor_module.check_torch() if c.name == "gpu"]
    assert gpu.status == "ok"
    assert "NVIDIA T4" in gpu.detail and "15.0 GiB" in gpu.detail
    assert "bf16 unsupported → fp16 with loss scaling" in gpu.detail


def test_bitsandbytes_kernels_that_fail_on_cuda_are_a_fail_line(monkeypatch):
    import bitsandbytes
    import torch

    def broken(*args, **kwargs):
        raise RuntimeError("no kernel image is available")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(bitsandbytes.functional, "quantize_4bit", broken)
    (line,) = doctor_module.check_bitsandbytes()
    assert line.status == "fail" and "CUDA kernels do not load" in line.detail and "pip install" in line.fix


def test_version_outside_the_range_fails_with_the_pip_line():
    line = compare_version("transformers", "4.57.0", "transformers<6,>=5.0", "5.24.0")
    assert line.status == "fail" and "outside" in line.detail
    assert line.fix == "pip install 'transformers<6,>=5.0'"


def test_version_inside_the_range_but_not_the_tested_one_warns():
    line = compare_version("transformers", "5.10.0", "transformers<6,>=5.0", "5.24.0")
    assert line.status == "warn" and "5.24.0" in line.detail
    assert "pip install 'transformers==5.24.0'" in line.fix


def test_the_tested_version_passes_and_a_missing_package_fails():
    assert compare_version("peft", "0.21.2", "peft>=0.17", "0.21.2").status == "ok"
    assert compare_version("peft", "0.21.2", "peft>=0.17", None).status == "ok"  # an installed wheel: no lock
    missing = compare_version("peft", None, "peft>=0.17", "0.21.2")
    assert missing.status == "fail" and missing.fix == "pip install 'peft>=0.17'"


def test_unreachable_hub_warns_with_the_offline_fix(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    (line,) = doctor_module.check_hub(timeout=0.5)
    assert line.status == "warn" and "unreachable" in line.detail and "HF_HUB_OFFLINE=1" in line.fix


def test_colab_is_recognised_with_its_advice(monkeypatch):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-20250101")
    (line,) = doctor_module.check_platform()
    assert "Colab" in line.detail
    assert "output.enable_custom_widget_manager()" in line.fix and "GPU" in line.fix and "restart" in line.fix
    assert front_end({"COLAB_RELEASE_TAG": "x"}, {}) == "Colab"


def test_kaggle_is_recognised_with_its_advice(monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    (line,) = doctor_module.check_platform()
    assert "Kaggle" in line.detail and "Internet" in line.fix and "T4" in line.fix and "restart" in line.fix


def test_front_end_detection():
    assert front_end({}, {"__vsc_ipynb_file__": "/a.ipynb"}) == "VS Code"
    assert front_end({"JPY_SESSION_NAME": "/a.ipynb"}, {}) == "JupyterLab/Notebook"
    assert front_end({"VSCODE_PID": "1"}, {}) == "VS Code"
    assert front_end({}, {}) == "unknown"


def test_an_exception_inside_a_check_becomes_a_fail_line(monkeypatch):
    def broken():
        raise KeyError("boom")

    monkeypatch.setattr(doctor_module, "CHECKS", (("python", doctor_module.check_python), ("disk", broken)))
    report = ft_jupyter.doctor()
    assert [c.status for c in report.checks] == ["ok", "fail"]
    assert "KeyError" in report.checks[1].detail and "boom" in report.checks[1].detail
    assert not report.ok and "Traceback" not in str(report)


def test_low_disk_fails_below_one_gib(monkeypatch, tmp_path):
    monkeypatch.setenv("FT_JUPYTER_HOME", str(tmp_path / "not" / "yet"))
    asked = []

    def small_disk(path):
        asked.append(path)
        return shutil._ntuple_diskusage(total=2 * 1024**3, used=1536 * 1024**2, free=512 * 1024**2)

    monkeypatch.setattr(doctor_module.shutil, "disk_usage", small_disk)
    (line,) = doctor_module.check_disk()
    assert asked == [tmp_path]  # the nearest folder that exists: the cache itself is not created yet
    assert line.status == "fail" and "0.5 GiB free" in line.detail and "FT_JUPYTER_HOME" in line.fix


def test_the_report_renders_as_a_coloured_html_table():
    report = DoctorReport([Check("a", "ok", "fine"), Check("b", "fail", "<broken>", "do x")])
    page = report._repr_html_()
    assert page.startswith("<table>") and "color:" in page and "&lt;broken&gt;" in page
    assert str(report).splitlines()[1] == "✗ b             <broken>  → do x"


def test_importing_the_package_does_not_import_the_heavy_stack():
    code = "import sys, ft_jupyter; ft_jupyter.doctor; print(any(m in sys.modules for m in ('torch', 'bitsandbytes')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_fail_line_makes_the_cli_exit_1(monkeypatch, capsys):
    monkeypatch.setattr(doctor_module, "CHECKS", (("disk", lambda: [Check("disk", "fail", "0.2 GiB free", "x")]),))
    assert main(["doctor"]) == 1
    assert capsys.readouterr().out.startswith("✗ disk")


@pytest.mark.parametrize(
    ("env", "user_ns", "status"),
    [
        ({"JPY_SESSION_NAME": "/lesson.ipynb"}, {}, "ok"),
        ({}, {"__vsc_ipynb_file__": "/lesson.ipynb"}, "warn"),
    ],
)
def test_widgets_inside_a_kernel_depend_on_the_front_end(monkeypatch, env, user_ns, status):
    import types

    import IPython

    import ft_jupyter.frontend

    for var in ("JPY_SESSION_NAME", "FT_JUPYTER_UI"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(ft_jupyter.frontend, "in_kernel", lambda: True)
    monkeypatch.setattr(ft_jupyter.frontend, "missing_widget_packages", list)
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(user_ns=user_ns))
    (line,) = doctor_module.check_widgets()
    assert line.status == status
    assert (line.fix == "if charts stay blank set FT_JUPYTER_UI=static") is (status == "warn")
