import pytest

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ft_jupyter.models.tiny import build_tiny_random

    return build_tiny_random(tmp_path_factory.mktemp("tiny") / "model")


def test_tokenizer_is_identical_after_save_and_reload(tiny):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    raw = Tokenizer.from_file(str(tiny / "tokenizer.json"))
    auto = AutoTokenizer.from_pretrained(str(tiny))
    text = "My order #4471 arrived broken — can I get a refund? Привет! <|im_end|>"
    assert auto(text, add_special_tokens=False)["input_ids"] == raw.encode(text, add_special_tokens=False).ids
    assert auto.decode(auto(text, add_special_tokens=False)["input_ids"]) == text


def test_chat_template_marks_assistant_turns_and_ends_them_with_eos(tiny):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny))
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "question"}]
    out = tok.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    marked = [i for i, m in zip(ids, mask, strict=True) if m]
    assert tok.decode(marked) == "question<|im_end|>"
    assert marked[-1] == tok.eos_token_id


def test_it_is_a_small_llama(tiny):
    import json

    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(tiny))
    assert config.model_type == "llama"
    model = AutoModelForCausalLM.from_pretrained(str(tiny))
    n = sum(p.numel() for p in model.parameters())
    assert 300_000 < n < 3_000_000
    assert json.loads((tiny / "ft_jupyter.json").read_text())["recipe"] == "tiny-random"
