import doctest

from hypothesis import given
from hypothesis import strategies as st

from videonav.agent.evaluation import metrics
from videonav.agent.evaluation.metrics import (
    evidence_recall,
    grounding_f1,
    intersection,
    length,
    union,
    visited_precision,
)


def test_doctests():
    assert doctest.testmod(metrics).failed == 0


def test_parent_and_child_visited_together_count_once():
    truth = [(10.0, 20.0)]
    parent, child = (0.0, 40.0), (10.0, 20.0)
    assert evidence_recall([parent, child], truth) == evidence_recall([parent], truth) == 1.0
    assert visited_precision([parent, child], truth) == visited_precision([parent], truth) == 0.25


spans = st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)).map(lambda t: (min(t), max(t))), max_size=6)


@given(spans, spans)
def test_properties(a, b):
    assert 0 <= intersection(a, b) <= min(length(a), length(b)) + 1e-9
    assert abs(intersection(a, b) - intersection(b, a)) < 1e-9
    assert length(a + a) == length(a)  # re-reading adds nothing
    u = union(a)
    assert all(u[i][1] < u[i + 1][0] for i in range(len(u) - 1))
    assert 0 <= grounding_f1(a, b) <= 1
