import json

import pytest
from ragpoison.rag.errors import InputError
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets

from tests.builders import medrag_line, write_corpus, write_questions


def test_loads_medrag_corpus_with_provenance(tiny):
    corpus = load_corpus(tiny["corpus"])
    assert len(corpus) == 10
    assert corpus["tox_1"]["title"] == "Acetaminophen overdose"
    assert corpus["tox_1"]["text"].startswith("N-acetylcysteine is the antidote")
    assert corpus["tox_1"]["source"] == "statpearls"
    assert corpus["tox_1"]["published"] == "2020-01-01"


def test_content_derived_from_contents_when_absent(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "a", "title": "T", "contents": "T. body text"}) + "\n")
    assert load_corpus(path)["a"]["text"] == "body text"


def test_source_inferred_from_medrag_folder_and_pmid_prefix(tmp_path):
    (tmp_path / "statpearls" / "chunk").mkdir(parents=True)
    (tmp_path / "statpearls" / "chunk" / "a.jsonl").write_text(medrag_line("sp_0", "T", "text a") + "\n")
    (tmp_path / "textbooks" / "chunk").mkdir(parents=True)
    (tmp_path / "textbooks" / "chunk" / "b.jsonl").write_text(medrag_line("tb_0", "T", "text b") + "\n")
    (tmp_path / "misc").mkdir()
    (tmp_path / "misc" / "c.jsonl").write_text(medrag_line("PMID:90000001", "T", "text c") + "\n"
                                               + medrag_line("x_0", "T", "text d") + "\n")
    corpus = load_corpus(tmp_path)
    assert corpus["sp_0"]["source"] == "statpearls"
    assert corpus["tb_0"]["source"] == "textbook"
    assert corpus["PMID:90000001"]["source"] == "pubmed"
    assert corpus["PMID:90000001"]["reference"] == "PMID:90000001"
    assert corpus["x_0"]["source"] == "unknown"


@pytest.mark.parametrize("lines, message", [
    (['{"id": "a", "title": "T", "content": "x"}', '{"id": "b", "title": '], "c.jsonl:2: malformed JSON"),
    (['{"title": "T", "content": "x"}'], "c.jsonl:1: field 'id'"),
    (['{"id": "a", "title": "T"}'], "c.jsonl:1: field 'content'"),
    (['{"id": "a", "title": "T", "content": "  "}'], "c.jsonl:1: field 'content'"),
    (['{"id": "a", "content": "x"}', '{"id": "a", "content": "y"}'], "c.jsonl:2: field 'id': duplicate id 'a'"),
    (['[1, 2]'], "c.jsonl:1: expected a JSON object"),
    (['{"id": "a", "content": "x", "source": 3}'], "c.jsonl:1: field 'source'"),
])
def test_bad_corpus_lines_name_file_line_and_field(tmp_path, lines, message):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_corpus(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_empty_and_missing_corpus(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="corpus is empty"):
        load_corpus(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="no such file"):
        load_corpus(tmp_path / "nope.jsonl")
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match="no .jsonl files"):
        load_corpus(tmp_path / "dir")


def test_questions_keyed_by_dataset_and_validated(tiny, tmp_path):
    questions = load_questions(tiny["questions"])
    assert set(questions) == {"tiny/0001", "tiny/0002", "tiny/0003", "tiny/0004"}
    assert questions["tiny/0001"].answer == "B"
    bad = write_questions(tmp_path / "bad", {"0001": ("Q?", {"A": "x", "B": "y", "C": "z", "D": "w"}, "E")})
    with pytest.raises(InputError, match=r"field 'tiny/0001.answer': answer 'E' not among options A, B, C, D"):
        load_questions(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"tiny": {\n "0001": }')
    with pytest.raises(InputError, match=r"broken.json:2: malformed JSON"):
        load_questions(broken)


def test_targets_accept_plain_and_dataset_keys(tiny, tmp_path):
    questions = load_questions(tiny["questions"])
    targets = load_targets(tiny["targets"], questions, seed=0)
    assert targets["tiny/0001"].option == "C" and targets["tiny/0001"].severity == "high"
    prefixed = tmp_path / "t.json"
    prefixed.write_text(json.dumps({"tiny/0002": {"target": "D", "severity": "low"}}))
    assert load_targets(prefixed, questions, seed=0)["tiny/0002"].option == "D"


@pytest.mark.parametrize("content, message", [
    ({"0001": {"target": "B"}}, "target is the correct answer"),
    ({"0001": {"target": "Z"}}, "target 'Z' not among options"),
    ({"9999": {"target": "A"}}, "names no question"),
    ({"0001": {"target": "A", "severity": "extreme"}}, "severity 'extreme'"),
])
def test_bad_targets(tiny, tmp_path, content, message):
    questions = load_questions(tiny["questions"])
    path = tmp_path / "t.json"
    path.write_text(json.dumps(content))
    with pytest.raises(InputError, match=message):
        load_targets(path, questions, seed=0)


def test_missing_targets_are_seeded_wrong_options(tiny):
    questions = load_questions(tiny["questions"])
    first = load_targets(None, questions, seed=3)
    again = load_targets(None, questions, seed=3)
    assert first == again
    for qid, target in first.items():
        assert target.assigned_by_seed
        assert target.option != questions[qid].answer
        assert target.option in questions[qid].options
    seeds = {tuple(t.option for t in load_targets(None, questions, seed=s).values()) for s in range(8)}
    assert len(seeds) > 1


def test_corpus_loader_accepts_folder_of_files(tmp_path):
    write_corpus(tmp_path / "a", [("x1", "T", "alpha text", "pubmed")])
    write_corpus(tmp_path / "b", [("x2", "T", "beta text", "guideline")])
    assert set(load_corpus(tmp_path)) == {"x1", "x2"}
