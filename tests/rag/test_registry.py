import pytest
from ragpoison.rag.errors import InputError
from ragpoison.rag.plugin import Params
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


def test_every_plugin_has_a_description():
    for registry in REGISTRIES.values():
        assert registry.names(), registry.kind
        for name, text in registry.describe().items():
            assert text, f"{registry.kind} {name} has no docstring"


def _plugins():
    return [pytest.param(registry, name, id=f"{registry.kind}-{name}")
            for registry in REGISTRIES.values() for name in registry.names()]


@pytest.mark.parametrize(("registry", "name"), _plugins())
def test_every_plugin_params_model_refuses_unknown_keys_and_accepts_its_defaults(registry, name):
    model = registry.get(name).Params
    assert issubclass(model, Params)
    key = f"{registry.kind}.{name}"
    fields = model.model_fields
    # A field without a default (a model directory, a served model name) is a string the config must give.
    required = {field: "given" for field, info in fields.items() if info.is_required()}
    assert all(fields[field].annotation in (str, "str") for field in required), required

    parsed = registry.get(name).parse_params(dict(required), key=key)
    for field, info in fields.items():
        expected = required[field] if field in required else info.get_default(call_default_factory=True)
        assert getattr(parsed, field) == expected, field

    with pytest.raises(InputError) as err:
        registry.get(name).parse_params({**required, "no_such_key": 1}, key=key)
    assert str(err.value) == f"field '{key}.params.no_such_key': unknown key"
    for field in required:
        with pytest.raises(InputError, match=rf"field '{key}\.params\.{field}'"):
            registry.get(name).parse_params({k: v for k, v in required.items() if k != field}, key=key)


def test_unknown_plugin_param_is_refused():
    with pytest.raises(InputError, match=r"field 'defenses.provenance.params.trusted'.*unknown key"):
        DEFENSES.create("provenance", {"trusted": ["web"]}, key="defenses.provenance")
