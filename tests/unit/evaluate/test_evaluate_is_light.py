import subprocess
import sys


def test_estimate_lint_and_evaluate_import_no_heavy_library():
    code = (
        "import sys, ft_jupyter.evaluate, ft_jupyter.evaluate.commands, ft_jupyter.models.estimate, "
        "ft_jupyter.config.lint\n"
        "print(','.join(m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets', 'rouge_score', "
        "'ipywidgets', 'plotly', 'jupyter_server') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
