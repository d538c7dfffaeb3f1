"""SnapStart runtime hooks: after a restore, powertools reports a cold start again and ``random`` draws
differ between restored environments; before the snapshot, lazily imported modules are loaded."""

from __future__ import annotations

import random
import sys

from aws_lambda_powertools.logging import logger as logging_module
from aws_lambda_powertools.metrics.provider import cold_start
from aws_lambda_powertools.tracing import tracer as tracing_module

from functions.common import snapstart


def test_after_restore_marks_the_next_invocation_cold() -> None:
    logging_module.is_cold_start = False
    cold_start.is_cold_start = False
    tracing_module.is_cold_start = False
    snapstart.after_restore()
    assert logging_module.is_cold_start
    assert cold_start.is_cold_start
    assert tracing_module.is_cold_start


def test_after_restore_reseeds_random() -> None:
    random.seed(42)
    state = random.getstate()
    snapstart.after_restore()
    assert random.getstate() != state


def test_before_snapshot_hook_imports_the_lazy_modules() -> None:
    sys.modules.pop("colorsys", None)
    snapstart._import_all(("colorsys",))
    assert "colorsys" in sys.modules
