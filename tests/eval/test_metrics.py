import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ragpoison.eval import metrics


def test_wilson_interval_known_values():
    low, high = metrics.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    assert metrics.wilson_interval(0, 10)[0] == 0.0
    assert metrics.wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert all(math.isnan(x) for x in metrics.wilson_interval(0, 0))


@given(n=st.integers(1, 500), data=st.data())
def test_wilson_contains_the_estimate_and_stays_in_unit_interval(n, data):
    s = data.draw(st.integers(0, n))
    low, high = metrics.wilson_interval(s, n)
    assert 0.0 <= low <= s / n <= high <= 1.0


def test_flip_rate_counts_only_clean_correct_questions():
    assert metrics.flip_rate([True, True, False, True], [True, False, True, True]) == pytest.approx(2 / 3)
    assert math.isnan(metrics.flip_rate([False], [True]))


def test_poison_retrieval_metrics():
    context = [["p1", "c1", "p2"], ["c2", "c3", "c4"]]
    poison = {"p1", "p2", "p3"}
    assert metrics.poison_precision(context, poison, k=3) == pytest.approx((2 / 3 + 0) / 2)
    assert metrics.poison_recall(context, [{"p1", "p2"}, {"p3"}], k=3) == pytest.approx((1 + 0) / 2)
    assert metrics.poison_hit_rate(context, poison, k=3) == 0.5
    assert metrics.f1(0.5, 0.5) == 0.5 and metrics.f1(0.0, 0.0) == 0.0


@given(st.lists(st.tuples(st.lists(st.sampled_from(["p1", "p2", "c1", "c2", "c3"]), max_size=5, unique=True),
                          st.sets(st.sampled_from(["p1", "p2"]), min_size=1)), min_size=1, max_size=20),
       st.integers(1, 5))
def test_retrieval_metrics_stay_in_unit_interval(rows, k):
    context = [c for c, _ in rows]
    own = [o for _, o in rows]
    for value in (metrics.poison_precision(context, {"p1", "p2"}, k), metrics.poison_recall(context, own, k),
                  metrics.poison_hit_rate(context, {"p1", "p2"}, k)):
        assert 0.0 <= value <= 1.0
