import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from eval.gate import Thresholds, evaluate

ROOT = Path(__file__).resolve().parents[2]


def _row(attack, defense, asr=0.0, flip=0.0, clean=0.9):
    return {"attack": attack, "defense": defense, "poison_per_target": 5, "asr": asr, "flip_rate": flip,
            "clean_accuracy": clean, "retriever": "dense", "k": 5, "seed": 0}


def test_gate_checks_only_defended_cells_and_names_each_breach():
    summary = [_row("none", "none", clean=0.2), _row("blackbox", "none", asr=1.0, flip=1.0),
               _row("none", "provenance", clean=0.9), _row("blackbox", "provenance", asr=0.3, flip=0.2, clean=0.9)]
    report = evaluate(summary, Thresholds(max_asr=0.1, max_flip_rate=0.05, min_clean_accuracy=0.95))
    assert not report.passed
    assert len(report.verdicts) == 2
    message = report.message()
    assert "attack=blackbox defense=provenance N=5" in message
    assert "asr 0.300 > max 0.1" in message and "flip_rate 0.200 > max 0.05" in message
    assert "attack=none defense=provenance" in message and "clean_accuracy 0.900 < min 0.95" in message
    assert "defense=none" not in message
    assert evaluate(summary, Thresholds(max_asr=0.5, min_clean_accuracy=0.5)).passed
    assert evaluate(summary, Thresholds(max_flip_rate=math.inf)).passed
    assert not evaluate([_row("blackbox", "none")], Thresholds(max_asr=1.0)).passed  # nothing defended


def _check(tiny, out, *thresholds):
    return subprocess.run(
        [sys.executable, "-m", "eval.cli", "check", str(ROOT / "configs/quickstart.yaml"), "--out", str(out),
         "--set", f"data.corpus={tiny['corpus']}", "--set", f"data.questions={tiny['questions']}",
         "--set", f"data.targets={tiny['targets']}", "--set", "fetch_k=8", *thresholds],
        cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_check_exit_codes_and_junit(tiny, tmp_path):
    ok = _check(tiny, tmp_path / "a", "--max-flip-rate", "0.05")
    assert ok.returncode == 0, ok.stderr
    assert "PASS" in ok.stdout
    junit = tmp_path / "junit.xml"
    bad = _check(tiny, tmp_path / "b", "--max-flip-rate", "0", "--min-clean-accuracy", "1.01", "--junit", str(junit))
    assert bad.returncode == 1
    assert "FAIL: 2 of 2 defended cells" in bad.stdout
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "2"


def test_report_renders_plots(tiny, tmp_path):
    out = tmp_path / "run"
    run = subprocess.run([sys.executable, "-m", "eval.cli", "run", str(ROOT / "configs/quickstart.yaml"), "--out",
                          str(out), "--corpus", str(tiny["corpus"]), "--questions", str(tiny["questions"]),
                          "--targets", str(tiny["targets"]), "--set", "poison_per_target=[1,3]", "--no-progress"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    proc = subprocess.run([sys.executable, "-m", "eval.cli", "report", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text()
    for figure in ("asr-vs-amount", "clean-cost", "recall-vs-asr", "harm"):
        assert f'<figure id="{figure}"><svg' in page
    assert page.count("<svg") == 4
    assert "poisonedrag-blackbox" in page and "harm_weighted_asr" in page
    missing = subprocess.run([sys.executable, "-m", "eval.cli", "report", str(tmp_path / "nothing")], cwd=ROOT,
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "not a finished run" in missing.stderr


def test_pytest_fixture_gates_a_defense(ragpoison_gate, tiny):
    report = ragpoison_gate(ROOT / "configs/quickstart.yaml",
                            overrides=[f"data.{k}={v}" for k, v in tiny.items()] + ["fetch_k=8"],
                            max_flip_rate=0.05)
    assert report.passed, report.message()
