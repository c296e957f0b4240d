"""Chat playground: one prompt, the base model's answer and the adapter's answer side by side, with latency.

Both answers come from one loaded model: the adapter is switched off (`disable_adapter`) for the base answer, so
the comparison costs no second copy of the weights and differs only in the adapter.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ft_jupyter.config import ConfigError


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy: the same prompt always gives the same answer
    top_p: float = 0.95
    repetition_penalty: float = 1.0

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty}
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs


@dataclass(frozen=True)
class Answer:
    text: str
    latency_s: float
    new_tokens: int

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.latency_s if self.latency_s > 0 else 0.0


class ChatSession:
    """A base model with one LoRA adapter attached; `answer(..., adapter=False)` answers as the base model."""

    def __init__(self, model_name: str, adapter: str | Path):
        from ft_jupyter.models.inference import load_for_inference

        adapter = Path(adapter)
        if not (adapter / "adapter_config.json").is_file():
            raise ConfigError(
                f"{str(adapter)!r} holds no LoRA adapter (adapter_config.json). The playground "
                "compares a base model with its adapter; full and freeze runs save a whole model."
            )
        self.model_name = model_name
        self.adapter_path = adapter
        self.model, self.tokenizer = load_for_inference(model_name, adapter=adapter)

    @classmethod
    def from_run(cls, run: Any) -> ChatSession:
        """From a run folder, RunDir, RunResult or TrainingView that saved an adapter."""
        from ft_jupyter.ui.training import as_run_dir

        run_dir = as_run_dir(run)
        artifact = run_dir.artifact_path()
        if artifact is None:
            raise ConfigError(f"Run {run_dir.run_id} has no saved adapter yet; wait for it to finish or stop it.")
        if run_dir.config().method.method == "head":
            raise ConfigError(
                f"Run {run_dir.run_id} trained a classification head (method 'head'): it predicts "
                "labels and cannot chat. Score it with ft_jupyter.evaluate.compare(run)."
            )
        return cls(run_dir.config().model.name, artifact)

    def answer(
        self, messages: list[dict[str, str]], *, adapter: bool, settings: GenerationSettings = GenerationSettings()
    ) -> Answer:
        import contextlib

        import torch

        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        switch = contextlib.nullcontext() if adapter else self.model.disable_adapter()
        started = time.perf_counter()
        with switch, torch.inference_mode():
            out = self.model.generate(
                **enc,
                **settings.generate_kwargs(),
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
        latency = time.perf_counter() - started
        new = out[0, enc["input_ids"].shape[1] :]
        return Answer(self.tokenizer.decode(new, skip_special_tokens=True).strip(), latency, int(new.shape[0]))

    def compare(
        self, prompt: str, system: str = "", settings: GenerationSettings = GenerationSettings()
    ) -> tuple[Answer, Answer]:
        """(base answer, adapter answer) to one user prompt."""
        messages = ([{"role": "system", "content": system}] if system.strip() else []) + [
            {"role": "user", "content": prompt}
        ]
        return self.answer(messages, adapter=False, settings=settings), self.answer(
            messages, adapter=True, settings=settings
        )


def answer_html(title: str, answer: Answer | None, colour: str) -> str:
    body = "<i>…</i>" if answer is None else html.escape(answer.text or "(empty answer)").replace("\n", "<br>")
    stats = (
        ""
        if answer is None
        else (f"{answer.latency_s:.2f} s · {answer.new_tokens} tokens · {answer.tokens_per_second:.1f} tokens/s")
    )
    return (
        f"<div style='border-top:3px solid {colour};padding:4px 8px;min-height:80px'><b>{html.escape(title)}"
        f"</b><div style='margin:6px 0;white-space:normal'>{body}</div>"
        f"<div style='color:#546e7a;font-size:0.9em' class='jp-ft-latency'>{stats}</div></div>"
    )


class ChatPlayground:
    def __init__(self, session: ChatSession, prompt: str = ""):
        self.session = session
        self.system = widgets.Text(
            description="system", placeholder="optional system message", layout={"width": "100%"}
        )
        self.prompt = widgets.Textarea(value=prompt, description="prompt", layout={"width": "100%", "height": "90px"})
        self.max_new_tokens = widgets.IntSlider(value=64, min=1, max=512, description="max tokens")
        self.temperature = widgets.FloatSlider(
            value=0.0,
            min=0.0,
            max=1.5,
            step=0.05,
            description="temperature",
            tooltip="0 = greedy (deterministic); higher = more varied",
        )
        self.top_p = widgets.FloatSlider(value=0.95, min=0.05, max=1.0, step=0.05, description="top_p")
        self.button = widgets.Button(description="Generate both", button_style="primary", icon="play")
        self.button.on_click(lambda _: self.generate())
        self.base_out = widgets.HTML(answer_html("base model", None, "#78909c"))
        self.tuned_out = widgets.HTML(answer_html("with adapter", None, "#1565c0"))
        for w in (self.base_out, self.tuned_out):
            w.layout = {"width": "50%"}
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    f"<b>{html.escape(session.model_name)}</b> · adapter "
                    f"<code>{html.escape(str(session.adapter_path))}</code> (one model in memory; the adapter "
                    "is switched off for the base answer)"
                ),
                self.system,
                self.prompt,
                widgets.HBox([self.max_new_tokens, self.temperature, self.top_p]),
                self.button,
                widgets.HBox([self.base_out, self.tuned_out]),
            ]
        )
        self.widget.add_class("jp-ft-chat")
        self.last: tuple[Answer, Answer] | None = None

    def settings(self) -> GenerationSettings:
        return GenerationSettings(self.max_new_tokens.value, self.temperature.value, self.top_p.value)

    def generate(self) -> tuple[Answer, Answer] | None:
        if not self.prompt.value.strip():
            self.base_out.value = answer_html("base model", Answer("(type a prompt first)", 0.0, 0), "#78909c")
            return None
        self.button.disabled = True
        try:
            self.last = self.session.compare(self.prompt.value, self.system.value, self.settings())
        finally:
            self.button.disabled = False
        self.base_out.value = answer_html("base model", self.last[0], "#78909c")
        self.tuned_out.value = answer_html("with adapter", self.last[1], "#1565c0")
        return self.last

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def chat_playground(
    run: Any = None, *, model: str | None = None, adapter: str | Path | None = None, prompt: str = ""
) -> ChatPlayground:
    """Side-by-side chat for a finished run folder, or for `model` + `adapter` given directly."""
    if run is not None:
        session = ChatSession.from_run(run)
    elif model and adapter:
        session = ChatSession(model, adapter)
    else:
        raise ConfigError("Give a run folder, or both model= and adapter=.")
    return ChatPlayground(session, prompt)
