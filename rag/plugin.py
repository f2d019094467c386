"""The shared shape of every plugin: a registered name and a pydantic ``Params`` model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from ragpoison.rag.errors import InputError


class Params(BaseModel):
    """Base for plugin parameters; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Inside ``Plugin`` the name ``Params`` is the class attribute (a plugin's own model), so annotations there use this.
_BaseParams = Params


class Plugin:
    """Mixin giving a plugin its name and validated parameters."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[_BaseParams]] = _BaseParams
    # A plugin narrows this to its own model (``params: FaissParams``) so its fields are typed.
    params: _BaseParams

    def __init__(self, params: _BaseParams | None = None) -> None:
        self.params = params if params is not None else self.Params()

    @classmethod
    def parse_params(cls, raw: dict[str, Any], *, key: str) -> _BaseParams:
        """Validate raw params, raising an InputError that names the offending key."""
        try:
            return cls.Params(**raw)
        except ValidationError as exc:
            raise validation_to_input_error(exc, prefix=f"{key}.params") from None


def validation_to_input_error(exc: ValidationError, *, prefix: str = "", path: str | None = None) -> InputError:
    """Turn the first pydantic error into a one-line InputError naming the dotted key."""
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"])
    key = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
    message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    return InputError(message, path=path, field=key)
