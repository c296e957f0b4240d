"""One call from a finished run to everything needed to ship it: merged and verified, GGUF checked, an Ollama
Modelfile, quantized copies re-measured, batched throughput, and the commands to serve it elsewhere.

Each step reports progress and writes its own artefact under runs/<id>/export/ as soon as it is done; the whole
report is export/report.json plus a readable export/REPORT.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_jupyter.config import ConfigError


class ExportConflict(ConfigError):
    """The run cannot be exported right now (still training, nothing saved, another export running)."""


def check_exportable(run_dir: Any) -> None:
    import os

    from ft_jupyter.export.folder import export_status
    from ft_jupyter.export.merge import refuse_classifier
    from ft_jupyter.train.store import LIVE_STATES

    state = run_dir.status().get("state")
    if state in LIVE_STATES:
        raise ExportConflict(f"Run {run_dir.run_id} is {state}; export it once it has finished or been stopped.")
    if run_dir.artifact_path() is None:
        raise ExportConflict(
            f"Run {run_dir.run_id} has no adapter/ or model/ folder (state: {state}); export a finished or stopped run."
        )
    refuse_classifier(run_dir)
    current = export_status(run_dir.path)
    if current and current.get("state") == "running" and current.get("pid") != os.getpid():
        raise ExportConflict(
            f"An export of run {run_dir.run_id} is already running (pid {current.get('pid')}); wait for it to finish."
        )


def start_export(run_dir: Any, request: ExportRequest) -> int:
    """Run `ft-jupyter export` for `run_dir` in its own process (what the sidebar's Export does); its console output
    goes to export/export.log and its state to export/status.json. Returns the process id."""
    import os
    import subprocess
    import sys
    import threading

    from ft_jupyter.export.folder import export_dir, set_export_status

    check_exportable(run_dir)
    folder = export_dir(run_dir.path)
    env = {**os.environ, "FT_JUPYTER_PROGRESS": os.environ.get("FT_JUPYTER_PROGRESS", "1")}
    with open(folder / "export.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ft_jupyter.cli", "export", str(run_dir.path), *request.argv()],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=run_dir.path,
            env=env,
            start_new_session=True,
        )
    # Written now, not when the child gets going (imports take seconds): a poll right after sees "running".
    set_export_status(run_dir.path, "running", "starting", request=request.to_json(), pid=process.pid)
    # Reap the child when it ends: an unreaped child stays a zombie, which would look alive to export_status().
    threading.Thread(target=process.wait, daemon=True, name=f"export {run_dir.run_id}").start()
    return process.pid


@dataclass(frozen=True)
class ExportRequest:
    """What to export, checked before anything is written; the CLI, the notebook panel and the sidebar build one."""

    dtype: str = "auto"
    gguf: tuple[str, ...] = ()
    lora_gguf: bool = False
    ollama: bool = False
    quantized: tuple[str, ...] = ()
    throughput: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        from ft_jupyter.export.gguf import GGUF_TYPES
        from ft_jupyter.export.merge import MERGE_DTYPES
        from ft_jupyter.export.quantized import COPIES

        if self.dtype not in ("auto", *MERGE_DTYPES):
            raise ConfigError(f"dtype {self.dtype!r} is not one of auto, {', '.join(MERGE_DTYPES)}.")
        for value, allowed, flag in ((self.gguf, GGUF_TYPES, "gguf"), (self.quantized, tuple(COPIES), "quantized")):
            bad = [v for v in value if v not in allowed]
            if bad:
                raise ConfigError(f"{flag} {bad[0]!r} is not one of {', '.join(allowed)}.")
        if any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in self.throughput):
            raise ConfigError(f"throughput batch sizes must be whole numbers ≥ 1, got {list(self.throughput)}.")
        if self.ollama and not self.gguf:
            raise ConfigError("An Ollama Modelfile points at a GGUF file: add --gguf q8_0 (or f16) to --ollama.")
        if "q8_0" in self.quantized and "q8_0" not in self.gguf:
            raise ConfigError("Measuring the q8_0 copy needs it written: add --gguf q8_0.")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportRequest:
        unknown = set(data) - {"dtype", "gguf", "lora_gguf", "ollama", "quantized", "throughput"}
        if unknown:
            raise ConfigError(
                f"unknown export option {sorted(unknown)[0]!r}; known: dtype, gguf, lora_gguf, ollama, "
                "quantized, throughput."
            )
        lists = {k: tuple(data.get(k) or ()) for k in ("gguf", "quantized", "throughput")}
        if not all(isinstance(data.get(k, []), list) for k in lists):
            raise ConfigError('gguf, quantized and throughput are lists, e.g. {"gguf": ["q8_0"]}.')
        return cls(
            dtype=str(data.get("dtype", "auto")),
            lora_gguf=bool(data.get("lora_gguf")),
            ollama=bool(data.get("ollama")),
            **lists,
        )

    def argv(self) -> list[str]:
        """The `ft-jupyter export` options that ask for this."""
        out = ["--dtype", self.dtype]
        for flag, values in (
            ("--gguf", self.gguf),
            ("--quantized", self.quantized),
            ("--throughput", tuple(map(str, self.throughput))),
        ):
            if values:
                out += [flag, ",".join(values)]
        out += ["--lora-gguf"] * self.lora_gguf + ["--ollama"] * self.ollama
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "gguf": list(self.gguf),
            "lora_gguf": self.lora_gguf,
            "ollama": self.ollama,
            "quantized": list(self.quantized),
            "throughput": list(self.throughput),
        }


@dataclass
class ExportReport:
    run_id: str
    folder: str
    merge: Any  # MergeReport
    gguf: list[dict[str, Any]] = field(default_factory=list)  # one per file: path, type, bytes, checks
    modelfile: str | None = None
    quantized: Any = None  # QuantizedReport
    throughput: list[Any] = field(default_factory=list)  # ThroughputRow per batch size
    commands: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what was skipped, and why
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "folder": self.folder,
            "merge": self.merge.to_json(),
            "gguf": self.gguf,
            "modelfile": self.modelfile,
            "quantized": self.quantized.to_json() if self.quantized else None,
            "throughput": [r.to_json() for r in self.throughput],
            "commands": self.commands,
            "notes": self.notes,
            "seconds": self.seconds,
        }

    def __str__(self) -> str:
        from ft_jupyter.export.serving import throughput_table

        parts = [f"Export of run {self.run_id} → {self.folder} ({self.seconds:.1f} s)", "", str(self.merge)]
        for g in self.gguf:
            parts.append(
                f"GGUF {g['type']}: {g['path']} ({g['bytes'] / 1e6:.1f} MB, {g['seconds']:.1f} s)"
                + "".join(f"\n  {line}" for line in _check_lines(g))
            )
        if self.modelfile:
            parts.append(f"Ollama Modelfile: {self.modelfile}")
        if self.quantized is not None:
            parts += ["", str(self.quantized)]
        if self.throughput:
            parts += ["", "Batched serving (greedy, the run's test prompts):", throughput_table(self.throughput)]
        if self.commands:
            parts += ["", "Serve it:"] + [f"  {k}: {v}" for k, v in self.commands.items()]
        parts += [f"note: {n}" for n in self.notes]
        return "\n".join(parts)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


def _check_lines(g: dict[str, Any]) -> list[str]:
    lines = []
    hf = g.get("transformers_check")
    if hf:
        lines.append(
            f"read back by transformers: max |Δlogit| {hf['max_abs_diff']:.2e}, top-1 agreement "
            f"{100 * hf['top1_agreement']:.1f} %"
        )
    cpp = g.get("llama_cpp_check")
    if cpp and "crashed" in cpp:
        lines.append(f"llama.cpp: {cpp['crashed']}")
    elif cpp:
        lines.append(
            f"llama.cpp: same tokens {cpp.get('tokens_equal')}, greedy answers equal "
            f"{cpp.get('greedy_equal')}/{cpp.get('prompts')}"
        )
    elif "llama_cpp_check" in g:
        lines.append("llama.cpp: not checked (pip install llama-cpp-python to check the file in llama.cpp itself)")
    return lines


def export_run(
    run: Any,
    *,
    runs_dir: str | Path = "runs",
    dtype: str = "auto",
    gguf: tuple[str, ...] = (),
    lora_gguf: bool = False,
    ollama: bool = False,
    quantized: tuple[str, ...] = (),
    throughput: tuple[int, ...] = (),
    price_per_hour: float | None = None,
    probes: int = 8,
    progress: bool | None = None,
) -> ExportReport:
    """Merge and verify, then each optional step asked for; see `ft-jupyter export --help` for what each does."""
    from ft_jupyter.evaluate.runs import open_run
    from ft_jupyter.export.folder import set_export_status

    request = ExportRequest(dtype, tuple(gguf), lora_gguf, ollama, tuple(quantized), tuple(throughput))
    run_dir, _ = open_run(run, runs_dir)
    check_exportable(run_dir)
    asked = request.to_json()
    set_export_status(run_dir.path, "running", "merging and verifying", request=asked)
    try:
        report = _export(
            run_dir, dtype, gguf, lora_gguf, ollama, quantized, throughput, price_per_hour, probes, progress
        )
    except BaseException as error:
        set_export_status(run_dir.path, "failed", str(error) or type(error).__name__, request=asked)
        raise
    set_export_status(
        run_dir.path,
        "finished",
        "verified" if report.merge.ok else "finished with warnings",
        request=asked,
        ok=report.merge.ok,
        seconds=report.seconds,
    )
    return report


def _export(
    run_dir: Any,
    dtype: str,
    gguf: tuple[str, ...],
    lora_gguf: bool,
    ollama: bool,
    quantized: tuple[str, ...],
    throughput: tuple[int, ...],
    price_per_hour: float | None,
    probes: int,
    progress: bool | None,
) -> ExportReport:
    from ft_jupyter.export.folder import export_dir, set_export_status, write_json
    from ft_jupyter.export.merge import merge_run, probe_conversations
    from ft_jupyter.export.serving import serving_commands

    def step(message: str) -> None:  # the sidebar's run list shows where a long export is
        set_export_status(run_dir.path, "running", message)

    started = time.perf_counter()
    folder = export_dir(run_dir.path)
    probe_set = probe_conversations(run_dir, probes)  # the same test conversations check every step
    merge = merge_run(run_dir, dtype=dtype, probe_set=probe_set, progress=progress)
    merged = Path(merge.folder)
    report = ExportReport(run_dir.run_id, str(folder), merge)
    conversations = [c[:-1] for c in probe_set[0]]
    for kind in gguf:
        step(f"writing and checking the {kind} GGUF")
        report.gguf.append(_gguf_step(merged, folder / "gguf" / f"model-{kind}.gguf", kind, conversations, progress))
    if lora_gguf:
        step("writing the adapter GGUF and its base")
        report.gguf += _lora_gguf_step(run_dir, folder, progress)
    modelfile = None
    if ollama:
        modelfile = _modelfile_step(run_dir, merged, folder, gguf, lora_gguf)
        report.modelfile = str(modelfile)
    if quantized:
        from ft_jupyter.export.quantized import quantized_copies

        step(f"scoring {', '.join(quantized)} on the test split")
        report.quantized = quantized_copies(run_dir, copies=quantized, merged=merged, progress=progress)
    if throughput:
        step("measuring batched serving")
        report.throughput = _throughput_step(run_dir, merged, conversations, throughput, price_per_hour, progress)
    report.commands = serving_commands(run_dir, merged, modelfile)
    report.seconds = time.perf_counter() - started
    write_json(folder / "report.json", report.to_json())
    (folder / "REPORT.md").write_text(f"```\n{report}\n```\n", encoding="utf-8")
    return report


def _gguf_step(
    merged: Path, out: Path, kind: str, prompts: list[list[dict[str, str]]], progress: bool | None
) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from ft_jupyter.export.gguf import write_gguf
    from ft_jupyter.export.gguf_check import check_with_llama_cpp_isolated, check_with_transformers
    from ft_jupyter.progress import progress_bar

    written = write_gguf(merged, out, type=kind, progress=progress)
    tokenizer = AutoTokenizer.from_pretrained(merged)
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    entry = {
        "path": str(written.path),
        "type": kind,
        "bytes": written.bytes,
        "tensors": written.tensors,
        "seconds": written.seconds,
    }
    with progress_bar(2, f"Checking {out.name}", unit="checks", progress=progress) as bar:
        entry["transformers_check"] = check_with_transformers(merged, written.path, texts, tokenizer=tokenizer)
        bar.update()
        entry["llama_cpp_check"] = check_with_llama_cpp_isolated(merged, written.path, texts)
        bar.update()
    return entry


def _lora_gguf_step(run_dir: Any, folder: Path, progress: bool | None) -> list[dict[str, Any]]:
    """The adapter alone as GGUF, and the base model it applies to (an adapter GGUF only works on its own base)."""
    from ft_jupyter.export.gguf import write_gguf, write_lora_gguf
    from ft_jupyter.models.catalogue import resolve

    artifact = run_dir.artifact_path()
    if artifact is None or artifact.name != "adapter":
        raise ConfigError(f"Run {run_dir.run_id} has no LoRA adapter to write as a GGUF adapter; drop --lora-gguf.")
    config = run_dir.config()
    base = Path(resolve(config.model.name, revision=config.model.revision))
    entries = []
    for written in (
        write_gguf(base, folder / "gguf" / "base-f16.gguf", type="f16", progress=progress),
        write_lora_gguf(artifact, base, folder / "gguf" / "adapter-f16.gguf", progress=progress),
    ):
        entries.append(
            {
                "path": str(written.path),
                "type": "base-f16" if written.path.name.startswith("base") else "lora-f16",
                "bytes": written.bytes,
                "tensors": written.tensors,
                "seconds": written.seconds,
            }
        )
    return entries


def _modelfile_step(run_dir: Any, merged: Path, folder: Path, gguf: tuple[str, ...], lora_gguf: bool) -> Path:
    """ollama/Modelfile on the merged GGUF; with the adapter GGUF, also Modelfile.adapter (base + ADAPTER)."""
    from transformers import AutoTokenizer

    from ft_jupyter.export.folder import staged
    from ft_jupyter.export.ollama import build_modelfile, ollama_name

    kind = "q8_0" if "q8_0" in gguf else gguf[0]
    tokenizer = AutoTokenizer.from_pretrained(merged)
    system = run_dir.config().data.system_prompt  # the run trained with it: serve with it
    name = ollama_name(run_dir.run_id)
    variants = {"Modelfile": dict(from_path=f"../gguf/model-{kind}.gguf")}
    if lora_gguf:
        variants["Modelfile.adapter"] = dict(from_path="../gguf/base-f16.gguf", adapter_path="../gguf/adapter-f16.gguf")
    for filename, paths in variants.items():
        modelfile = build_modelfile(tokenizer, system=system, name=name, **paths)
        with staged(folder / "ollama" / filename) as tmp:
            tmp.write_text(modelfile.text, encoding="utf-8")
    return folder / "ollama" / "Modelfile"


def _throughput_step(
    run_dir: Any,
    merged: Path,
    prompts: list[list[dict[str, str]]],
    sizes: tuple[int, ...],
    price_per_hour: float | None,
    progress: bool | None,
) -> list[Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ft_jupyter.export.folder import export_dir, write_json
    from ft_jupyter.export.serving import batch_throughput

    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(merged, dtype="auto" if cuda else torch.float32)
    model = model.to("cuda" if cuda else "cpu").eval()
    tokenizer = AutoTokenizer.from_pretrained(merged)
    price = run_dir.config().training.price_per_hour if price_per_hour is None else price_per_hour
    rows = batch_throughput(
        model, tokenizer, prompts, batch_sizes=sizes, requests=max(sizes), price_per_hour=price, progress=progress
    )
    write_json(
        export_dir(run_dir.path) / "serving.json", {"rows": [r.to_json() for r in rows], "price_per_hour": price}
    )
    return rows
