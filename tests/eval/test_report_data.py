from ragpoison.eval.report_data import attacked_points, clean_accuracy


def _trial(qid, attack="none", defense="none", params="", mode="question", clean_correct=True, hit=False):
    return {"qid": qid, "seed": 0, "attack": attack, "attack_params": params, "defense": defense,
            "retrieval_mode": mode, "retriever": "dense", "store": "faiss", "generator": "extractive", "k": 5,
            "poison_per_target": 0 if attack == "none" else 3, "poison_rate": None, "severity": "high",
            "answered_target": hit, "clean_correct": clean_correct, "context_ids": ["p1"],
            "own_poison_ids": [] if attack == "none" else ["p1"]}


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
