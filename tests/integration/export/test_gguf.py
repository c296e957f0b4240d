"""The kit's GGUF writer on real files: tiny-random and the bundled SmolLM2, read back by gguf's reader, by
transformers' GGUF loader and, when llama-cpp-python is installed, by llama.cpp itself. Nothing is trained: LoRA
adapters are PEFT's own random initialisation (init_lora_weights=False, so B is not zero and the adapter matters)."""

import json
import shutil

import numpy as np
import pytest

from ft_jupyter.export.gguf import write_gguf, write_lora_gguf
from ft_jupyter.export.llama_cpp import LLAMA_CPP_ENV, GGUFFile, GGUFNotSupported, upstream_converter

pytestmark = pytest.mark.integration


def needs_llama_cpp() -> None:
    """Skip without llama-cpp-python, except under `make test-export` (FT_JUPYTER_REQUIRE_LLAMA_CPP=1), where a
    missing llama.cpp is a failure: that target exists to run these checks."""
    import importlib.util
    import os

    if importlib.util.find_spec("llama_cpp") is None:
        if os.environ.get("FT_JUPYTER_REQUIRE_LLAMA_CPP") == "1":
            pytest.fail("llama-cpp-python is required here (make test-export) but is not installed")
        pytest.skip("llama-cpp-python is not installed (make test-export builds it)")


# The first three have clear winners at every greedy step for SmolLM2 (top-2 logit gap >= 0.15); the fourth, with
# digits for the tokenizer, has a near-tie (0.0014) at its 7th token.
CONVERSATIONS = [
    [{"role": "user", "content": "My invoice for March was charged twice, please refund."}],
    [
        {"role": "system", "content": "Classify the email."},
        {"role": "user", "content": "The app crashes when I upload 3 files."},
    ],
    [{"role": "user", "content": "Thanks for the quick help yesterday!"}],
    [{"role": "user", "content": "How do I change my password? Order #12345, placed 2024-05-17."}],
    [{"role": "user", "content": "Your service is terrible, I want to cancel."}],
]
TINY_TENSORS = 2 + 9 * 4  # embeddings, final norm, 9 per block; no output.weight: tiny-random ties it


def _prompts(folder, n: int | None = None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return tokenizer, [
        tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in CONVERSATIONS[:n]
    ]


def _fields(path):
    import gguf

    reader = gguf.GGUFReader(path)
    return reader, {key: field.contents() for key, field in reader.fields.items() if not key.startswith("GGUF.")}


def _lora_model(base_dir, out_dir, seed=0, **extra):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    model = get_peft_model(
        base,
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", init_lora_weights=False, **extra),
    ).eval()
    model.save_pretrained(str(out_dir))
    return model


@pytest.fixture(scope="module")
def tiny():
    from ft_jupyter.models.tiny import ensure_tiny_random

    return ensure_tiny_random()


@pytest.fixture(scope="module")
def tiny_gguf(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-gguf")
    return {t: write_gguf(tiny, out / f"model-{t}.gguf", type=t) for t in ("f16", "q8_0")}


@pytest.fixture(scope="module")
def tiny_lora(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-lora") / "adapter"
    model = _lora_model(tiny, folder)
    return folder, model, write_lora_gguf(folder, tiny, folder.parent / "adapter.gguf")


# --- the file itself -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type", ["f16", "q8_0"])
def test_written_file_reads_back_as_a_llama(tiny, tiny_gguf, type):
    import gguf

    written = tiny_gguf[type]
    assert isinstance(written, GGUFFile) and written.type == type and written.tensors == TINY_TENSORS
    assert written.bytes == written.path.stat().st_size and not list(written.path.parent.glob(".*tmp*"))
    reader, f = _fields(written.path)
    config = json.loads((tiny / "config.json").read_text())
    assert f["general.architecture"] == "llama" and f["general.type"] == "model"
    assert (
        f["llama.block_count"],
        f["llama.embedding_length"],
        f["llama.attention.head_count"],
        f["llama.attention.head_count_kv"],
        f["llama.context_length"],
    ) == (4, 128, 4, 2, 1024)
    assert f["general.file_type"] == {"f16": 1, "q8_0": 7}[type]
    assert len(reader.tensors) == TINY_TENSORS and "output.weight" not in {t.name for t in reader.tensors}
    assert len(f["tokenizer.ggml.tokens"]) == config["vocab_size"] == f["llama.vocab_size"]
    assert f["tokenizer.chat_template"] == (tiny / "chat_template.jinja").read_text()
    assert (f["tokenizer.ggml.model"], f["tokenizer.ggml.pre"]) == ("gpt2", "gpt-2")
    assert (f["tokenizer.ggml.bos_token_id"], f["tokenizer.ggml.eos_token_id"]) == (1, 2)
    # Hugging Face adds no BOS to these ChatML prompts, so neither may llama.cpp.
    assert f["tokenizer.ggml.add_bos_token"] == False  # noqa: E712 (a numpy bool)
    # The three special tokens are control tokens: parsed from text only when special tokens are asked for.
    assert f["tokenizer.ggml.tokens"][:3] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert list(f["tokenizer.ggml.token_type"][:4]) == [3, 3, 3, 1]
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert types["blk.0.attn_norm.weight"] == types["output_norm.weight"] == gguf.GGMLQuantizationType.F32
    big = gguf.GGMLQuantizationType.F16 if type == "f16" else gguf.GGMLQuantizationType.Q8_0
    assert types["token_embd.weight"] == types["blk.3.ffn_down.weight"] == big


def test_f16_logits_match_transformers(tiny, tiny_gguf):
    from ft_jupyter.export.gguf_check import check_with_transformers

    tokenizer, prompts = _prompts(tiny)
    result = check_with_transformers(tiny, tiny_gguf["f16"].path, prompts, tokenizer=tokenizer)
    assert result["positions"] > 100
    # Measured: max |Δlogit| 0.0104 on a largest logit of 4.9 (0.21 %), top-1 99.3 % (one near-tie flips). Without
    # the Q/K reorder the same check gives 128 % and 8 %: this is the test of the reorder.
    assert result["relative_diff"] < 0.01 and result["top1_agreement"] >= 0.97


def test_q8_0_logits_stay_close(tiny, tiny_gguf):
    from ft_jupyter.export.gguf_check import check_with_transformers

    tokenizer, prompts = _prompts(tiny)
    result = check_with_transformers(tiny, tiny_gguf["q8_0"].path, prompts, tokenizer=tokenizer)
    # Measured: 5.7 % of the largest logit, top-1 91 % (tiny-random's logits are nearly flat, so ties flip often;
    # SmolLM2 q8_0 gives 3.5 % and 97 %).
    assert result["relative_diff"] < 0.15 and result["top1_agreement"] >= 0.8


# --- what it refuses, and what a failure leaves behind -------------------------------------------------------------


def test_other_architectures_are_refused_with_the_llama_cpp_command(tmp_path, monkeypatch):
    from transformers import GPT2Config

    monkeypatch.delenv(LLAMA_CPP_ENV, raising=False)
    folder = tmp_path / "gpt2"
    GPT2Config(n_layer=1, n_embd=32, n_head=2, architectures=["GPT2LMHeadModel"]).save_pretrained(str(folder))
    out = tmp_path / "gpt2.gguf"
    with pytest.raises(GGUFNotSupported) as caught:
        write_gguf(folder, out, type="q8_0")
    message = str(caught.value)
    for needed in (
        "GPT2LMHeadModel",
        "LlamaForCausalLM",
        "convert_hf_to_gguf.py",
        f"{folder} --outtype q8_0",
        f"--outfile {out}",
        LLAMA_CPP_ENV,
    ):
        assert needed in message
    assert not out.exists() and upstream_converter() is None


def test_llama_features_the_writer_lacks_are_refused(tiny, tmp_path, monkeypatch):
    monkeypatch.delenv(LLAMA_CPP_ENV, raising=False)
    folder = tmp_path / "llama3-rope"
    shutil.copytree(tiny, folder)
    config = json.loads((folder / "config.json").read_text())
    config["rope_parameters"] = {
        "rope_type": "llama3",
        "rope_theta": 5e5,
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 512,
    }
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(GGUFNotSupported, match="rope type 'llama3'.*convert_hf_to_gguf.py"):
        write_gguf(folder, tmp_path / "out.gguf")


def test_a_folder_missing_a_weight_leaves_no_file(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "broken"
    shutil.copytree(tiny, folder)
    weights = load_file(str(folder / "model.safetensors"))
    del weights["model.layers.2.mlp.up_proj.weight"]
    save_file(weights, str(folder / "model.safetensors"))
    out = tmp_path / "out" / "model.gguf"
    with pytest.raises(ValueError, match="model.layers.2.mlp.up_proj.weight"):
        write_gguf(folder, out)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_a_write_failing_halfway_keeps_the_previous_file(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "overflow"
    shutil.copytree(tiny, folder)
    weights = load_file(str(folder / "model.safetensors"))
    # The last block's weights pass every check made before writing starts; float16 cannot hold 1e6.
    weights["model.layers.3.mlp.down_proj.weight"][0, 0] = 1e6
    save_file(weights, str(folder / "model.safetensors"))
    out = tmp_path / "model.gguf"
    out.write_bytes(b"the previous export")
    with pytest.raises(ValueError, match="down_proj.*beyond float16"):
        write_gguf(folder, out, type="f16")
    assert out.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf", "overflow"]


def test_upstream_converter_is_found_only_where_pointed(tmp_path, monkeypatch):
    monkeypatch.setenv(LLAMA_CPP_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="has no convert_hf_to_gguf.py"):
        upstream_converter()
    (tmp_path / "convert_hf_to_gguf.py").write_text("")
    assert upstream_converter() == tmp_path / "convert_hf_to_gguf.py"


def test_an_unknown_pre_tokenizer_is_written_as_gpt2_with_a_warning(tiny, tmp_path):
    folder = tmp_path / "prefix-space"
    shutil.copytree(tiny, folder)
    spec = json.loads((folder / "tokenizer.json").read_text())
    spec["pre_tokenizer"]["add_prefix_space"] = True
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    with pytest.warns(UserWarning, match="not one the kit recognises"):
        written = write_gguf(folder, tmp_path / "model.gguf")
    assert _fields(written.path)[1]["tokenizer.ggml.pre"] == "gpt-2"


# --- LoRA adapters -------------------------------------------------------------------------------------------------


def test_lora_gguf_names_shapes_and_alpha(tiny_lora):
    _, _, written = tiny_lora
    reader, f = _fields(written.path)
    assert (f["general.architecture"], f["general.type"], f["adapter.type"]) == ("llama", "adapter", "lora")
    assert f["adapter.lora.alpha"] == 8.0 and written.tensors == len(reader.tensors) == 4 * 7 * 2
    shapes = {t.name: tuple(int(n) for n in t.shape) for t in reader.tensors}  # GGUF order: (columns, rows)
    assert shapes["blk.0.attn_q.weight.lora_a"] == (128, 4) and shapes["blk.0.attn_q.weight.lora_b"] == (4, 128)
    assert shapes["blk.3.attn_k.weight.lora_b"] == (4, 64) and shapes["blk.1.ffn_down.weight.lora_a"] == (256, 4)
    assert all(name.rsplit(".", 1)[1] in ("lora_a", "lora_b") for name in shapes)


def test_lora_gguf_applied_like_llama_cpp_equals_the_merged_gguf(tiny, tiny_gguf, tiny_lora, tmp_path):
    """W + alpha/r · B·A on the GGUF tensors (what llama.cpp computes) must equal the merged model's GGUF weights:
    this is what shows the Q/K reorder belongs on B's rows and nowhere else."""
    import gguf
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter_dir, _, adapter = tiny_lora
    merged = tmp_path / "merged"
    base_model = AutoModelForCausalLM.from_pretrained(str(tiny), dtype=torch.float32)
    PeftModel.from_pretrained(base_model, str(adapter_dir)).merge_and_unload().save_pretrained(str(merged))
    shutil.copy(tiny / "tokenizer.json", merged)
    shutil.copy(tiny / "tokenizer_config.json", merged)
    merged_gguf = write_gguf(merged, tmp_path / "merged.gguf")
    tensors = {}
    for path in (tiny_gguf["f16"].path, adapter.path, merged_gguf.path):
        tensors[path] = {t.name: np.asarray(t.data, dtype=np.float32) for t in gguf.GGUFReader(path).tensors}
    base, lora, want = tensors[tiny_gguf["f16"].path], tensors[adapter.path], tensors[merged_gguf.path]
    worst = 0.0
    for name in (n for n in base if n.startswith("blk.") and not n.endswith("_norm.weight")):
        got = base[name] + 8 / 4 * lora[f"{name}.lora_b"] @ lora[f"{name}.lora_a"]
        worst = max(worst, float(np.abs(got - want[name]).max()))
    assert worst < 2e-3  # float16 rounding of three files: measured 2.7e-4; without the reorder on B, 0.46


def test_adapters_llama_cpp_cannot_apply_are_refused(tiny, tmp_path):
    folder = tmp_path / "dora"
    _lora_model(tiny, folder, use_dora=True)
    with pytest.raises(GGUFNotSupported, match="use_dora.*Merge the adapter"):
        write_lora_gguf(folder, tiny, tmp_path / "dora.gguf")
    assert not (tmp_path / "dora.gguf").exists()


# --- llama.cpp ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    needs_llama_cpp()
    from ft_jupyter.models.bundled import ensure_smollm2

    folder = ensure_smollm2(verbose=False)
    out = tmp_path_factory.mktemp("smollm2-gguf")
    return folder, write_gguf(folder, out / "model-f16.gguf", type="f16", progress=False)


def test_llama_cpp_runs_tiny_random_like_transformers(tiny, tiny_gguf):
    needs_llama_cpp()
    from ft_jupyter.export.gguf_check import check_with_llama_cpp

    _, prompts = _prompts(tiny)
    result = check_with_llama_cpp(tiny, tiny_gguf["f16"].path, prompts, max_new_tokens=16)
    assert result["tokens_equal"] == [True] * len(prompts)
    # tiny-random's logits are nearly flat: top-2 gaps down to 0.001 along its greedy answers, below f16's 0.01, so
    # exact answers are asserted on SmolLM2 only. Measured: top-1 98.75 %, 4 of 5 answers equal.
    assert result["top1_agreement"] >= 0.9, result


def test_llama_cpp_reads_the_smollm_pre_tokenizer(tiny, tmp_path):
    """SmolLM2's own tokenizer splits digits one by one; the file must tell llama.cpp so."""
    needs_llama_cpp()
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    folder = tmp_path / "digits"
    shutil.copytree(tiny, folder)
    spec = json.loads((folder / "tokenizer.json").read_text())
    spec["pre_tokenizer"] = {
        "type": "Sequence",
        "pretokenizers": [{"type": "Digits", "individual_digits": True}, spec["pre_tokenizer"]],
    }
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    written = write_gguf(folder, tmp_path / "digits.gguf")
    assert _fields(written.path)[1]["tokenizer.ggml.pre"] == "smollm"
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    text = "<|im_start|>user\nOrder #12345, placed 2024-05-17 at 9:30.<|im_end|>\n"
    llm = Llama(model_path=str(written.path), n_ctx=64, verbose=False, n_threads=2, seed=0)
    try:
        assert llm.tokenize(text.encode(), add_bos=True, special=True) == tokenizer(text)["input_ids"]
    finally:
        llm.close()


def test_llama_cpp_applies_the_tiny_lora_gguf_like_peft(tiny, tiny_gguf, tiny_lora):
    needs_llama_cpp()
    from ft_jupyter.export.gguf_check import llama_cpp_agreement

    _, model, adapter = tiny_lora
    tokenizer, prompts = _prompts(tiny, 3)
    result = llama_cpp_agreement(model, tokenizer, tiny_gguf["f16"].path, prompts, lora_path=adapter.path)
    assert result["tokens_equal"] == [True] * 3
    assert result["top1_agreement"] >= 0.9, result  # measured 100 %


def test_llama_cpp_runs_smollm2_like_transformers(smollm2):
    from ft_jupyter.export.gguf_check import check_with_llama_cpp

    folder, written = smollm2
    _, prompts = _prompts(folder, 4)
    result = check_with_llama_cpp(folder, written.path, prompts, max_new_tokens=16)
    assert result["tokens_equal"] == [True] * 4
    # 16 greedy tokens equal on the three decisive prompts (measured: all four, top-1 100 %).
    assert result["llama_cpp_texts"][:3] == result["reference_texts"][:3]
    assert result["top1_agreement"] >= 0.95, result


def test_llama_cpp_applies_a_smollm2_lora_gguf_like_peft(smollm2, tmp_path):
    from ft_jupyter.export.gguf_check import llama_cpp_agreement

    folder, written = smollm2
    adapter_dir = tmp_path / "adapter"
    model = _lora_model(folder, adapter_dir)
    adapter = write_lora_gguf(adapter_dir, folder, tmp_path / "adapter.gguf")
    tokenizer, prompts = _prompts(folder, 3)
    with_lora = llama_cpp_agreement(model, tokenizer, written.path, prompts, lora_path=adapter.path)
    with model.disable_adapter():
        without = llama_cpp_agreement(model, tokenizer, written.path, prompts)
    # The adapter changes what the model says (else agreement would prove nothing), and llama.cpp changes it the
    # same way PEFT does.
    assert with_lora["reference_texts"] != without["reference_texts"]
    assert with_lora["top1_agreement"] >= 0.9, with_lora  # measured 100 %, all three answers equal


def test_a_llama_cpp_crash_is_reported_not_fatal(tiny, tmp_path):
    """The export runs llama.cpp in a child process: a file that kills llama.cpp (here a GGUF cut in half, which
    llama.cpp refuses or crashes on) becomes a report line, and this process lives on."""
    needs_llama_cpp()
    from ft_jupyter.export.gguf_check import check_with_llama_cpp_isolated

    whole = write_gguf(tiny, tmp_path / "whole.gguf")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(whole.path.read_bytes()[: whole.bytes // 2])
    _, prompts = _prompts(tiny, 1)
    result = check_with_llama_cpp_isolated(tiny, broken, prompts, max_new_tokens=4)
    assert "llama.cpp died on broken.gguf" in result["crashed"]
    assert check_with_llama_cpp_isolated(tiny, whole.path, prompts, max_new_tokens=4)["tokens_equal"] == [True]


def test_llama_cpp_runs_a_q8_0_file_close_to_transformers(tiny, tiny_gguf):
    """q8_0 blocks run on llama.cpp's integer kernels, a path f16 never takes: a build using CPU features the
    machine traps dies here (reported by the child process, so this fails instead of killing pytest)."""
    needs_llama_cpp()
    from ft_jupyter.export.gguf_check import check_with_llama_cpp_isolated

    _, prompts = _prompts(tiny)
    result = check_with_llama_cpp_isolated(tiny, tiny_gguf["q8_0"].path, prompts, max_new_tokens=16)
    assert "crashed" not in result, result.get("crashed")
    assert result["tokens_equal"] == [True] * len(prompts)
    assert result["top1_agreement"] >= 0.8, result  # measured 90 % (teacher-forced, 5 prompts)
