"""What each filtering defense catches and what it lets through, on the bundled corpus with real parts."""

import numpy as np
import pytest
from ragpoison.corpora import bundled
from ragpoison.poisoning.attacks.base import AttackContext
from ragpoison.poisoning.defenses.base import Candidate, DefenseContext
from ragpoison.rag.generators.extractive import ExtractiveReader
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets
from ragpoison.rag.registry import ATTACKS, DEFENSES
from ragpoison.rag.retrievers.base import passage_text

N_QUESTIONS = 12


@pytest.fixture(scope="module")
def bundle(embedder):
    """The bundled corpus, its first questions, black-box poison for them and each question's clean top 15."""
    paths = bundled()
    corpus = load_corpus(paths["corpus"])
    every = load_questions(paths["questions"])
    questions = dict(list(every.items())[:N_QUESTIONS])
    targets = {q: t for q, t in load_targets(paths["targets"], every, seed=0).items() if q in questions}
    template = ATTACKS.create("poisonedrag-blackbox", {"writer": "template"})
    poison = template.craft(AttackContext(questions, targets, corpus, 5, seed=0))
    ids = list(corpus)
    vectors = embedder.encode([passage_text(corpus[i]) for i in ids])
    queries = embedder.encode([q.question for q in questions.values()])
    top = {qid: [ids[j] for j in np.argsort(-(vectors @ query))[:15]]
           for qid, query in zip(questions, queries, strict=True)}
    reader = ExtractiveReader()
    reader.fit(corpus)
    return {"corpus": corpus, "questions": questions, "poison": poison, "top": top,
            "context": DefenseContext(corpus, embedder, reader, seed=0)}


def candidates_for(bundle, qid, with_poison=True):
    """Own poison first (as retrieval ranks it), then the clean top 15."""
    own = sorted(bundle["poison"].for_question(qid)) if with_poison else []
    merged = {**bundle["corpus"], **bundle["poison"].passages}
    return [Candidate(d, 1.0, merged[d]) for d in own + bundle["top"][qid]]


def rates(defense, bundle, with_poison=True):
    """(fraction of poison dropped, fraction of clean dropped) over the test questions."""
    dropped_poison = seen_poison = dropped_clean = seen_clean = 0
    for qid, question in bundle["questions"].items():
        candidates = candidates_for(bundle, qid, with_poison)
        for c, keep in zip(candidates, defense.verdicts(question, candidates), strict=True):
            is_poison = c.doc_id in bundle["poison"].poison_ids
            seen_poison += is_poison
            seen_clean += not is_poison
            dropped_poison += is_poison and not keep
            dropped_clean += not is_poison and not keep
    return (dropped_poison / seen_poison if seen_poison else float("nan")), dropped_clean / seen_clean


def fitted(name, bundle, **params):
    defense = DEFENSES.create(name, params)
    defense.fit(bundle["context"])
    return defense


def test_cluster_drops_the_dense_group_of_near_copies(bundle):
    defense = fitted("cluster", bundle)
    tpr, fpr = rates(defense, bundle)
    assert tpr >= 0.9 and fpr <= 0.1
    assert rates(defense, bundle, with_poison=False)[1] <= 0.05, "clean pools have no dense cluster"


def test_cluster_runs_only_when_passages_overlap(bundle):
    defense = fitted("cluster", bundle)
    question = next(iter(bundle["questions"].values()))
    # Identical meaning, no shared words: TrustRAG's n-gram check does not trigger, so nothing is dropped.
    disjoint = [Candidate(str(i), 1.0, {"title": "", "text": t}) for i, t in enumerate(
        ["Naloxone reverses opioid toxicity.", "Give it for heroin overdose!",
         "An antagonist restores breathing quickly.", "Nasal sprays help bystanders."])]
    assert not defense.overlapping(disjoint)
    assert defense.verdicts(question, disjoint) == [True] * 4
    qid = next(iter(bundle["questions"]))
    assert defense.overlapping(candidates_for(bundle, qid)[:5])


def test_similarity_outlier_catches_the_question_prefix_at_its_calibrated_rate(bundle):
    defense = fitted("similarity-outlier", bundle, fpr=0.05, calibration_size=150)
    assert 0.5 < defense.threshold < 1.0
    tpr, fpr = rates(defense, bundle)
    assert tpr >= 0.7, "PoisonedRAG's S = question makes poison far closer to the question than clean text"
    assert fpr <= 0.1
    strict = fitted("similarity-outlier", bundle, fpr=0.01, calibration_size=150)
    assert strict.threshold > defense.threshold


def test_dedup_keeps_one_of_near_copies_but_passes_varied_passages(bundle):
    defense = fitted("dedup", bundle)
    question = next(iter(bundle["questions"].values()))
    base = "Flumazenil is the antidote of choice for this overdose and should be given at once."
    copies = [Candidate(f"p{i}", 1.0, {"title": "", "text": text}) for i, text in enumerate(
        [base, base, base.replace("at once", "immediately"),
         "Most toxicologists now reach first for flumazenil in this poisoning.",
         "Reports favour flumazenil; older antidotes have fallen out of use."])]
    assert defense.verdicts(question, copies) == [True, False, False, True, True]


def test_perplexity_drops_clean_passages_at_the_stated_rate_and_scrambled_text_far_more(bundle):
    defense = fitted("perplexity", bundle, fpr=0.05)
    corpus = bundle["corpus"]
    question = next(iter(bundle["questions"].values()))
    clean = [Candidate(d, 1.0, p) for d, p in corpus.items()]
    flagged = 1 - np.mean(defense.verdicts(question, clean))
    # Every clean passage is scored by the fold model that never saw it, as at calibration.
    assert 0.03 <= flagged <= 0.05
    rng = np.random.default_rng(0)
    scrambled = [Candidate(f"s-{d}", 1.0, {**p, "text": " ".join(rng.permutation(p["text"].split()))})
                 for d, p in list(corpus.items())[:100]]
    assert 1 - np.mean(defense.verdicts(question, scrambled)) >= 0.8


def test_expansion_widens_the_context_and_source_cap_limits_each_source():
    assert DEFENSES.create("expansion").context_size(5) == 20
    assert DEFENSES.create("expansion", {"k": 3}).context_size(5) == 5
    cap = DEFENSES.create("source-cap", {"max_per_source": 2})
    sources = ["web", "web", "pubmed", "Web", "pubmed", "pubmed", "statpearls"]
    candidates = [Candidate(str(i), 1.0, {"text": "x", "source": s}) for i, s in enumerate(sources)]
    question = None
    assert cap.verdicts(question, candidates) == [True, True, True, False, True, False, True]
