"""Checks for the lessons' exercises: each says whether the learner's answer is right and, when it is not, which
way it is off and what to look at again, instead of only printing the expected value.

Pure standard library; a lesson calls one of these in the cell after its exercise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feedback:
    ok: bool
    message: str

    def __str__(self) -> str:
        return self.message

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the message, not the fields
        printer.text(self.message)

    def __bool__(self) -> bool:
        return self.ok


def check_number(
    answer: object, expected: float, *, tolerance: float = 0.05, unit: str = "", hint: str = ""
) -> Feedback:
    """Whether `answer` is within `tolerance` (a share of `expected`) of it; the message says too high or too low
    and by how much, plus `hint` when it is off."""
    if answer is None or answer is ...:
        return Feedback(False, "✗ No answer yet: set the variable in the exercise cell, run it, then run this cell.")
    try:
        value = float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Feedback(False, f"✗ {answer!r} is not a number; give one, e.g. 12 or 3.5.")
    unit_text = f" {unit}" if unit else ""
    margin = abs(expected) * tolerance
    if abs(value - expected) <= margin:
        return Feedback(True, f"✓ Right: {value:,.4g}{unit_text} (expected {expected:,.4g}{unit_text}).")
    direction = "high" if value > expected else "low"
    ratio = value / expected if expected else float("inf")
    size = f"about {ratio:.2g}× the answer" if expected and ratio > 0 else "off"
    return Feedback(False, f"✗ {value:,.4g}{unit_text} is too {direction} ({size}). {hint}".rstrip())


def check_choice(answer: object, expected: str, *, choices: tuple[str, ...], why: dict[str, str]) -> Feedback:
    """Whether `answer` names the expected choice; a wrong choice gets the reason it is wrong from `why`."""
    text = str(answer).strip().lower() if answer not in (None, ...) else ""
    allowed = {c.lower(): c for c in choices}
    if text not in allowed:
        return Feedback(False, f"✗ Answer with one of: {', '.join(choices)}.")
    chosen = allowed[text]
    if chosen == expected:
        return Feedback(True, f"✓ Right: {chosen}. {why.get(chosen, '')}".rstrip())
    return Feedback(False, f"✗ Not {chosen}: {why.get(chosen, 'look at the measurements again.')}")
