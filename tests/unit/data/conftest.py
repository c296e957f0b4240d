import pytest


@pytest.fixture(scope="module")
def tiny_tokenizer_path():
    pytest.importorskip("transformers")
    from ft_jupyter.models.catalogue import resolve

    return resolve("tiny-random")


@pytest.fixture()
def tiny_tokenizer(tiny_tokenizer_path):
    """A fresh tiny-random tokenizer per test (tests change its template and special tokens)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_path)
