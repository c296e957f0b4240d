"""Proof that a GGUF file says what its Hugging Face folder says, read back by two independent readers.

- `check_with_transformers`: transformers' own GGUF loader dequantizes the file, renames the tensors back and undoes
  the Q/K reorder; its logits against the folder's, in fp32, test the name map, the reorder and the quantization
  together. A wrong reorder does not crash anything: it only shows here, as logits that disagree.
- `check_with_llama_cpp`: the runtime users will actually serve with (Ollama embeds llama.cpp). It tests what the
  first check cannot: llama.cpp's tokenizer against the folder's (the vocabulary, merges, pre-tokenizer and special
  tokens written into the file) and its greedy answers. Returns None when llama-cpp-python is not installed.

Both compare on the prompts given, as full strings (a rendered chat template, special tokens included).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LLAMA_CPP_HINT = "pip install llama-cpp-python  (builds from source in ~5-7 min when no wheel fits)"


def check_with_transformers(
    model_dir: str | Path, gguf_path: str | Path, prompts: list[str], *, tokenizer=None
) -> dict[str, Any]:
    """Logits of the GGUF (dequantized by transformers) against the folder's model, both fp32, at every position of
    every prompt. f16 files land within float16 rounding (see `relative_diff`); q8_0 within a few per cent."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir, gguf_path = Path(model_dir), Path(gguf_path)
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(model_dir))
    reference = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    restored = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
    ).eval()
    max_diff, total_diff, scale, agree, positions = 0.0, 0.0, 0.0, 0, 0
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([tokenizer(prompt)["input_ids"]])
            want, got = reference(ids).logits[0], restored(ids).logits[0]
            diff = (want - got).abs()
            max_diff = max(max_diff, float(diff.max()))
            total_diff += float(diff.mean()) * len(want)
            scale = max(scale, float(want.abs().max()))
            agree += int((want.argmax(-1) == got.argmax(-1)).sum())
            positions += len(want)
    return {
        "prompts": len(prompts),
        "positions": positions,
        "max_abs_diff": max_diff,
        "mean_abs_diff": total_diff / max(positions, 1),
        "logit_scale": scale,
        "relative_diff": max_diff / scale if scale else 0.0,  # max error as a share of the largest logit
        "top1_agreement": agree / max(positions, 1),
    }


def check_with_llama_cpp(
    model_dir: str | Path,
    gguf_path: str | Path,
    prompts: list[str],
    *,
    max_new_tokens: int = 16,
    lora_path: str | Path | None = None,
) -> dict[str, Any] | None:
    """Tokens, greedy answers and top-1 agreement of llama.cpp on the GGUF (plus an adapter GGUF with `lora_path`)
    against the folder's model; None when llama-cpp-python is not installed."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    return llama_cpp_agreement(model, tokenizer, gguf_path, prompts, max_new_tokens=max_new_tokens, lora_path=lora_path)


def llama_cpp_agreement(
    model,
    tokenizer,
    gguf_path: str | Path,
    prompts: list[str],
    *,
    max_new_tokens: int = 16,
    lora_path: str | Path | None = None,
) -> dict[str, Any]:
    """`check_with_llama_cpp` against a model already loaded: a PEFT model, to test an adapter GGUF without merging.

    top1_agreement is teacher-forced: llama.cpp reads the reference's greedy answer and predicts each next token, so
    one early difference does not count against every token after it."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ImportError(f"llama-cpp-python is not installed; {LLAMA_CPP_HINT}") from None
    import torch

    stop = _stop_ids(model, tokenizer)
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    n_ctx = max(512, max(len(ids) for ids in encoded) + max_new_tokens + 8)
    llm = Llama(
        model_path=str(gguf_path),
        lora_path=str(lora_path) if lora_path else None,
        n_ctx=n_ctx,
        logits_all=False,
        verbose=False,
        n_threads=2,
        seed=0,
    )
    rows = []
    try:
        for prompt, ids in zip(prompts, encoded, strict=True):
            theirs = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            with torch.inference_mode():
                out = model.generate(
                    torch.tensor([ids]),
                    attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    eos_token_id=sorted(stop),
                    pad_token_id=tokenizer.pad_token_id,
                )
            reference = _until_stop(out[0, len(ids) :].tolist(), stop)
            rows.append(
                {
                    "tokens_equal": list(theirs) == list(ids),
                    "reference": reference,
                    "llama_cpp": _greedy(llm, ids, max_new_tokens, stop),
                    "agree": _teacher_forced(llm, ids, reference),
                }
            )
    finally:
        llm.close()
    texts = [(tokenizer.decode(r["reference"]), tokenizer.decode(r["llama_cpp"])) for r in rows]
    return {
        "prompts": len(prompts),
        "tokens_equal": [r["tokens_equal"] for r in rows],
        "greedy_equal": sum(a == b for a, b in texts),
        "top1_agreement": sum(r["agree"] for r in rows) / max(sum(len(r["reference"]) for r in rows), 1),
        "reference_texts": [a for a, _ in texts],
        "llama_cpp_texts": [b for _, b in texts],
    }


def _stop_ids(model, tokenizer) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
    return {i for i in ids if i is not None}


def _until_stop(tokens: list[int], stop: set[int]) -> list[int]:
    for i, token in enumerate(tokens):
        if token in stop:
            return tokens[: i + 1]
    return tokens


def _next_token(llm) -> int:
    """Argmax of the logits after the last token evaluated, as transformers' greedy search takes it (llama.cpp's
    sampler chain would add its own defaults). With logits_all=False, Llama keeps no copy of them: read the
    context's."""
    import llama_cpp
    import numpy as np

    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
    return int(np.argmax(logits))


def _greedy(llm, ids: list[int], max_new_tokens: int, stop: set[int]) -> list[int]:
    llm.reset()
    llm.eval(ids)
    out: list[int] = []
    while len(out) < max_new_tokens:
        token = _next_token(llm)
        out.append(token)
        if token in stop:
            break
        llm.eval([token])
    return out


def _teacher_forced(llm, ids: list[int], reference: list[int]) -> int:
    llm.reset()
    llm.eval(ids)
    agree = 0
    for token in reference:
        agree += _next_token(llm) == token
        llm.eval([token])
    return agree


def check_with_llama_cpp_isolated(
    model_dir: str | Path,
    gguf_path: str | Path,
    prompts: list[str],
    *,
    max_new_tokens: int = 16,
    timeout_s: float = 900,
) -> dict[str, Any] | None:
    """`check_with_llama_cpp` in a child process, so that llama.cpp dying inside native code (an illegal instruction
    on a CPU that advertises AMX but traps it, out of memory) becomes a reported failure instead of taking the kernel
    or the export with it. None when llama-cpp-python is not installed."""
    import importlib.util
    import json
    import signal
    import subprocess
    import sys
    import tempfile

    if importlib.util.find_spec("llama_cpp") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        request = Path(tmp) / "request.json"
        request.write_text(
            json.dumps(
                {
                    "model_dir": str(model_dir),
                    "gguf": str(gguf_path),
                    "prompts": prompts,
                    "max_new_tokens": max_new_tokens,
                }
            ),
            encoding="utf-8",
        )
        done = subprocess.run(
            [sys.executable, "-m", "ft_jupyter.export.gguf_check", str(request)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1])
    how = f"signal {signal.Signals(-done.returncode).name}" if done.returncode < 0 else f"exit code {done.returncode}"
    said = [line for line in done.stderr.strip().splitlines() if line.strip() and "it/s]" not in line]
    tail = " | ".join(said[-3:])  # progress bars say nothing about why it died
    return {
        "crashed": f"llama.cpp died on {Path(gguf_path).name} ({how}){': ' + tail if tail else ''}. An illegal "
        "instruction usually means a llama.cpp build using CPU features this machine traps (e.g. "
        "AMX): rebuild with CMAKE_ARGS='-DGGML_NATIVE=OFF' (see the README's export section)."
    }


def _main(argv: list[str]) -> int:
    import json

    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = check_with_llama_cpp(
        request["model_dir"], request["gguf"], request["prompts"], max_new_tokens=request["max_new_tokens"]
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
