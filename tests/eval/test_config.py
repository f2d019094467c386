import pytest
from ragpoison.eval.config import load_config
from ragpoison.rag.errors import InputError


def _write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_defaults_and_shorthand_lists(tmp_path):
    config = load_config(_write(tmp_path, "attacks: poisonedrag-blackbox\npoison_per_target: 3\n"))
    assert [a.name for a in config.attacks] == ["poisonedrag-blackbox"]
    assert config.poison_per_target == [3]
    assert config.retriever.kind == "dense" and config.store.kind == "faiss"
    assert config.generator.kind == "extractive" and config.k == 5


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(InputError, match=r"exp.yaml: field 'retriever.knd': unknown key"):
        load_config(_write(tmp_path, "retriever:\n  kind: dense\n  knd: x\n"))
    with pytest.raises(InputError, match=r"field 'poisn_per_target': unknown key"):
        load_config(_write(tmp_path, "poisn_per_target: 5\n"))


def test_cli_overrides_beat_yaml_and_zero_counts_as_set(tmp_path):
    path = _write(tmp_path, "seed: 5\nk: 7\n")
    config = load_config(path, ["seed=0", "retriever.kind=dense", "attacks=[none, poisonedrag-blackbox]"])
    assert config.seed == 0
    assert config.k == 7
    assert [a.name for a in config.attacks] == ["none", "poisonedrag-blackbox"]


def test_data_paths_relative_to_config_file(tmp_path):
    config = load_config(_write(tmp_path, "data:\n  corpus: c.jsonl\n  questions: q.json\n"))
    assert config.data.corpus == str(tmp_path / "c.jsonl")


def test_bad_values_and_files(tmp_path):
    with pytest.raises(InputError, match=r"field 'k'"):
        load_config(_write(tmp_path, "k: 0\n"))
    with pytest.raises(InputError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match=r"exp.yaml:2: malformed YAML"):
        load_config(_write(tmp_path, "k: 5\n  bad: [\n"))
    with pytest.raises(InputError, match=r"expected dotted.key=value"):
        load_config(None, ["k"])
