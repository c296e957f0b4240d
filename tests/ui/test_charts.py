"""The lesson charts draw exactly the measured numbers: one bar per rung for the score and for the prompt tokens,
and the learning curve's points with the prompted baselines as the lines to beat."""

import pytest

from ft_jupyter import ui
from ft_jupyter.evaluate.comparison import Comparison
from ft_jupyter.evaluate.learning_curve import CurvePoint, LearningCurve


def _comparison() -> Comparison:
    scores = {
        "base": {"accuracy": 0.1},
        "prompted": {"accuracy": 0.45},
        "retrieved": {"accuracy": 0.6},
        "finetuned": {"accuracy": 0.8},
    }
    return Comparison(
        "r1",
        "classification",
        "accuracy",
        20,
        4,
        "sys",
        scores,
        rows=[],
        prompt_tokens={"base": 60.0, "prompted": 420.0, "retrieved": 455.0, "finetuned": 60.0},
    )


def test_the_ladder_has_a_bar_per_rung_for_score_and_prompt_tokens():
    figure = ui.ladder_chart(_comparison())
    score, tokens = figure.data
    assert list(score.x) == ["base, zero-shot", "base + prompt", "base + retrieved examples", "fine-tuned"]
    assert list(score.y) == [10.0, 45.0, 60.0, 80.0]
    assert list(tokens.y) == [60.0, 420.0, 455.0, 60.0]


def test_a_comparison_without_the_retrieval_rung_draws_three_bars():
    comparison = _comparison()
    del comparison.scores["retrieved"]
    assert len(ui.ladder_chart(comparison).data[0].x) == 3


def test_the_learning_curve_plots_each_size_and_the_baselines_to_beat():
    curve = LearningCurve(
        "accuracy", 30, [CurvePoint(50, "a", 0.4, 10.0, 7), CurvePoint(150, "b", 0.7, 30.0, 19)], {"prompted": 0.45}
    )
    figure = ui.learning_curve_chart(curve)
    assert list(figure.data[0].x) == [50, 150] and list(figure.data[0].y) == [40.0, 70.0]
    assert [shape.y0 for shape in figure.layout.shapes] == [45.0]
    assert curve.gain_per_100_rows() == [pytest.approx(30.0)]
