"""Data access hands services and handlers pydantic records, never PynamoDB items (issue 19, item 2).

1. No module under ``shared/services`` or ``functions/`` imports ``shared.dal.models`` or pynamodb (module
   level or deferred, ``import x`` or ``from x import y``): they cannot build, read or catch PynamoDB objects
   by name. The store's error type is :data:`shared.dal.errors.StoreError`.
2. The records of :mod:`shared.dal.records` mirror the PynamoDB models: same attribute names, so a new
   attribute cannot be silently dropped on its way to a service.
3. No public function of the data access modules converted so far is annotated to return a PynamoDB model.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel
from pynamodb.models import Model

from shared.dal import models, records

ROOT = Path(__file__).resolve().parents[2]
GUARDED = (ROOT / "shared" / "services", ROOT / "functions")
FORBIDDEN = ("shared.dal.models", "pynamodb")


def forbidden_imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN):
                yield node.lineno, name
                break


def test_services_and_handlers_never_import_pynamodb_or_the_table_models() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for folder in GUARDED
        for path in sorted(folder.rglob("*.py"))
        for line, name in forbidden_imports(path)
    ]
    assert wrong == [], "data access must return records, not PynamoDB items:\n" + "\n".join(wrong)


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import json\n"
        "from shared.dal import scores\n"
        "from shared.dal.models import ScoreModel\n"
        "def f():\n"
        "    import pynamodb.exceptions\n"
        "    from pynamodb.models import Model\n"
        "from shared.dal import models\n",
        encoding="utf-8",
    )
    assert sorted(line for line, _ in forbidden_imports(sample)) == [3, 5, 6, 7]


MIRRORS: list[tuple[type[BaseModel], type[Model], bool]] = [
    # record, model, whether every attribute of the model must be a field (else: fields are a subset, the
    # record takes the others as extra fields)
    (records.CustomerRecord, models.CustomerModel, True),
    (records.ScoreRecord, models.ScoreModel, True),
    (records.ScoreHistoryRecord, models.ScoreHistoryModel, True),
    (records.RunRecord, models.RunModel, True),
    (records.RejectedCallRecord, models.RejectedCallModel, True),
    (records.InteractionRecord, models.InteractionModel, False),
    (records.DecisionRecord, models.DecisionModel, False),
    (records.CustomerAggregates, models.CustomerModel, False),
]


@pytest.mark.parametrize(("record", "model", "exact"), MIRRORS, ids=lambda v: getattr(v, "__name__", ""))
def test_records_mirror_the_table_models(record: type[BaseModel], model: type[Model], exact: bool) -> None:
    fields = set(record.model_fields)
    attributes = set(model.get_attributes())
    assert fields <= attributes, f"{record.__name__} has fields the table lacks: {fields - attributes}"
    if exact:
        assert fields == attributes, f"{record.__name__} misses attributes: {attributes - fields}"


# Data access modules whose public functions return records only (the others return pydantic models of
# their own, or nothing the services read).
CONVERTED = ("scores", "runs", "rejected_calls", "person", "customers")
# Functions of those modules kept for data access's own use (shared.dal.campaigns builds its view from
# them, the email channel's contact and the consent record read the item's maps).
DATA_ACCESS_ONLY = {("scores", "get"), ("customers", "get_item"), ("customers", "live_item")}


def _mentions_model(annotation: object) -> bool:
    if inspect.isclass(annotation) and issubclass(annotation, Model):
        return True
    return any(_mentions_model(arg) for arg in typing.get_args(annotation))


@pytest.mark.parametrize("name", CONVERTED)
def test_converted_data_access_returns_no_pynamodb_items(name: str) -> None:
    module = importlib.import_module(f"shared.dal.{name}")
    leaking = [
        function_name
        for function_name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not function_name.startswith("_")
        and (name, function_name) not in DATA_ACCESS_ONLY
        and _mentions_model(typing.get_type_hints(function).get("return"))
    ]
    assert leaking == []


def test_the_customers_functions_services_call_return_records() -> None:
    from shared.dal import customers

    for function in (customers.get, customers.live, customers.record, customers.scan_segment):
        assert not _mentions_model(typing.get_type_hints(function)["return"]), function.__name__
    # The check sees a model inside Optional (the item reader kept for data access itself).
    assert _mentions_model(typing.get_type_hints(customers.get_item)["return"])
