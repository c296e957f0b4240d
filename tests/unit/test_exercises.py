"""Exercise checks give feedback a learner can act on: right, or which way and how far off, with the hint."""

from ft_jupyter.exercises import check_choice, check_number


def test_a_number_within_tolerance_is_right():
    feedback = check_number(10_400, 10_527, tolerance=0.02, unit="requests")
    assert feedback and feedback.message.startswith("✓") and "requests" in feedback.message


def test_a_wrong_number_says_which_way_and_gives_the_hint():
    high = check_number(100_000, 10_527, hint="Divide the training cost by the saving per request.")
    assert not high and "too high" in high.message and "about 9.5×" in high.message
    assert high.message.endswith("Divide the training cost by the saving per request.")
    assert "too low" in check_number(5, 10).message


def test_missing_or_non_numeric_answers_say_what_to_do():
    assert "No answer yet" in check_number(None, 3).message
    assert "No answer yet" in check_number(..., 3).message
    assert "not a number" in check_number("lots", 3).message


def test_a_choice_is_matched_case_blind_and_wrong_ones_get_their_reason():
    why = {"prompt": "A prompt reaches only 40 %.", "fine-tune": "It clears the bar at the lowest cost."}
    assert check_choice("Fine-Tune", "fine-tune", choices=("prompt", "fine-tune"), why=why)
    wrong = check_choice("prompt", "fine-tune", choices=("prompt", "fine-tune"), why=why)
    assert not wrong and "40 %" in wrong.message
    assert "one of" in check_choice("rag", "fine-tune", choices=("prompt", "fine-tune"), why=why).message
