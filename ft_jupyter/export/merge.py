"""Merge a LoRA adapter into its base and prove the merged model answers like the adapter.

The merge runs on an fp32 copy of the base, never on the 4-bit base a QLoRA run trained on (adding a small update to
dequantized 4-bit weights and re-quantizing loses it), and only the result is cast to the storage dtype. Casting
can still lose a small adapter: W + ΔW rounded to bf16 keeps 8 bits of mantissa, so an update much smaller than the
weight it is added to vanishes. Verification measures exactly that on probe conversations from the run's own test
split:

- fp32 merged logits against the adapter model's (`allclose`): the merge itself is right;
- greedy answers of the cast copy against the adapter's: what a user will see;
- effect retained = 1 − ‖logits(cast) − logits(adapter)‖ / ‖logits(adapter) − logits(base)‖: the share of what
  fine-tuning changed that survives the cast. Below 90 % the report says to store fp16 or fp32 instead.

The cast copy is evaluated in fp32 arithmetic (weights rounded to the storage dtype, then widened): that isolates the
storage loss, and bf16 matmuls are slow on CPUs.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError

MERGE_DTYPES = ("float32", "float16", "bfloat16")
EFFECT_WARN = 0.90  # below this share of the adapter's effect surviving the cast, recommend a wider dtype
ATOL, RTOL = 1e-3, 1e-4  # fp32 merged vs adapter logits: summation order differs, nothing else may
PROBES = 8
# End-of-turn tokens of the chat families the kit knows; generation must stop at whichever the vocabulary has.
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "</s>", "<end_of_turn>")


@dataclass
class MergeReport:
    run_id: str
    folder: str
    dtype: str
    method: str  # lora / qlora / dora… merged, or full / freeze cast
    probes: int  # conversations compared
    tokens: int  # logit positions compared
    fp32_max_abs_diff: float  # merged (fp32) vs adapter model
    fp32_allclose: bool
    cast_max_abs_diff: float  # cast copy vs adapter model
    effect_retained: float  # share of the fine-tune's effect on the logits kept by the cast copy
    greedy_equal: int  # probes whose greedy answer is the same after the cast
    bytes: int
    seconds: float
    chat_template: str  # what the folder's chat template is and why
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.fp32_allclose and self.greedy_equal == self.probes and self.effect_retained >= EFFECT_WARN

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def __str__(self) -> str:
        verdict = "verified" if self.ok else "CHECK THE WARNINGS"
        lines = [
            f"Merged run {self.run_id} into {self.folder} ({self.dtype}, {self.bytes / 1e6:.1f} MB, "
            f"{self.seconds:.1f} s): {verdict}",
            f"  fp32 merge vs adapter: max |Δlogit| {self.fp32_max_abs_diff:.2e} over {self.tokens} positions "
            f"({'allclose' if self.fp32_allclose else 'NOT close'})",
            f"  {self.dtype} copy: max |Δlogit| {self.cast_max_abs_diff:.2e}, fine-tune effect retained "
            f"{100 * self.effect_retained:.1f} %, greedy answers equal {self.greedy_equal}/{self.probes}",
            f"  chat template: {self.chat_template}",
        ]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def plain_chat_template(template: str) -> str:
    """The template without TRL's {% generation %} markers: they only mark the loss, and servers that run their own
    Jinja (llama.cpp, vLLM's older versions) do not know the tag."""
    return re.sub(r"\{%-?\s*(end)?generation\s*-?%\}", "", template)


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """Ids generation must stop at: the tokenizer's EOS and every end-of-turn token its vocabulary has."""
    vocab = tokenizer.get_vocab()
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids += [vocab[t] for t in END_OF_TURN if t in vocab]
    return list(dict.fromkeys(ids))


def probe_conversations(run_dir: Any, n: int = PROBES) -> tuple[list[list[dict[str, str]]], int]:
    """Up to n full conversations (prompt + reference answer) from the run's test split (validation, then train, when
    it has none), and a greedy budget long enough for their answers."""
    from ft_jupyter.data.prepare import prepare

    config = run_dir.config()
    data = prepare(config.data, seed=config.training.seed, progress=False)
    rows = (data.test or data.validation or data.train)[:n]
    return [list(e.messages) for e in rows], (24 if data.labels else 48)


def _positions(tokenizer: Any, conversations: list[list[dict[str, str]]]) -> Any:
    from ft_jupyter.evaluate.generation import padding_on

    texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations]
    with padding_on(tokenizer, "right"):
        return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)


def logits_at(model: Any, batch: Any) -> Any:
    """fp32 logits at every real (unpadded) position, flattened to (positions, vocab)."""
    import torch

    with torch.inference_mode():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return out[batch["attention_mask"].bool()].float()


def _fp32_base(config: Any) -> Any:
    """The run's base model in fp32, as published (never quantized), for evaluation."""
    from ft_jupyter.models.loading import load_model

    return load_model(config.model, "fp32").eval()


def refuse_classifier(run_dir: Any) -> None:
    """ConfigError for a classification-head run: there is no language model to merge or ship."""
    if run_dir.config().method.method == "head":
        raise ConfigError(
            f"Run {run_dir.run_id} trained a classification head (method 'head'): it predicts labels "
            "and is no language model, so merging, GGUF and Ollama do not apply. Load its model/ folder "
            "with transformers' AutoModelForSequenceClassification to serve it."
        )


def _load_tuned_fp32(run_dir: Any):
    """(tuned model in fp32, tokenizer, is_adapter): the adapter on an fp32 base, or a full/freeze run's weights."""
    from ft_jupyter.models.loading import load_model, load_tokenizer

    config = run_dir.config()
    artifact = run_dir.artifact_path()
    if artifact is None:
        raise ConfigError(
            f"Run {run_dir.run_id} has no adapter/ or model/ folder (state: "
            f"{run_dir.status().get('state')}); export a finished or stopped run."
        )
    refuse_classifier(run_dir)
    tokenizer = load_tokenizer(config.model, artifact)  # the tokenizer the run trained with, saved beside it
    if artifact.name == "model":
        return load_model(config.model, "fp32", source=artifact).eval(), tokenizer, False
    from peft import PeftModel

    return PeftModel.from_pretrained(_fp32_base(config), str(artifact)).eval(), tokenizer, True


def _storage_dtype(name: str, config: Any) -> str:
    if name == "auto":  # what the base was published in (not what it was loaded as here: fp32); fp32 stays fp32
        from transformers import AutoConfig

        from ft_jupyter.models.catalogue import resolve

        published = AutoConfig.from_pretrained(
            resolve(config.model.name, revision=config.model.revision),
            revision=config.model.revision,
            trust_remote_code=config.model.trust_remote_code,
        ).dtype
        published = str(published or "float32").replace("torch.", "")
        return published if published in MERGE_DTYPES else "float32"
    if name not in MERGE_DTYPES:
        raise ConfigError(f"merge dtype {name!r} is not one of {', '.join(MERGE_DTYPES)} (or auto: the base's own).")
    return name


def _rounded_copy(model: Any, dtype: Any) -> dict[str, Any]:
    """The fp32 state the cast copy computes with: every floating weight rounded to `dtype` and widened again."""
    import torch

    return {k: (v.to(dtype).to(torch.float32) if v.is_floating_point() else v) for k, v in model.state_dict().items()}


def merge_run(
    run: Any,
    *,
    runs_dir: str | Path = "runs",
    dtype: str = "auto",
    probes: int = PROBES,
    probe_set: tuple[list[list[dict[str, str]]], int] | None = None,
    progress: bool | None = None,
) -> MergeReport:
    """Merge the run's adapter (or cast a full/freeze run's weights) into runs/<id>/export/merged-<dtype>/, verify it
    against the adapter, and write merged-<dtype>.json beside it. Returns the report (printable).
    probe_set: the (conversations, budget) of `probe_conversations`, when the caller has them already."""
    import torch

    from ft_jupyter.evaluate.generation import generate_answers
    from ft_jupyter.evaluate.runs import open_run
    from ft_jupyter.export.folder import export_dir, folder_bytes, staged, write_json
    from ft_jupyter.progress import progress_bar

    started = time.perf_counter()
    run_dir, _ = open_run(run, runs_dir)
    config = run_dir.config()
    conversations, budget = probe_set or probe_conversations(run_dir, probes)
    with progress_bar(6, f"Merging {run_dir.run_id}", unit="steps", progress=progress) as bar:
        tuned, tokenizer, is_adapter = _load_tuned_fp32(run_dir)
        storage = _storage_dtype(dtype, config)
        batch = _positions(tokenizer, conversations)
        prompts = [c[:-1] for c in conversations]
        bar.update()
        reference = logits_at(tuned, batch)
        reference_answers = generate_answers(tuned, tokenizer, prompts, max_new_tokens=budget, progress=False)
        if is_adapter:
            with tuned.disable_adapter():
                base = logits_at(tuned, batch)
            merged = tuned.merge_and_unload()
        else:
            base = logits_at(_fp32_base(config), batch)
            merged = tuned
        bar.update()
        fp32 = logits_at(merged, batch)
        bar.update()
        exact_state = {k: v.clone() for k, v in merged.state_dict().items()}
        merged.load_state_dict(_rounded_copy(merged, getattr(torch, storage)))
        cast = logits_at(merged, batch)
        cast_answers = generate_answers(merged, tokenizer, prompts, max_new_tokens=budget, progress=False)
        merged.load_state_dict(exact_state)
        bar.update()
        effect = float(torch.linalg.norm(reference - base))
        error = float(torch.linalg.norm(cast - reference))
        retained = max(0.0, 1.0 - error / effect) if effect > 0 else 1.0
        target = export_dir(run_dir.path) / f"merged-{storage}"
        with staged(target) as tmp:
            template_note = _save_folder(merged.to(getattr(torch, storage)), tokenizer, tmp, conversations)
        bar.update()
        report = MergeReport(
            run_id=run_dir.run_id,
            folder=str(target),
            dtype=storage,
            method=config.method.method,
            probes=len(conversations),
            tokens=int(reference.shape[0]),
            fp32_max_abs_diff=float((fp32 - reference).abs().max()),
            fp32_allclose=bool(torch.allclose(fp32, reference, atol=ATOL, rtol=RTOL)),
            cast_max_abs_diff=float((cast - reference).abs().max()),
            effect_retained=retained,
            greedy_equal=sum(a == b for a, b in zip(reference_answers, cast_answers, strict=True)),
            bytes=folder_bytes(target),
            seconds=time.perf_counter() - started,
            chat_template=template_note,
        )
        report.warnings = _warnings(report, effect)
        write_json(target.with_name(target.name + ".json"), report.to_json())
        bar.update()
    return report


def _save_folder(model: Any, tokenizer: Any, out: Path, conversations: list[list[dict[str, str]]]) -> str:
    """Weights, tokenizer with the run's chat template, and a generation config that stops at end of turn."""
    model.save_pretrained(out, safe_serialization=True)
    note = "the run's own chat template"
    original = tokenizer.chat_template
    plain = plain_chat_template(original or "")
    if original and plain != original:
        same = all(_render(tokenizer, original, c) == _render(tokenizer, plain, c) for c in conversations)
        if same:
            tokenizer.chat_template = plain
            note = "the run's chat template without its training-only {% generation %} markers (renders identically)"
    try:
        tokenizer.save_pretrained(out)
    finally:
        tokenizer.chat_template = original
    generation = model.generation_config
    generation.eos_token_id = end_of_turn_ids(tokenizer)
    generation.pad_token_id = tokenizer.pad_token_id
    generation.do_sample = False
    for name in ("temperature", "top_p", "top_k"):  # greedy by default: sampling knobs would only warn
        setattr(generation, name, None)
    generation.save_pretrained(out)
    return note


def _render(tokenizer: Any, template: str, conversation: list[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(conversation, chat_template=template, tokenize=False)


def _warnings(report: MergeReport, effect: float) -> list[str]:
    out = []
    if not report.fp32_allclose:
        out.append(
            f"the fp32 merge differs from the adapter by up to {report.fp32_max_abs_diff:.2e} in the logits; "
            "the adapter does not merge cleanly (check that it was trained on this base model)."
        )
    if effect == 0:
        out.append("the adapter does not change the logits at all: did the run train? (check its loss curve)")
    if report.effect_retained < EFFECT_WARN:
        wider = "float32" if report.dtype == "float16" else "float16 (or float32)"
        out.append(
            f"storing in {report.dtype} keeps only {100 * report.effect_retained:.1f} % of the fine-tune's "
            f"effect; export with dtype {wider}, or serve the adapter unmerged."
        )
    if report.greedy_equal < report.probes:
        out.append(
            f"{report.probes - report.greedy_equal} of {report.probes} greedy answers change after the cast "
            f"to {report.dtype}."
        )
    return out
