"""configs/defenses_all.yaml names every registered defense and generic attack, and `ragpoison list` shows them.

The adaptive attacks (those aimed at defenses) are run by ``ragpoison robustness``, which adds each to the chains
it aims at; tests/eval/test_robustness.py covers them.
"""

from pathlib import Path

from ragpoison.eval.cli import main
from ragpoison.eval.config import load_config
from ragpoison.eval.runner import check_names, plan_cells
from ragpoison.rag.registry import ATTACKS, DEFENSES

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_defense_meets_every_registered_attack():
    config = load_config(ROOT / "configs/defenses_all.yaml")
    defenses = {spec.name for spec in config.defenses}
    attacks = {spec.name for spec in config.attacks}
    assert set(DEFENSES.names()) | {"none"} <= defenses
    generic = {name for name in ATTACKS.names() if not ATTACKS.get(name).aims_at}
    assert generic | {"none"} == attacks
    chains = check_names(config)  # every name and parameter resolves before anything heavy runs
    assert set(chains) == defenses
    assert len(plan_cells(config)) == len(config.attacks) * len(config.defenses)


def test_list_defenses_prints_each_name_with_its_description(capsys):
    assert main(["list", "defenses"]) == 0
    out = capsys.readouterr().out
    for name, description in DEFENSES.describe().items():
        assert f"{name}" in out and description in out


def test_a_defense_listed_twice_is_refused_rather_than_silently_merged():
    import pytest
    from ragpoison.rag.errors import InputError

    config = load_config(None, ["defenses=[dedup, {name: dedup, params: {max_cosine: 0.9}}]"])
    with pytest.raises(InputError, match="listed twice"):
        check_names(config)
