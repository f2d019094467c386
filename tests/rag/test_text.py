from ragpoison.rag.generators._text import is_negated, polar_tokens, stem


def _stems(words):
    return {stem(w) for w in words.split()}


def test_a_cue_negates_its_clause_within_the_window():
    affirmed, denied = polar_tokens("Platelet transfusion is generally avoided in TTP unless bleeding is severe.")
    assert _stems("platelet transfusion") <= denied
    assert stem("bleeding") in affirmed


def test_forward_cues_stop_at_a_comma_and_clause_breaks_end_scope():
    affirmed, denied = polar_tokens("Resume oral feeding early, without waiting for lipase to normalize.")
    assert _stems("oral feeding") <= affirmed
    assert _stems("waiting lipase") <= denied
    affirmed, denied = polar_tokens("Use naloxone rather than flumazenil.")
    assert stem("naloxone") in affirmed and stem("flumazenil") in denied
    affirmed, denied = polar_tokens("Warfarin is not started, but argatroban is given at once.")
    assert stem("warfarin") in denied and stem("argatroban") in affirmed


def test_a_word_both_affirmed_and_denied_counts_as_affirmed():
    affirmed, denied = polar_tokens("Heparin is stopped; heparin is not restarted.")
    assert stem("heparin") in affirmed and stem("heparin") not in denied


def test_is_negated():
    assert is_negated("which drug should not be used")
    assert is_negated("which drug is contraindicated")
    assert not is_negated("which drug is first-line")
