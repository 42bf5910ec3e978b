"""The team's own code stored with a version: run from its verified bytes, in any order."""

from __future__ import annotations

import re
import sys

import pytest

from mlgate.errors import ArtifactError
from mlgate.registry.code import running_code, trusted_modules

HELPERS = b"def double(x):\n    return 2 * x\n"
MODELS = (
    b"import team_helpers\n\n\n"
    b"class Doubler:\n    def answer(self, x):\n        return team_helpers.double(x)\n"
)


def test_files_import_each_other_whatever_order_model_code_lists_them() -> None:
    for order in (
        ["code/team_models.py", "code/team_helpers.py"],
        ["code/team_helpers.py", "code/team_models.py"],
    ):
        files = {
            path: {"code/team_models.py": MODELS, "code/team_helpers.py": HELPERS}[path]
            for path in order
        }
        with running_code(files):
            assert trusted_modules() == {"team_models", "team_helpers"}
            assert sys.modules["team_models"].Doubler().answer(21) == 42
            assert sys.modules["team_models"].__file__ == "<mlgate version code>/team_models.py"
        assert "team_models" not in sys.modules
        assert "team_helpers" not in sys.modules


def test_a_file_the_code_imports_but_model_code_does_not_list_is_named_with_its_fix() -> None:
    with (
        pytest.raises(
            ArtifactError,
            match="^"
            + re.escape(
                "the model's own code team_models.py fails to run: ModuleNotFoundError: No module "
                "named 'team_helpers'. If team_helpers is a file of the team's code, list "
                "team_helpers.py under model.code too (every file the model's code imports is "
                "stored with the version); if it is a package, install it. Then train again."
            )
            + "$",
        ),
        running_code({"code/team_models.py": MODELS}),
    ):
        pass
    assert "team_models" not in sys.modules


def test_the_stored_file_wins_over_a_module_of_the_same_name_already_imported() -> None:
    import types

    before = types.ModuleType("team_helpers")
    sys.modules["team_helpers"] = before
    try:
        with running_code({"code/team_models.py": MODELS, "code/team_helpers.py": HELPERS}):
            assert sys.modules["team_helpers"] is not before
            assert sys.modules["team_models"].Doubler().answer(1) == 2
        assert sys.modules["team_helpers"] is before
    finally:
        sys.modules.pop("team_helpers", None)
