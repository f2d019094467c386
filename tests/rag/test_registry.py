import pytest
from ragpoison.rag.errors import InputError
from ragpoison.rag.registry import ATTACKS, DEFENSES, REGISTRIES, Registry


def test_registry_refuses_duplicates_and_wrong_base():
    registry = Registry("defense", "ragpoison.poisoning.defenses.base:Defense", ())
    from ragpoison.poisoning.defenses.provenance import ProvenanceFilter

    class Other(ProvenanceFilter):
        """Another filter."""

    registry.register("p")(ProvenanceFilter)
    with pytest.raises(ValueError, match="duplicate defense name 'p'"):
        registry.register("p")(Other)
    with pytest.raises(TypeError, match="not a subclass of Defense"):
        registry.register("q")(int)


def test_unknown_name_names_the_key_and_known_names():
    with pytest.raises(InputError) as err:
        ATTACKS.get("poisonedrag-greybox", key="attacks")
    assert "field 'attacks'" in str(err.value)
    assert "poisonedrag-blackbox" in str(err.value)


def test_every_plugin_has_a_description_and_params_model():
    for registry in REGISTRIES.values():
        assert registry.names(), registry.kind
        for name, text in registry.describe().items():
            assert text, f"{registry.kind} {name} has no docstring"


def test_unknown_plugin_param_is_refused():
    with pytest.raises(InputError, match=r"field 'defenses.provenance.params.trusted'.*unknown key"):
        DEFENSES.create("provenance", {"trusted": ["web"]}, key="defenses.provenance")
