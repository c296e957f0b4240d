""" "Show as code": Python that rebuilds a RunConfig exactly, so a notebook stays reproducible after an edit in the
config panel or the lab sidebar (both render through here).

Every value is written with `repr`, never pasted into a template as text, so a model name or an instruction with
quotes, backslashes or newlines cannot break (or inject into) the generated cell.
"""

from __future__ import annotations

import dataclasses

from ft_jupyter.config.run import SECTIONS, RunConfig


def _non_default_fields(section) -> list[tuple[str, object]]:
    out = []
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if value != default:
            out.append((f.name, value))
    return out


def config_to_code(config: RunConfig, variable: str = "config") -> str:
    """Python source that assigns an equal RunConfig to `variable`; only fields that differ from defaults appear."""
    if not variable.isidentifier():
        raise ValueError(f"variable = {variable!r} is not a Python identifier; use a name such as 'config'.")
    used = [key for key in SECTIONS if _non_default_fields(getattr(config, key))]
    classes = sorted({"RunConfig", *(SECTIONS[key].__name__ for key in used)})
    lines = [f"from ft_jupyter.config import {', '.join(classes)}", "", f"{variable} = RunConfig("]
    lines.append(f"    name={config.name!r},")
    lines.append(f"    runs_dir={config.runs_dir!r},")
    for key in used:
        args = [f"{name}={value!r}" for name, value in _non_default_fields(getattr(config, key))]
        one_line = f"    {key}={SECTIONS[key].__name__}({', '.join(args)}),"
        if len(one_line) <= 110:
            lines.append(one_line)
        else:
            lines.append(f"    {key}={SECTIONS[key].__name__}(")
            lines += [f"        {arg}," for arg in args]
            lines.append("    ),")
    lines.append(")")
    return "\n".join(lines) + "\n"
