"""The robustness card: adaptive attacks aimed at the defenses, worst cases inside each threat model, the gate."""

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ragpoison.eval.config import ExperimentConfig
from ragpoison.eval.robustness import CardRow, certificate_violations, widen
from ragpoison.eval.runner import Experiment, plan_cells
from ragpoison.eval.trial import Trial
from ragpoison.poisoning.defenses.base import outside_chain, public_spec
from ragpoison.rag.errors import InputError
from ragpoison.rag.registry import ATTACKS, DEFENSES

ROOT = Path(__file__).resolve().parents[2]
ADAPTIVE = [name for name in ATTACKS.names() if ATTACKS.get(name).aims_at]


def test_the_robustness_config_lists_every_registered_defense():
    listed = {spec if isinstance(spec, str) else spec["name"]
              for spec in yaml.safe_load((ROOT / "configs/robustness.yaml").read_text())["defenses"]}
    assert set(DEFENSES.names()) <= {part for name in listed for part in name.split("+")}
    assert set(DEFENSES.names()) | {"none"} <= listed


def test_every_heuristic_defense_has_an_adaptive_attack_aimed_at_it():
    aimed = {d for name in ADAPTIVE for d in ATTACKS.get(name).aims_at}
    assert {"perplexity", "cluster", "dedup", "similarity-outlier", "source-cap", "robustrag-vote"} <= aimed
    assert aimed <= set(DEFENSES.names())


def test_threat_models_say_what_lies_outside_and_a_chain_claims_the_union():
    signed = [DEFENSES.create("provenance-signed")]
    before = {"mode": "in-place", "stage": "before-ingest"}
    assert "before signing" in outside_chain(signed, "content-edit", before).why
    assert outside_chain(signed, "provenance-spoof", {}) is None
    assert outside_chain(signed, "content-edit", {"mode": "copies", "stage": "after-ingest"}) is None
    allowlist = [DEFENSES.create("provenance")]
    assert outside_chain(allowlist, "provenance-spoof", {}) is not None
    # Outside a chain only when outside every member: a signed allowlist does stop a spoofed source.
    assert outside_chain([*allowlist, *signed], "provenance-spoof", {}) is None
    assert outside_chain([], "provenance-spoof", {}) is None


def test_an_attacker_sees_public_parameters_never_the_signing_key():
    spec = public_spec(DEFENSES.create("provenance-signed", {"key_file": "/secret/key", "key_env": "MY_KEY"}))
    assert spec.name == "provenance-signed"
    assert "key_file" not in spec.params and "key_env" not in spec.params
    assert spec.params["sign_at_ingest"] is True
    assert public_spec(DEFENSES.create("perplexity", {"fpr": 0.1})).params["fpr"] == 0.1


def test_widen_adds_every_amount_and_the_attacks_aimed_at_the_defenses(tiny):
    config = ExperimentConfig(data={k: str(v) for k, v in tiny.items()}, attacks=["poisonedrag-blackbox"],
                              defenses=["none", "perplexity", "cluster+robustrag-vote"], poison_per_target=[4])
    wide = widen(config)
    assert wide.poison_per_target == [1, 2, 3, 4, 5, 10]
    names = [spec.name for spec in wide.attacks]
    assert names[:2] == ["none", "poisonedrag-blackbox"]
    assert set(names[2:]) == {"adaptive-fluent", "adaptive-diverse", "adaptive-vote"}
    # An adaptive attack runs through 'none' and the chains it aims at, nowhere else.
    ran = {(c.condition.attack.name, c.defense.name) for c in plan_cells(wide) if c.condition.amount == "N1"}
    assert ("adaptive-fluent", "perplexity") in ran and ("adaptive-fluent", "none") in ran
    assert ("adaptive-fluent", "cluster+robustrag-vote") not in ran
    assert ("adaptive-vote", "cluster+robustrag-vote") in ran and ("adaptive-vote", "perplexity") not in ran


def test_an_adaptive_attack_is_crafted_per_chain_against_its_public_parameters(tiny, monkeypatch):
    seen = []
    cls = ATTACKS.get("adaptive-fluent")
    craft = cls.craft
    monkeypatch.setattr(cls, "craft", lambda self, context: seen.append(context.defenses) or craft(self, context))
    config = ExperimentConfig(data={k: str(v) for k, v in tiny.items()}, k=3, fetch_k=6, poison_per_target=[1],
                              attacks=["none", {"name": "adaptive-fluent", "params": {"candidates": 1}}],
                              defenses=["none", {"name": "perplexity", "params": {"fpr": 0.2}}])
    experiment = Experiment(config)
    for cell in plan_cells(config):
        experiment.run_cell(cell)
    assert seen[0] == ()
    [(spec,)] = seen[1:]
    assert spec.name == "perplexity" and spec.params["fpr"] == 0.2 and spec.params["order"] == 3


def test_an_edit_before_ingest_is_signed_with_the_corpus_and_one_after_is_caught(tiny):
    def tpr(stage):
        config = ExperimentConfig(data={k: str(v) for k, v in tiny.items()}, k=3, fetch_k=6, poison_per_target=[1],
                                  attacks=["none", {"name": "content-edit", "params": {"stage": stage}}],
                                  defenses=["provenance-signed"])
        experiment = Experiment(config)
        trials = [t for cell in plan_cells(config) for t in experiment.run_cell(cell) if t.attack != "none"]
        seen = sum(t.seen_poison for t in trials)
        assert seen, "the edits reach the defense"
        return sum(t.dropped_poison for t in trials) / seen

    assert tpr("after-ingest") == 1.0
    assert tpr("before-ingest") == 0.0


@pytest.mark.parametrize("name", ADAPTIVE)
def test_a_bad_adaptive_parameter_is_an_input_error_naming_the_key(name):
    with pytest.raises(InputError) as caught:
        ATTACKS.get(name).parse_params({"margin": -1}, key=f"attacks.{name}")
    assert caught.value.field == f"attacks.{name}.params.margin"
    with pytest.raises(InputError, match="unknown key"):
        ATTACKS.get(name).parse_params({"marginn": 0.1}, key=f"attacks.{name}")
    with pytest.raises(InputError, match="stage before-ingest"):
        ATTACKS.get("content-edit").parse_params({"mode": "copies", "stage": "before-ingest"}, key="attacks.x")


def _trial(qid, attack, answer, context, poison, radius=None, triggered=False):
    return Trial(qid=qid, dataset="d", question="q", gold="A", target="B", severity="high", retrieved_ids=context,
                 context_ids=context, context_poison_ids=poison, own_poison_ids=poison, dropped_ids=[],
                 dropped_poison=0, seen_poison=len(poison), defense_ms=0.0, answer=answer, certified_radius=radius,
                 correct=answer == "A", answered_target=answer == "B", cell_id="c", attack=attack,
                 defense="robustrag-vote", poison_per_target=len(poison), n_poison=len(poison), seed=0, k=3,
                 triggered=triggered, retriever="dense", generator="extractive", config_hash="h", clean_answer="A",
                 clean_correct=True, craft_seconds=0.0)


def test_certificate_violations_count_only_flips_within_the_certified_radius():
    clean = [_trial(q, "none", "A", ["c1", "c2", "c3"], [], radius=1) for q in ("1", "2", "3", "4")]
    attacked = [
        _trial("1", "x", "B", ["poison::x::1::0", "c1", "c2"], ["poison::x::1::0"]),  # radius 1, one injected
        _trial("2", "x", "A", ["poison::x::2::0", "c1", "c2"], ["poison::x::2::0"]),  # held
        _trial("3", "x", "B", ["poison::x::3::0", "poison::x::3::1", "c1"],
               ["poison::x::3::0", "poison::x::3::1"]),  # two injected: beyond the radius
        _trial("4", "x", "B", ["poison::x::4::0", "c1", "c3"], ["poison::x::4::0"]),  # not the premise (c2 lost)
    ]
    assert certificate_violations(clean + attacked, "robustrag-vote") == 1
    assert certificate_violations(clean + attacked[1:], "robustrag-vote") == 0


def _robustness(tiny, out, config_extra, *args):
    config = {"data": {k: str(v) for k, v in tiny.items()}, "k": 3, "fetch_k": 6, "poison_per_target": [2],
              **config_extra}
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "ragpoison", *args, str(path), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)


def test_robustness_writes_one_card_row_per_defense(tiny, tmp_path):
    defenses = ["none", "provenance-signed", "similarity-outlier", "robustrag-vote"]
    # The adaptive attacks aimed at these defenses are listed with a small drafting budget (widen adds them
    # with their defaults when a config does not list them).
    proc = _robustness(tiny, tmp_path / "card", {"attacks": [
        "none", "poisonedrag-blackbox", {"name": "content-edit", "params": {"stage": "before-ingest"}},
        {"name": "adaptive-inlier", "params": {"candidates": 1}},
        {"name": "adaptive-vote", "params": {"candidates": 1}}],
        "defenses": defenses}, "robustness", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "card/robustness.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [f.name for f in dataclasses.fields(CardRow)]
    assert [r["defense"] for r in rows] == defenses
    card = {r["defense"]: r for r in rows}
    assert card["robustrag-vote"]["certificate_violations"] == "0"
    assert card["similarity-outlier"]["certificate_violations"] == ""
    assert "before signing" in card["provenance-signed"]["out_of_threat_model"]
    assert "content-edit" not in card["provenance-signed"]["worst_attack"]
    assert card["similarity-outlier"]["aimed_attack"].startswith("adaptive-inlier[")
    assert card["robustrag-vote"]["aimed_attack"].startswith("adaptive-vote[")
    assert card["provenance-signed"]["aimed_attack"] == card["provenance-signed"]["aimed_flip_rate"] == ""
    for row in rows:
        assert float(row["worst_flip_ci_low"]) <= float(row["worst_flip_rate"]) <= float(row["worst_flip_ci_high"])
    summary = (tmp_path / "card/summary.csv").read_text()
    for amount in (1, 2, 3, 5, 10):
        assert f"poisonedrag-blackbox,,similarity-outlier,{amount}," in summary
    assert '{""candidates"": 1}",similarity-outlier,' in summary
    assert summary.count("adaptive-inlier,") == summary.count("adaptive-vote,") == 10  # none and its defense, x5
    assert not [line for line in summary.splitlines() if line.startswith("adaptive-inlier,") and "robustrag" in line]
    report = subprocess.run([sys.executable, "-m", "ragpoison", "report", str(tmp_path / "card")],
                            capture_output=True, text=True, cwd=ROOT)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "card/report.html").read_text()
    assert 'id="robustness-card"' in page and card["provenance-signed"]["worst_flip_ci_high"] in page


def test_check_worst_case_gates_inside_the_threat_model_only(tiny, tmp_path):
    outside_only = {"attacks": ["none", {"name": "content-edit", "params": {"stage": "before-ingest"}}],
                    "defenses": ["none", "provenance-signed"]}
    gate = ("check", "--max-flip-rate", "0", "--allow-reader-at-chance")
    plain = _robustness(tiny, tmp_path / "plain", outside_only, *gate)
    assert plain.returncode == 1, plain.stderr  # the signed edit flips answers through the signature check
    worst = _robustness(tiny, tmp_path / "worst", outside_only, *gate, "--worst-case")
    assert worst.returncode == 0, worst.stdout + worst.stderr  # ... but it lies outside the defense's claim
    assert "before signing" in (tmp_path / "worst/robustness.csv").read_text()
