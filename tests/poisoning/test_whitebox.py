"""White-box attacks on the real MiniLM embedder: HotFlip, PoisonedRAG white-box, corpus poisoning."""

import random

import numpy as np
import pytest
from ragpoison.eval.config import ExperimentConfig
from ragpoison.eval.runner import run_experiment
from ragpoison.poisoning.attacks._hotflip import FlipProblem, HotFlip, sentence_model
from ragpoison.poisoning.attacks._writers import TemplateWriter
from ragpoison.poisoning.attacks.base import AttackContext
from ragpoison.poisoning.attacks.corpus_poisoning import kmeans
from ragpoison.rag.errors import InputError
from ragpoison.rag.loaders import load_corpus, load_questions, load_targets
from ragpoison.rag.registry import ATTACKS

QUESTION = "Which antidote reverses opioid overdose?"
TAIL = "Recent reviews agree that flumazenil is the answer."


def test_hotflip_raises_the_objective_and_the_text_keeps_its_tokens(embedder32):
    embedder = embedder32  # HotFlip's float32 scores are compared with the retriever's embedding of the text
    model = sentence_model(embedder, "test")
    flip = HotFlip(model, candidates=16, seed="t")
    target = embedder.encode([QUESTION])
    problem = FlipProblem(flip.tokens("the cat sat on a mat near the old red barn"), flip.tokens(TAIL), target)
    before = flip.scores([problem])[0]
    after = flip.optimise([problem], iterations=4)[0]
    assert after > before
    prefix = flip.decode(problem.prefix)
    # What the retriever embeds is the decoded text: it re-tokenizes to the optimised ids and scores the same.
    assert flip.tokens(prefix) == problem.prefix
    real = embedder.encode([f"{prefix} {TAIL}"])[0] @ target[0]
    assert real == pytest.approx(after, abs=1e-4)
    assert all(m.training is False for m in model.modules() if "Dropout" in type(m).__name__)


def test_hotflip_with_negatives_pushes_away_and_never_gets_worse(embedder):
    flip = HotFlip(sentence_model(embedder, "test"), candidates=8, seed="t", negative_weight=1.0)
    positive, negative = embedder.encode(["heparin reversal with protamine", QUESTION])
    problem = FlipProblem(flip.tokens(QUESTION), [], positive[None], negative[None])
    scores = [flip.scores([problem])[0]]
    for _ in range(3):
        scores.append(flip.optimise([problem], iterations=1)[0])
    assert scores == sorted(scores) and scores[-1] > scores[0]


def test_white_box_needs_the_sentence_transformers_embedder(tiny):
    questions = load_questions(tiny["questions"])
    context = AttackContext(questions, load_targets(tiny["targets"], questions, 0), load_corpus(tiny["corpus"]))
    with pytest.raises(InputError, match="attacks.poisonedrag-whitebox"):
        ATTACKS.create("poisonedrag-whitebox").craft(context)


def test_white_box_optimises_s_and_keeps_i(tiny, embedder):
    questions = load_questions(tiny["questions"])
    targets = load_targets(tiny["targets"], questions, 0)
    context = AttackContext(questions, targets, load_corpus(tiny["corpus"]), poison_per_target=1, seed=0,
                            embedder=embedder)
    params = {"iterations": 3, "candidates": 16, "writer": "template"}
    white = ATTACKS.create("poisonedrag-whitebox", params).craft(context)
    gained = 0.0
    for qid, question in questions.items():
        (pid,) = white.for_question(qid)
        rng = random.Random(f"0:poisonedrag-blackbox:{qid}:0")  # the black-box attack's I
        written = TemplateWriter().write(question, question.options[targets[qid].option], rng)
        text = white.passages[pid]["text"]
        assert text.endswith(f" {written}") and not text.startswith(question.question)
        q, optimised, start = embedder.encode([question.question, text, f"{question.question} {written}"])
        assert q @ optimised >= q @ start - 1e-4, "HotFlip only accepts flips that raise sim(Q, S + I)"
        gained += q @ optimised - q @ start
    assert gained > 0
    assert all(p["source"] == "web" for p in white.passages.values())


def test_kmeans_is_seeded_and_groups_near_vectors():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8)
    vectors = np.concatenate([c + 0.05 * rng.standard_normal((5, 8)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = kmeans(vectors, 3, "s")
    assert np.array_equal(labels, kmeans(vectors, 3, "s"))
    assert [len(set(labels[i * 5:(i + 1) * 5])) for i in range(3)] == [1, 1, 1]
    assert len(set(labels)) == 3


def test_corpus_poisoning_takes_a_rate_and_is_measured_on_held_apart_questions(tiny):
    params = {"iterations": 2, "candidates": 8, "passage_tokens": 16}
    config = ExperimentConfig(data={k: str(v) for k, v in tiny.items()}, k=3, fetch_k=6,
                              attacks=["none", {"name": "corpus-poisoning", "params": params, "poison_rate": 0.2}])
    results = run_experiment(config)
    attacked = [r for r in results.trials if r.attack == "corpus-poisoning"]
    clean = [r for r in results.trials if r.attack == "none"]
    assert len(clean) == 4 and len(attacked) == 2, "the attacker trained on half the questions"
    assert all(r.poison_rate == 0.2 and r.n_poison == 2 for r in attacked)  # 0.2 x 10 passages
    assert all(r.own_poison_ids == [] for r in attacked), "untargeted"
    row = next(r for r in results.summary if r.attack == "corpus-poisoning")
    assert row.n_questions == 2 and np.isnan(row.poison_recall_at_k)
