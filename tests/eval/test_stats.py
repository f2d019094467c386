import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ragpoison.eval.metrics import wilson_interval
from ragpoison.eval.stats import bound_at_rate, mcnemar_exact, questions_needed, wilson_bound, wilson_bounds, z_for


def test_z_and_bounds_match_the_95_percent_interval():
    assert z_for(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert wilson_bounds(3, 69) == pytest.approx(wilson_interval(3, 69))
    # 0 of 65: the upper bound is z^2 / (n + z^2).
    assert wilson_bound(0, 65, "upper") == pytest.approx(1.959964**2 / (65 + 1.959964**2))
    assert wilson_bound(65, 65, "lower") == pytest.approx(65 / (65 + 1.959964**2))
    assert math.isnan(wilson_bound(0, 0, "upper"))


@given(st.integers(1, 500), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_bounds_bracket_the_rate_and_widen_with_confidence(n, data, confidence):
    k = data.draw(st.integers(0, n))
    low, high = wilson_bounds(k, n, confidence)
    assert 0.0 <= low <= k / n <= high <= 1.0
    wider = wilson_bounds(k, n, 0.999)
    assert wider[0] <= low + 1e-12 and wider[1] >= high - 1e-12


def test_questions_needed_for_a_zero_rate():
    needed = questions_needed(0.0, 0.05, "upper")
    # z^2 / (n + z^2) <= 0.05  <=>  n >= 19 z^2 = 72.99
    assert needed == 73
    assert wilson_bound(0, needed, "upper") <= 0.05 < wilson_bound(0, needed - 1, "upper")


@given(st.floats(0.0, 0.3), st.floats(0.05, 0.5), st.sampled_from(["upper", "lower"]))
def test_questions_needed_gives_a_sample_where_the_bound_holds(rate, threshold, side):
    if side == "lower":
        rate, threshold = 1 - rate, 1 - threshold
    needed = questions_needed(rate, threshold, side)
    if (side == "upper" and rate >= threshold) or (side == "lower" and rate <= threshold):
        assert needed is None
        return
    if needed is None:  # only when more than the search limit would be needed: a rate very close to the threshold
        assert abs(rate - threshold) < 0.01
        return
    def holds(n):
        bound = bound_at_rate(rate, n, side)
        return bound <= threshold if side == "upper" else bound >= threshold

    assert holds(needed) and (needed == 1 or not holds(needed - 1))  # the least n
    assert all(holds(n) for n in (needed + 1, needed + 7, 2 * needed, 10 * needed))  # and every larger n holds


def test_mcnemar_exact_matches_the_binomial_tail():
    # 10 discordant pairs, all one way: p = 2 * 0.5^10.
    result = mcnemar_exact([False] * 10 + [True] * 5, [True] * 10 + [True] * 5)
    assert (result.only_base, result.only_new) == (0, 10)
    assert result.p_value == pytest.approx(2 / 1024)
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0
    balanced = mcnemar_exact([True, False] * 5, [False, True] * 5)
    assert balanced.p_value == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])
