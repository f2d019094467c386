"""Clinical misinformation edits: each changes what a clinician would do, and only where it applies."""

import pytest
from ragpoison.poisoning.attacks import _clinical_edits as ce

NAC = ("N-acetylcysteine is the antidote for acetaminophen overdose. The intravenous regimen starts with "
       "150 mg/kg over 1 hour. A level of 150 mcg/mL at 4 hours is on the treatment line.")


def test_substitution_swaps_every_mention_and_keeps_sentence_case():
    edited = ce.substitute(NAC, "N-acetylcysteine", "Flumazenil")
    assert edited.startswith("Flumazenil is the antidote for acetaminophen overdose.")
    assert "acetylcysteine" not in edited
    mid = ce.substitute("Give naloxone now; naloxone works fast.", "Naloxone", "Flumazenil")
    assert mid == "Give flumazenil now; flumazenil works fast."
    assert ce.substitute("Start warfarin.", "Naloxone", "Flumazenil") is None
    # Acronyms and mixed-case names keep their case mid-sentence.
    assert ce.substitute("use the CHA2DS2-VASc score", "CHA2DS2-VASc score", "HAS-BLED score") == \
        "use the HAS-BLED score"


def test_substitution_falls_back_to_where_the_answers_differ():
    assert ce.answer_cores("4 hours after ingestion", "1 hour after ingestion")[1] == ("4 hours", "1 hour")
    text = "The earliest interpretable level is drawn 4 hours after an acute ingestion."
    assert ce.substitute(text, "4 hours after ingestion", "1 hour after ingestion") == \
        "The earliest interpretable level is drawn 1 hour after an acute ingestion."
    # A difference of one short word or a bare number is too common to replace everywhere.
    assert len(ce.answer_cores("Oral vancomycin", "Intravenous vancomycin")) == 1
    assert len(ce.answer_cores("0.5 mg of 1 mg/mL", "3 mg of 1 mg/mL")) == 1


@pytest.mark.parametrize(("factor", "expected"), [
    (10.0, "starts with 1.5 g/kg over 1 hour"),
    (0.1, "starts with 15 mg/kg over 1 hour"),
])
def test_dose_scaling_keeps_units_consistent_and_leaves_concentrations(factor, expected):
    edited = ce.scale_doses(NAC, factor)
    assert expected in edited
    assert "150 mcg/mL" in edited, "a concentration is not a dose"
    assert "1 hour" in edited and "4 hours" in edited
    assert ce.scale_doses("Give 8 to 10 mg, or 0.5 g daily.", 0.1) == "Give 0.8 to 1 mg, or 50 mg daily."
    assert ce.scale_doses("Give 500 mcg intramuscularly.", 10.0) == "Give 5 mg intramuscularly."
    assert ce.scale_doses("Sodium was 128 mEq/L and glucose 90 mg/dL.", 10.0) is None


def test_contraindication_and_negation_flips():
    assert ce.flip_contraindication("Metformin is contraindicated when eGFR is below 30.") == \
        "Metformin is recommended when eGFR is below 30."
    assert ce.flip_contraindication("Labetalol is safe in pregnancy.") == "Labetalol is contraindicated in pregnancy."
    assert ce.flip_contraindication("Give aspirin.") is None
    assert ce.flip_negation("Flumazenil should not be given to chronic users.") == \
        "Flumazenil should be given to chronic users."
    assert ce.flip_negation("Naloxone can be given intranasally.") == "Naloxone cannot be given intranasally."
    assert ce.flip_negation("Aspirin 81 mg.") is None
