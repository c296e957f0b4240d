"""The one-off SmolLM2 GGUF → safetensors conversion reports its stages on stderr, once, and leaves a whole folder.
The heavy stages are stood in for: the real conversion takes ~20 s and is exercised by the lessons."""

import pytest

from ft_jupyter.models import bundled


@pytest.fixture()
def fake_stages(tmp_path, monkeypatch):
    monkeypatch.delenv("FT_JUPYTER_PROGRESS", raising=False)
    monkeypatch.setattr(bundled, "cache_home", lambda: tmp_path)
    monkeypatch.setattr(bundled, "gguf_path", lambda: tmp_path / bundled.GGUF_NAME)
    monkeypatch.setattr(bundled, "verify_gguf", lambda path: None)
    monkeypatch.setattr(bundled, "_load_tokenizer", lambda source: "tokenizer")
    monkeypatch.setattr(bundled, "_load_weights", lambda source: "weights")

    def save(model, tokenizer, out):
        assert (model, tokenizer) == ("weights", "tokenizer")
        out.mkdir(parents=True)
        for name in ("config.json", "model.safetensors"):
            (out / name).write_text("{}")

    monkeypatch.setattr(bundled, "_save", save)
    return tmp_path


def test_first_use_converts_with_a_stage_bar_and_later_uses_do_not(fake_stages, capsys):
    folder = bundled.ensure_smollm2()
    assert (folder / "model.safetensors").is_file() and folder.parent == fake_stages / "models"
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Converting SmolLM2" in captured.err and "3/3 stages" in captured.err and "ETA" in captured.err
    assert bundled.ensure_smollm2() == folder
    assert capsys.readouterr() == ("", "")


def test_quiet_conversion_prints_nothing(fake_stages, capsys):
    bundled.ensure_smollm2(verbose=False)
    assert capsys.readouterr() == ("", "")
