"""BENCH_SCALE_ONLY: the scale bench runs only the scenarios named."""

from __future__ import annotations

import pytest

from accessible_lib.bench import scale


def test_only_the_named_scenarios_run_in_their_usual_order():
    assert scale.chosen_scenarios({"BENCH_SCALE_ONLY": "search, home"}) == ["home", "search"]
    assert scale.chosen_scenarios({"BENCH_SCALE_ONLY": "browse lists"}) == ["browse lists"]
    assert scale.chosen_scenarios({}) == [name for name, *_ in scale.SCENARIOS]


def test_an_unknown_scenario_is_refused_with_the_known_ones():
    with pytest.raises(RuntimeError, match="no scenario serach.*search"):
        scale.chosen_scenarios({"BENCH_SCALE_ONLY": "serach"})
