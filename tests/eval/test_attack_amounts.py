"""Per-attack poison amounts and the paraphrase retrieval mode as config keys and grid axes."""

import pytest
from ragpoison.eval.config import load_config, load_configs
from ragpoison.eval.runner import conditions, run_experiment
from ragpoison.rag.errors import InputError


def _write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_an_attack_may_name_its_own_amounts(tmp_path):
    config = load_config(_write(tmp_path, """
attacks:
  - none
  - poisonedrag-blackbox
  - {name: corpus-poisoning, poison_rate: 0.03}
  - {name: content-edit, poison_per_target: [1, 3], poison_rate: [0.01]}
poison_per_target: [5]
"""))
    amounts = [(c.attack.name, c.amount) for c in conditions(config)]
    assert amounts == [("none", "0"), ("poisonedrag-blackbox", "N5"), ("corpus-poisoning", "r0.03"),
                       ("content-edit", "N1"), ("content-edit", "N3"), ("content-edit", "r0.01")]


def test_bad_attack_amounts_and_modes_name_the_key(tmp_path):
    with pytest.raises(InputError, match=r"attacks.1.poison_rate"):
        load_config(_write(tmp_path, "attacks: [none, {name: corpus-poisoning, poison_rate: 2}]\n"))
    with pytest.raises(InputError, match=r"attacks.0.poison_per_target"):
        load_config(_write(tmp_path, "attacks: [{name: content-edit, poison_per_target: 0}]\n"))
    with pytest.raises(InputError, match=r"retrieval_mode"):
        load_config(_write(tmp_path, "retrieval_mode: rephrase\n"))


def test_paraphrase_mode_is_a_grid_axis_and_only_the_retriever_sees_the_paraphrase(tiny, tmp_path):
    configs = load_configs(_write(tmp_path, "k: 3\nfetch_k: 6\nattacks: [none, poisonedrag-blackbox]\n"),
                           ["retrieval_mode=[question, paraphrase]", "poison_per_target=1"],
                           {k: str(v) for k, v in tiny.items()})
    assert [c.retrieval_mode for c in configs] == ["question", "paraphrase"]
    assert configs[0].scope_hash() != configs[1].scope_hash()
    plain, para = (run_experiment(c) for c in configs)
    for trial in para.trials:
        assert trial.retrieval_mode == "paraphrase" and trial.retrieval_query != trial.question
    for trial in plain.trials:
        assert trial.retrieval_query == trial.question
    assert {t.question for t in plain.trials} == {t.question for t in para.trials}, "the reader reads as asked"
    assert {c.retrieval_mode for c in para.summary} == {"paraphrase"}
