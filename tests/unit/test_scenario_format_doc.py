"""docs/scenario-format.md describes every key of the scenario schema, in the section of its table."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from pydantic import BaseModel

from ipabs.scenario import schema

DOC = (Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md").read_text("utf-8")
MODELS = [c for _, c in inspect.getmembers(schema, inspect.isclass)
          if issubclass(c, BaseModel) and c.__module__ == schema.__name__ and c.model_fields]


def section(model: type[BaseModel]) -> str:
    """The part of the page under the heading that names the model, e.g. ``## `[deal]` (DealTerms)``."""
    parts = DOC.split("\n#")
    found = [p for p in parts if p.split("\n", 1)[0].rstrip().endswith(f"({model.__name__})")]
    assert len(found) == 1, f"docs/scenario-format.md needs one heading ending in '({model.__name__})'"
    return found[0]


def test_every_schema_class_is_reachable_from_the_scenario_and_documented():
    assert schema.Scenario in MODELS and schema.Step in MODELS and len(MODELS) >= 14


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_every_key_of_a_table_is_described_in_its_section(model):
    text = section(model)
    missing = [name for name in model.model_fields if f"| `{name}` |" not in text]
    assert not missing, f"{model.__name__}: undocumented keys {missing}"


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_every_allowed_value_of_a_choice_key_is_named_in_its_section(model):
    import typing

    text = section(model)
    for name, field in model.model_fields.items():
        args = [a for a in typing.get_args(field.annotation) if a is not type(None)] or [field.annotation]
        for a in args:
            if typing.get_origin(a) is typing.Literal:
                for value in typing.get_args(a):
                    assert f"`{value}`" in text, f"{model.__name__}.{name}: value {value!r} not described"
