"""The console path of the UI package must work without widget libraries, and stay cheap to import."""

import subprocess
import sys


def test_ui_entry_points_load_no_widget_or_training_library():
    code = (
        "import sys, ft_jupyter.ui, ft_jupyter.ui.training, ft_jupyter.frontend\n"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'ipywidgets', 'plotly', 'anywidget') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing ft_jupyter.ui pulled in: {out.stdout.strip()}"
