import subprocess
import sys


def test_importing_the_package_loads_no_heavy_library():
    code = (
        "import sys, ft_jupyter, ft_jupyter.config, ft_jupyter.train, ft_jupyter.cli, ft_jupyter.models.catalogue, "
        "ft_jupyter.data.prepare, ft_jupyter.demo\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets', 'ipywidgets', 'plotly', "
        "'jupyter_server') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import ft_jupyter pulled in: {out.stdout.strip()}"
