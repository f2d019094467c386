from ragpoison.eval.report_data import attacked_points, clean_accuracy
from ragpoison.eval.trial import Trial


def _trial(qid, attack="none", defense="none", params="", mode="question", clean_correct=True, hit=False):
    poisoned = [] if attack == "none" else ["p1"]
    return Trial(qid=qid, dataset="tiny", question="q?", gold="A", target="B", severity="high",
                 retrieved_ids=["p1"], context_ids=["p1"], context_poison_ids=poisoned, own_poison_ids=poisoned,
                 dropped_ids=[], dropped_poison=0, seen_poison=len(poisoned), defense_ms=0.0,
                 answer="B" if hit else "A", correct=not hit, answered_target=hit, cell_id="c", attack=attack,
                 defense=defense, poison_per_target=0 if attack == "none" else 3, n_poison=len(poisoned), seed=0,
                 k=5, retriever="dense", store="faiss", generator="extractive", config_hash="h",
                 clean_answer="A" if clean_correct else "C", clean_correct=clean_correct, craft_seconds=0.0,
                 attack_params=params, retrieval_mode=mode)


def test_points_keep_apart_attack_params_and_retrieval_modes():
    trials = [_trial("q1", "trigger-backdoor", hit=True),
              _trial("q1", "trigger-backdoor", params='{"triggered": false}'),
              _trial("q1", "trigger-backdoor", mode="paraphrase", hit=True)]
    series = {p.series: p.asr for p in attacked_points(trials)}
    assert series == {"trigger-backdoor / none / retrieval_mode=question": 1.0,
                      'trigger-backdoor[triggered=false] / none / retrieval_mode=question': 0.0,
                      "trigger-backdoor / none / retrieval_mode=paraphrase": 1.0}


def test_clean_accuracy_reads_the_clean_cell_where_there_is_one():
    # A triggered cell's clean answer is to the triggered question; the clean cell answers the plain one.
    trials = [_trial("q1"), _trial("q2"), _trial("q1", "trigger-backdoor", clean_correct=False),
              _trial("q1", "trigger-backdoor", defense="dedup", clean_correct=False)]
    by_defense = {a.defense: (a.accuracy, a.n) for a in clean_accuracy(trials)}
    assert by_defense == {"none": (1.0, 2), "dedup": (0.0, 1)}
