import pytest
from tiny_shapes import TINY_SHAPES, write_config


@pytest.fixture(scope="session")
def tiny_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    return {name: write_config(root / name, fields) for name, fields in TINY_SHAPES.items()}
