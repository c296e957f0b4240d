"""Data problems a person can act on: where (file:line or row), what is wrong, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass

from ft_jupyter.config import ConfigError


@dataclass(frozen=True)
class Problem:
    where: str  # "emails.jsonl:12", "emails.csv:4" (the CSV line, header = 1) or "row 12" for in-memory data
    what: str
    fix: str
    code: str  # machine-readable kind, e.g. "invalid-json", "unknown-role", "empty-content"
    line: int = 0  # line (files) or row index (in-memory, Parquet): orders problems and lets a UI jump there

    def __str__(self) -> str:
        return f"{self.where}: {self.what} {self.fix}".strip()

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "what": self.what, "fix": self.fix, "code": self.code, "line": self.line}


class DataError(ConfigError):
    """Input data that cannot be used as it is. `problems` lists every located problem found before stopping."""

    def __init__(self, problems: list[Problem], summary: str = ""):
        self.problems = list(problems)
        lines = [summary] if summary else []
        shown = self.problems[:20]
        lines += [str(p) for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"... and {len(self.problems) - len(shown)} more problems.")
        super().__init__("\n".join(lines))


def problems_table(problems: list[Problem], limit: int = 50) -> str:
    """The problems as aligned text lines, most useful first (in file order), capped at `limit`."""
    if not problems:
        return "No problems found."
    width = min(max(len(p.where) for p in problems[:limit]), 40)
    lines = [f"{p.where:<{width}}  {p.what} {p.fix}".rstrip() for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more ({len(problems)} problems in all).")
    return "\n".join(lines)
