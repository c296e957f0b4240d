import pytest

from ft_jupyter.evaluate.economics import cost_crossover, worked_example
from ft_jupyter.evaluate.latency import cost_per_1k_requests, percentile


def test_the_lessons_worked_example():
    example = worked_example()
    low, high = example["$100"], example["$1,000"]
    # 1,000 vs 50 prompt tokens at $10 per million: $0.01 vs $0.0005 per request, $0.0095 saved each time.
    assert low.api_cost_per_request == pytest.approx(0.01) and low.tuned_cost_per_request == pytest.approx(0.0005)
    assert low.break_even_requests == 10_527 and high.break_even_requests == 105_264
    # "1 million requests: $10,000 in input tokens vs $500" (+ the training).
    assert low.costs_at(1_000_000) == pytest.approx((10_000.0, 600.0))
    assert low.break_even_requests >= 10_000 and high.break_even_requests <= 110_000


def test_the_break_even_point_is_where_the_totals_cross():
    c = cost_crossover(api_prompt_tokens=800, tuned_prompt_tokens=100, price_per_million=5.0, training_cost=42.0)
    api, tuned = c.costs_at(c.break_even_requests)
    assert api >= tuned
    api, tuned = c.costs_at(c.break_even_requests - 1)
    assert api < tuned


def test_no_saving_per_request_never_pays_back():
    c = cost_crossover(api_prompt_tokens=50, tuned_prompt_tokens=50, price_per_million=10.0, training_cost=1.0)
    assert c.break_even_requests is None and "never pays back" in str(c)
    selfhosted = cost_crossover(
        api_prompt_tokens=1000,
        tuned_prompt_tokens=50,
        price_per_million=10.0,
        training_cost=100.0,
        tuned_cost_per_1k=20.0,
    )  # $0.02 a request: dearer than the API
    assert selfhosted.break_even_requests is None


def test_cost_per_1k_requests_and_percentiles():
    assert cost_per_1k_requests(0.36, 1.0) == pytest.approx(0.1)  # 360 s of a $1/h machine
    assert cost_per_1k_requests(0.36, 1.0, concurrency=4) == pytest.approx(0.025)
    values = [0.1 * i for i in range(1, 21)]
    assert percentile(values, 50) == pytest.approx(1.0) and percentile(values, 95) == pytest.approx(1.9)
