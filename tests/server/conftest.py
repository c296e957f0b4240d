# pytest-jupyter's fixtures (jp_fetch, jp_serverapp, ...) and its async-test hooks, for this folder only.
from pytest_jupyter.jupyter_server import *  # noqa: F403
