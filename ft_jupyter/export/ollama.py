"""Ollama Modelfiles whose TEMPLATE renders prompts as the model's own chat template does.

Ollama never runs Jinja: it keeps a GGUF's chat template only when it nearly matches one it ships, and otherwise
prompts the model with the bare text, so a fine-tuned model that learned ChatML would see no turn markers at all.
The Modelfile therefore carries its own Go `text/template` for the model's family, the stop strings that end a
turn, and the system prompt the chat template inserts by default.

BOS: the Go templates never write it. llama.cpp (inside Ollama) prepends BOS itself when the GGUF says
`add_bos_token`, and would read a written `<|begin_of_text|>` as a second one. A template that starts with
`{{ bos_token }}` therefore matches `reference_prompt`, the Hugging Face render with that leading text removed.

Known differences no Go template can remove: Llama-3's template trims each message, Ollama cannot (no trim
function), so leading/trailing whitespace in a message is kept; Ollama merges consecutive messages of one role and
gathers every system message at the start.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ft_jupyter.data.templates import original_template

FAMILIES = ("chatml", "llama3", "mistral")
TEMPLATE_DOCS = "https://github.com/ollama/ollama/blob/main/docs/template.md"
_MARKERS = {"chatml": "<|im_start|>", "llama3": "<|start_header_id|>", "mistral": "[INST]"}
# End-of-turn tokens first; then the tokens that open a turn, so a model that forgets to end its turn stops
# before writing the user's next line itself (Ollama's own templates stop on both).
_STOPS = {
    "chatml": ("<|im_end|>", "<|im_start|>"),
    "llama3": ("<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>"),
    "mistral": ("</s>", "[INST]", "[/INST]"),
}

# Each template prints .System once at the start (Mistral: inside the first user turn) and skips system entries
# in .Messages, because recent Ollama passes the system prompt both ways. Every template begins and ends with an
# action so no whitespace sits at the edges of the Modelfile's """ block.
_GO_TEMPLATES = {
    "chatml": """{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range .Messages }}{{ if ne .Role "system" }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}{{ end }}
{{- with .Messages }}<|im_start|>assistant
{{ end }}""",
    "llama3": """{{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>
{{- end }}
{{- range .Messages }}{{ if ne .Role "system" }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}{{ end }}
{{- with .Messages }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}""",
    "mistral": """{{- $first := true }}
{{- range .Messages }}
{{- if eq .Role "user" }} [INST] {{ if and $first $.System }}{{ $.System }}

{{ end }}{{ .Content }} [/INST]
{{- $first = false }}
{{- else if eq .Role "assistant" }} {{ .Content }}</s>
{{- end }}
{{- end }}""",
}

# Sentinels for probing a chat template: no spaces, nothing a template would change.
_S, _U1, _A1, _U2 = "SYS-q7x", "USR1-q7x", "AST1-q7x", "USR2-q7x"


class TemplateNotSupported(ValueError):
    """The model's chat template is not one this kit can restate as an Ollama TEMPLATE."""


def _unsupported(seen: str, why: str) -> TemplateNotSupported:
    shown = seen if len(seen) <= 120 else seen[:117] + "..."
    supported = ", ".join(f"{f} ({_MARKERS[f]})" for f in FAMILIES)
    return TemplateNotSupported(
        f"Cannot write an Ollama TEMPLATE for the chat template {shown!r}: {why}. Supported families, by marker: "
        f"{supported}. Write the TEMPLATE by hand in Go template syntax ({TEMPLATE_DOCS}), check it with "
        "ft_jupyter.export.ollama.render_with_go against tokenizer.apply_chat_template, and put it in the Modelfile."
    )


def ollama_name(run_id: str) -> str:
    """The Ollama model name for a run: Ollama model names are lower case."""
    return run_id.lower()


def detect_family(chat_template: str) -> str:
    for family in FAMILIES:
        if _MARKERS[family] in chat_template:
            return family
    raise _unsupported(chat_template, "it contains none of the known turn markers")


def go_template(family: str) -> str:
    if family not in _GO_TEMPLATES:
        raise ValueError(f"Unknown template family {family!r}; expected one of {', '.join(FAMILIES)}.")
    return _GO_TEMPLATES[family]


def reference_prompt(tokenizer, messages: list[dict]) -> str:
    """The Hugging Face prompt the Go template must equal: without leading BOS text that llama.cpp adds itself."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    bos = tokenizer.bos_token
    if isinstance(bos, str) and bos and "bos_token" in original_template(tokenizer) and text.startswith(bos):
        return text[len(bos) :]
    return text


def default_system_prompt(tokenizer) -> str | None:
    """The system prompt the chat template writes when the chat has none (SmolLM2 has one), else None."""
    try:
        with_system = reference_prompt(tokenizer, [{"role": "system", "content": _S}, {"role": "user", "content": _U1}])
    except Exception:  # templates that refuse system messages (raise_exception) cannot have a default either
        return None
    without = reference_prompt(tokenizer, [{"role": "user", "content": _U1}])
    if with_system.count(_S) != 1:
        return None
    before, after = with_system.split(_S)
    # The default is whatever fills the system slot when the chat leaves it empty.
    if len(before) + len(after) < len(without) and without.startswith(before) and without.endswith(after):
        return without[len(before) : len(without) - len(after)]
    return None


def stop_tokens(tokenizer, family: str) -> list[str]:
    vocab = tokenizer.get_vocab()
    if family not in _STOPS:
        raise ValueError(f"Unknown template family {family!r}; expected one of {', '.join(FAMILIES)}.")
    found = [t for t in _STOPS[family] if t in vocab]
    eos = tokenizer.eos_token
    if isinstance(eos, str) and eos and eos not in found:
        found.append(eos)
    return found


def _expected_probes(family: str, system: str | None) -> tuple[str, str]:
    """What go_template(family) writes for a user/assistant/user chat, and for a system + user chat."""
    if family == "mistral":
        head = f"{system}\n\n" if system else ""
        return (f" [INST] {head}{_U1} [/INST] {_A1}</s> [INST] {_U2} [/INST]", f" [INST] {_S}\n\n{_U1} [/INST]")
    if family == "chatml":

        def turn(role, text):
            return f"<|im_start|>{role}\n{text}<|im_end|>\n"

        gen = "<|im_start|>assistant\n"
    else:

        def turn(role, text):
            return f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"

        gen = "<|start_header_id|>assistant<|end_header_id|>\n\n"
    head = turn("system", system) if system else ""
    return (
        head + turn("user", _U1) + turn("assistant", _A1) + turn("user", _U2) + gen,
        turn("system", _S) + turn("user", _U1) + gen,
    )


def _check_layout(tokenizer, family: str, default_system: str | None) -> None:
    # A marker only names the family; variants (Llama-3.1's date header, Mistral v0.3's spacing, Llama-2's <<SYS>>)
    # lay turns out differently, and a TEMPLATE that silently disagrees with training is worse than none.
    chat = [{"role": "user", "content": _U1}, {"role": "assistant", "content": _A1}, {"role": "user", "content": _U2}]
    want_chat, want_system = _expected_probes(family, default_system)
    got_chat = reference_prompt(tokenizer, chat)
    try:
        got_system = reference_prompt(tokenizer, [{"role": "system", "content": _S}, {"role": "user", "content": _U1}])
    except Exception:  # refuses system messages (Mistral v0.1's first template): no system layout to disagree with
        got_system = want_system
    for want, got in ((want_chat, got_chat), (want_system, got_system)):
        if got != want:
            raise _unsupported(
                original_template(tokenizer),
                f"it looks like {family} but renders a probe chat "
                f"as {got!r} where the {family} TEMPLATE would write {want!r}",
            )


@dataclass(frozen=True)
class Modelfile:
    """A Modelfile's text; run `create_command` in the folder it is written to (FROM is relative to it). Its
    TEMPLATE writes no BOS: llama.cpp adds it from the GGUF, so the prompt equals `reference_prompt`, the Hugging
    Face render minus a leading `{{ bos_token }}`, once tokenized."""

    text: str
    family: str
    stops: list[str]
    system: str | None
    name: str = "ft-jupyter-model"

    @property
    def create_command(self) -> str:
        return f"ollama create {self.name} -f Modelfile"

    @property
    def run_command(self) -> str:
        return f"ollama run {self.name}"


def _value(what: str, value: object) -> str:
    """One Modelfile value, quoted the way Ollama's parser reads it back unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if '"' in text or not text.isprintable() or not text:
        raise ValueError(
            f"{what} = {text!r} cannot be written on one Modelfile line: it is empty or holds a double "
            "quote, a newline or another unprintable character. Rename the file or choose another value."
        )
    return f'"{text}"' if any(c.isspace() for c in text) or what == "stop" else text


def _block(what: str, text: str) -> str:
    # Ollama ends a """ block at the first """ and drops characters that Go's strconv.IsPrint rejects.
    bad = sorted({c for c in text if not c.isprintable() and c not in "\n\t"})
    problem = 'three double quotes (""")' if '"""' in text else f"unprintable characters {bad!r}" if bad else ""
    if problem:
        raise ValueError(
            f'The {what} text cannot go in a Modelfile """ block: it contains {problem}, which '
            "Ollama's parser would cut or drop. Edit the text and build the Modelfile again."
        )
    return f'{what.upper()} """{text}"""'


def build_modelfile(
    tokenizer,
    *,
    from_path: str,
    adapter_path: str | None = None,
    system: str | None = None,
    parameters: dict | None = None,
    name: str = "ft-jupyter-model",
) -> Modelfile:
    """Paths are written as given, and Ollama resolves them against the Modelfile's folder. `system` replaces
    the template's default system prompt (`system=""` leaves it out); `parameters` add to or override
    `temperature 0`, and a "stop" entry adds stop strings (the end-of-turn ones always stay)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]*", name):
        raise ValueError(
            f"Model name {name!r} is not one Ollama accepts: use letters, digits, '.', '_', '-', "
            "':' (tag) and '/' (namespace), starting with a letter or digit."
        )
    family = detect_family(original_template(tokenizer))
    default = default_system_prompt(tokenizer)
    _check_layout(tokenizer, family, default)
    chosen = default if system is None else system
    params = {"temperature": 0, **(parameters or {})}
    extra = params.pop("stop", None) or []
    stops = stop_tokens(tokenizer, family)
    stops += [s for s in ([extra] if isinstance(extra, str) else extra) if s not in stops]
    lines = [
        f"# Written by ft-jupyter. Ollama does not run the model's Jinja chat template, so TEMPLATE restates it "
        f"({family}); BOS is left to llama.cpp.",
        f"FROM {_value('FROM', from_path)}",
    ]
    if adapter_path is not None:
        lines.append(f"ADAPTER {_value('ADAPTER', adapter_path)}")
    lines.append(_block("template", go_template(family)))
    if chosen:
        lines.append(_block("system", chosen))
    lines += [f"PARAMETER stop {_value('stop', s)}" for s in stops]
    for key, value in params.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", key):
            raise ValueError(f"Parameter name {key!r} is not valid in a Modelfile: use letters, digits and '_'.")
        for item in value if isinstance(value, (list, tuple)) else [] if value is None else [value]:
            lines.append(f"PARAMETER {key} {_value(key, item)}")
    return Modelfile("\n".join(lines) + "\n", family, stops, chosen or None, name)


# Mirrors what Ollama hands a template that uses .Messages: the chat handler puts the Modelfile SYSTEM in front
# when the chat starts without one, collate() merges consecutive same-role messages and joins every system
# message into .System, and the system entries stay in .Messages (the "passed twice" trap).
_GO_PROGRAM = r"""package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

type message struct{ Role, Content string }

func die(err error) { fmt.Fprintln(os.Stderr, err); os.Exit(1) }

func main() {
	var req struct {
		Template, DefaultSystem string
		Messages                []message
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		die(err)
	}
	msgs := req.Messages
	if len(msgs) > 0 && msgs[0].Role != "system" && req.DefaultSystem != "" {
		msgs = append([]message{{"system", req.DefaultSystem}}, msgs...)
	}
	var systems []string
	var merged []*message
	for i := range msgs {
		m := msgs[i]
		if m.Role == "system" {
			systems = append(systems, m.Content)
		}
		if n := len(merged); n > 0 && merged[n-1].Role == m.Role && m.Role != "tool" {
			merged[n-1].Content += "\n\n" + m.Content
		} else {
			merged = append(merged, &m)
		}
	}
	funcs := template.FuncMap{"json": func(v interface{}) string { b, _ := json.Marshal(v); return string(b) }}
	tmpl, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(req.Template)
	if err != nil {
		die(err)
	}
	if err := tmpl.Execute(os.Stdout, map[string]interface{}{"System": strings.Join(systems, "\n\n"),
		"Messages": merged, "Tools": nil, "Response": "", "Think": false, "IsThinkSet": false}); err != nil {
		die(err)
	}
}
"""

_BINARIES: dict[str, Path] = {}


def _renderer(go: str) -> Path:
    """Build the renderer once per process: `go run` costs seconds a call, the built binary milliseconds."""
    go_path = shutil.which(go)
    if go_path is None:
        raise FileNotFoundError(
            f"Rendering an Ollama TEMPLATE needs Go's text/template, but {go!r} is not on "
            "PATH. Install it with `apt-get install golang-go` (Debian/Ubuntu) or from "
            "https://go.dev/dl/, or pass go='/path/to/go'."
        )
    if go_path not in _BINARIES:
        folder = Path(tempfile.mkdtemp(prefix="ft-jupyter-gotmpl-"))
        atexit.register(shutil.rmtree, folder, True)
        (folder / "main.go").write_text(_GO_PROGRAM)
        env = dict(os.environ, CGO_ENABLED="0")
        if "GOCACHE" not in env and not (env.get("HOME") or env.get("XDG_CACHE_HOME")):
            env["GOCACHE"] = str(folder / "gocache")  # go refuses to build without a cache folder
        done = subprocess.run(
            [go_path, "build", "-o", "render", "main.go"], cwd=folder, capture_output=True, text=True, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(f"`{go_path} build` of the template renderer in {folder} failed:\n{done.stderr}")
        _BINARIES[go_path] = folder / "render"
    return _BINARIES[go_path]


def render_with_go(template: str, messages: list[dict], *, system: str | None = None, go: str = "go") -> str:
    """Render `template` with Go's text/template on the data Ollama would give it; `system` is the Modelfile's
    SYSTEM (used when the chat has no system message of its own)."""
    request = {
        "Template": template,
        "DefaultSystem": system or "",
        "Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages],
    }
    done = subprocess.run([str(_renderer(go))], input=json.dumps(request).encode(), capture_output=True)
    if done.returncode != 0:
        raise ValueError(f"Go could not render the template: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode()
