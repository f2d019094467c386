"""Structural rules of the bundled clinical_mini set: passages, provenance, questions and targets."""

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from ragpoison.corpora import bundled
from ragpoison.rag.generators._text import tokens
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets

PATHS = bundled("clinical_mini")
SOURCES = {"pubmed", "statpearls", "textbook", "guideline"}
FIELDS = ("id", "title", "content", "contents", "source", "published", "reference", "topic")
# Synthetic references only: PMID-like numbers far above what PubMed has assigned, or ragpoison.invalid URLs.
MIN_SYNTHETIC_PMID = 90_000_000
PMID_REF = re.compile(r"PMID:(\d{8,9})")
URL_REF = re.compile(r"https://ragpoison\.invalid/\S+")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LETTERS = ["A", "B", "C", "D"]


def _no_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    duplicated = sorted(key for key, count in Counter(keys).items() if count > 1)
    if duplicated:
        raise ValueError(f"duplicate keys {duplicated}")
    return dict(pairs)


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys)


@pytest.fixture(scope="module")
def passages() -> list[dict]:
    files = sorted(PATHS["corpus"].rglob("*.jsonl"))
    assert files, "no corpus files"
    rows = []
    for file in files:
        for line_no, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            assert raw.strip(), f"{file.name}:{line_no} is blank"
            rows.append(json.loads(raw, object_pairs_hook=_no_duplicate_keys))
    return rows


@pytest.fixture(scope="module")
def question_file() -> dict:
    return _read_json(PATHS["questions"])


@pytest.fixture(scope="module")
def targets() -> dict:
    return _read_json(PATHS["targets"])


def _questions(question_file: dict) -> list[tuple[str, dict]]:
    return [(f"{dataset}/{qid}", item) for dataset, items in question_file.items() for qid, item in items.items()]


def test_size_and_topic_spread(passages):
    assert len(passages) >= 300
    topics = Counter(p["topic"] for p in passages)
    assert len(topics) >= 50
    # No topic may crowd out the rest: each is a handful of passages.
    assert max(topics.values()) <= 10


def test_every_passage_has_all_fields_as_nonempty_strings(passages):
    bad = [(p.get("id"), field) for p in passages for field in FIELDS
           if not isinstance(p.get(field), str) or not p[field].strip()]
    assert not bad


def test_ids_titles_and_references_are_unique(passages):
    for field in ("id", "reference", "contents"):
        counts = Counter(p[field] for p in passages)
        assert not [value for value, n in counts.items() if n > 1], field


def test_passages_are_40_to_120_words(passages):
    wrong = {p["id"]: len(p["content"].split()) for p in passages if not 40 <= len(p["content"].split()) <= 120}
    assert not wrong


def test_contents_is_title_then_content(passages):
    assert not [p["id"] for p in passages if p["contents"] != f"{p['title']}. {p['content']}"]


def test_provenance_source_date_and_reference(passages):
    today = dt.date.today()
    for p in passages:
        assert p["source"] in SOURCES, p["id"]
        assert ISO_DATE.fullmatch(p["published"]), p["id"]
        published = dt.date.fromisoformat(p["published"])
        assert dt.date(1990, 1, 1) <= published <= today, p["id"]
        pmid = PMID_REF.fullmatch(p["reference"])
        if pmid:
            assert int(pmid.group(1)) >= MIN_SYNTHETIC_PMID, p["id"]
        else:
            assert URL_REF.fullmatch(p["reference"]), p["id"]


def test_a_passage_is_not_dated_before_a_year_it_cites(passages):
    for p in passages:
        years = [int(y) for y in re.findall(r"\b(?:19|20)\d{2}\b", p["content"])]
        assert not years or max(years) <= int(p["published"][:4]), p["id"]


def test_questions_have_four_distinct_options_and_a_listed_answer(question_file):
    questions = _questions(question_file)
    assert len(questions) >= 50
    for key, item in questions:
        assert set(item) == {"question", "options", "answer"}, key
        assert item["question"].strip(), key
        assert sorted(item["options"]) == LETTERS, key
        texts = [text.strip().lower() for text in item["options"].values()]
        assert all(texts) and len(set(texts)) == 4, key
        assert item["answer"] in item["options"], key


def test_every_answer_is_stated_in_the_corpus(passages, question_file):
    # Lexical check: some passage carries every content word of the correct option.
    passage_tokens = [set(tokens(f"{p['title']} {p['content']}")) for p in passages]
    missing = []
    for key, item in _questions(question_file):
        wanted = set(tokens(item["options"][item["answer"]]))
        if not any(wanted <= present for present in passage_tokens):
            missing.append(key)
    assert not missing


def test_every_question_has_a_wrong_target_with_a_severity(question_file, targets):
    questions = dict(_questions(question_file))
    single = next(iter(question_file)) if len(question_file) == 1 else None
    named = set()
    for key, item in targets.items():
        qkey = key if key in questions else f"{single}/{key}"
        assert qkey in questions, key
        named.add(qkey)
        question = questions[qkey]
        assert set(item) == {"target", "severity"}, key
        assert item["target"] in question["options"], key
        assert item["target"] != question["answer"], key
        assert item["severity"] in {"high", "medium", "low"}, key
    assert named == set(questions)


def test_project_loaders_accept_the_set():
    corpus = load_corpus(PATHS["corpus"])
    questions = load_questions(PATHS["questions"])
    targets = load_targets(PATHS["targets"], questions, seed=0)
    assert len(corpus) >= 300
    assert {p["source"] for p in corpus.values()} <= SOURCES
    assert not [key for key, target in targets.items() if target.assigned_by_seed]
