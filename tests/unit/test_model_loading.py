"""One way to load a model (ft_jupyter.models.loading): training, inference, the estimates and the data commands get
the same tokenizer for the same model section (revision, trust_remote_code, a pad token when it has none), and the
weights' dtype follows one policy."""

from __future__ import annotations

import json
import shutil

import pytest

from ft_jupyter.config import ModelConfig, RunConfig
from ft_jupyter.models.loading import weights_dtype

REVISION = "pinned-revision"  # a local folder ignores it; the spy sees whether each path passes it on


@pytest.fixture(scope="module")
def padless(tmp_path_factory) -> str:
    """tiny-random copied, its tokenizer without a pad token."""
    from ft_jupyter.models.catalogue import resolve

    folder = tmp_path_factory.mktemp("padless") / "model"
    shutil.copytree(resolve("tiny-random"), folder)
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    del settings["pad_token"]
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    return str(folder)


@pytest.fixture()
def loads(monkeypatch):
    """Every AutoTokenizer.from_pretrained call: (source, keyword arguments, the tokenizer it returned)."""
    from transformers import AutoTokenizer

    real = AutoTokenizer.from_pretrained
    calls = []

    def spy(source, *args, **kwargs):
        tokenizer = real(source, *args, **kwargs)
        calls.append((str(source), kwargs, tokenizer))
        return tokenizer

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", spy)
    return calls


def _config(folder: str) -> RunConfig:
    return RunConfig().with_overrides(
        {
            "model.name": folder,
            "model.revision": REVISION,
            "model.trust_remote_code": True,
            "data.dataset": "support-emails",
        }
    )


def _tokenizer_of_each_path(config: RunConfig, loads: list, capsys) -> dict[str, tuple[dict, object]]:
    from ft_jupyter.cli import main
    from ft_jupyter.models.estimate import row_tokens
    from ft_jupyter.models.inference import load_for_inference
    from ft_jupyter.train.loading import load_for_training
    from ft_jupyter.train.translate import Precision

    model = config.model
    found = {}
    found["train"] = load_for_training(config, Precision("fp32", "cpu", "test")).tokenizer
    found["inference"] = load_for_inference(model.name, revision=model.revision, trust_remote_code=True)[1]
    assert row_tokens(config).exact  # counted with the model's own tokenizer, not from characters
    found["estimate"] = loads[-1][2]
    argv = ["data", "lengths", "support-emails", "--model", model.name, "--revision", model.revision]
    assert main([*argv, "--trust-remote-code"]) == 0
    assert "Token lengths with" in capsys.readouterr().out
    found["data command"] = loads[-1][2]
    settings = {}
    for path, tokenizer in found.items():
        call = next(c for c in loads if c[2] is tokenizer)
        settings[path] = ({k: call[1].get(k) for k in ("revision", "trust_remote_code")}, tokenizer)
    return settings


def test_every_path_loads_the_tokenizer_with_the_same_settings_and_pad_token(padless, loads, capsys):
    config = _config(padless)
    settings = _tokenizer_of_each_path(config, loads, capsys)
    assert set(settings) == {"train", "inference", "estimate", "data command"}
    for path, (passed, tokenizer) in settings.items():
        assert passed == {"revision": REVISION, "trust_remote_code": True}, path
        assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>", path


def test_the_tokenizer_saved_with_a_run_is_read_with_the_same_rules(padless, loads):
    from ft_jupyter.models.loading import load_tokenizer

    model = ModelConfig(name="tiny-random", revision=REVISION, trust_remote_code=True)
    tokenizer = load_tokenizer(model, padless)  # as for an adapter/ or model/ folder
    assert loads[-1][0] == padless and loads[-1][1]["trust_remote_code"] is True
    assert tokenizer.pad_token == tokenizer.eos_token


def test_a_model_whose_files_are_not_here_has_no_local_tokenizer_and_no_download(tmp_path, monkeypatch):
    from ft_jupyter.models.loading import local_tokenizer

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert local_tokenizer(ModelConfig(name="someone/not-cached-here")) is None
    assert local_tokenizer(ModelConfig(name=str(tmp_path))) is None  # a folder without config.json


@pytest.mark.parametrize(
    ("dtype", "precision", "method", "expected"),
    [
        ("auto", "bf16", "lora", "bf16"),
        ("auto", "fp16", "lora", "fp16"),
        ("auto", "fp16", None, "fp16"),  # inference keeps no master weights
        ("auto", "fp16", "full", "fp32"),  # mixed precision keeps fp32 master weights for what trains
        ("auto", "fp16", "head", "fp32"),
        ("auto", "fp32", "freeze", "fp32"),
        ("bfloat16", "fp32", "full", "bf16"),  # model.dtype, when set, wins
        ("float16", "bf16", None, "fp16"),
    ],
)
def test_weights_dtype_is_one_policy(dtype, precision, method, expected):
    assert weights_dtype(ModelConfig(dtype=dtype), precision, method) == expected


def test_the_memory_estimate_uses_the_same_weights_dtype():
    from ft_jupyter.models.memory import resolve_dtypes

    for method in ("lora", "full", "freeze", "head"):
        for precision in ("fp16", "bf16", "fp32"):
            config = RunConfig().with_overrides({"method.method": method, "training.precision": precision})
            assert resolve_dtypes(config, "cuda") == (precision, weights_dtype(config.model, precision, method))
