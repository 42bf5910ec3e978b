"""`mlgate schema infer` and `mlgate validate` through typer's CliRunner, on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import mlgate
from mlgate.cli import app
from mlgate.data import load_schema
from mlgate.scaffold.example import credit_data


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A folder with train.csv, test.csv (same distribution) and broken.csv."""
    frame = credit_data(500, seed=3)
    frame.iloc[:400].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[400:].to_csv(tmp_path / "test.csv", index=False)
    broken = frame.iloc[400:].copy()
    broken.loc[broken.index[0], "age"] = -1
    broken.loc[broken.index[1], "employment"] = "retired"
    broken.drop(columns=["region"]).to_csv(tmp_path / "broken.csv", index=False)
    return tmp_path


@pytest.fixture
def schema(runner: CliRunner, data: Path) -> Path:
    path = data / "schema.yaml"
    result = runner.invoke(app, ["schema", "infer", str(data / "train.csv"), "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


# --- mlgate schema infer ----------------------------------------------------------------------


def test_infer_writes_the_schema_file_and_says_so(runner: CliRunner, data: Path) -> None:
    path = data / "out" / "schema.yaml"

    result = runner.invoke(app, ["schema", "infer", str(data / "train.csv"), "-o", str(path)])

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"wrote {path}: 7 columns from 400 rows\n"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Schema inferred by mlgate ")
    assert f"from {data / 'train.csv'} (400 rows, 7 columns)." in text
    assert list(load_schema(path).columns) == [
        "age",
        "income",
        "debt_ratio",
        "credit_score",
        "employment",
        "region",
        "default",
    ]


def test_infer_without_output_prints_the_yaml(runner: CliRunner, data: Path) -> None:
    result = runner.invoke(app, ["schema", "infer", str(data / "train.csv")])

    assert result.exit_code == 0, result.output
    parsed = yaml.safe_load(result.stdout)
    assert parsed["columns"]["employment"]["categories"] == [
        "employed",
        "self-employed",
        "unemployed",
    ]
    assert parsed["_global"] == {"max_duplicates": 0, "min_rows": 1}


def test_infer_refuses_to_overwrite_without_force(
    runner: CliRunner, data: Path, schema: Path
) -> None:
    schema.write_text("kept: {}\n", encoding="utf-8")

    refused = runner.invoke(app, ["schema", "infer", str(data / "train.csv"), "-o", str(schema)])

    assert refused.exit_code == 2
    assert refused.stderr == (
        f"error: {schema}: refusing to overwrite an existing file. Pass --force to replace it.\n"
    )
    assert schema.read_text(encoding="utf-8") == "kept: {}\n"

    forced = runner.invoke(
        app, ["schema", "infer", str(data / "train.csv"), "-o", str(schema), "--force"]
    )

    assert forced.exit_code == 0, forced.output
    assert "employment" in load_schema(schema).columns


def test_infer_refuses_a_folder_as_output(runner: CliRunner, data: Path) -> None:
    result = runner.invoke(app, ["schema", "infer", str(data / "train.csv"), "-o", str(data)])

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {data}: is a folder; --output names the schema file to write. "
        f"Pass a file name, e.g. -o {data / 'schema.yaml'}.\n"
    )


# --- mlgate validate ----------------------------------------------------------------------------


def test_validate_exits_0_on_clean_data(runner: CliRunner, data: Path, schema: Path) -> None:
    result = runner.invoke(app, ["validate", str(data / "test.csv"), "--schema", str(schema)])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"✓ {data / 'test.csv'}: valid: 100 rows x 7 columns break no rule\n"


def test_validate_exits_1_and_lists_every_violation(
    runner: CliRunner, data: Path, schema: Path
) -> None:
    result = runner.invoke(app, ["validate", str(data / "broken.csv"), "-s", str(schema)])

    assert result.exit_code == 1, result.output
    first = result.stdout.splitlines()[0]
    assert first == f"✗ {data / 'broken.csv'}: invalid: 3 violation(s) in 3 column(s) of 100 rows"
    for shown in ("missing_column", "below_min", "unknown_category", "retired", "0: -1"):
        assert shown in result.stdout
    assert result.stderr == ""


def test_validate_json_is_one_document_with_passed_and_violations(
    runner: CliRunner, data: Path, schema: Path
) -> None:
    result = runner.invoke(app, ["validate", str(data / "broken.csv"), "-s", str(schema), "--json"])

    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["passed"] is False
    assert payload["source"] == str(data / "broken.csv")
    assert [(v["column"], v["rule"]) for v in payload["violations"]] == [
        ("region", "missing_column"),
        ("age", "below_min"),
        ("employment", "unknown_category"),
    ]
    assert payload["violations"][1]["examples"] == [{"row": 0, "value": -1}]


def test_validate_json_on_clean_data(runner: CliRunner, data: Path, schema: Path) -> None:
    result = runner.invoke(app, ["validate", str(data / "test.csv"), "-s", str(schema), "--json"])

    assert result.exit_code == 0
    assert json.loads(result.stdout)["passed"] is True
    assert json.loads(result.stdout)["violations"] == []


def test_validate_takes_the_schema_from_the_config(
    runner: CliRunner, data: Path, schema: Path
) -> None:
    config = data / "mlgate.yaml"
    config.write_text(
        "name: m\ndata: {train: train.csv, target: default}\nschema: schema.yaml\n"
        "model: {estimator: a.B}\n",
        encoding="utf-8",
    )

    result = runner.invoke(app, ["validate", str(data / "test.csv"), "-c", str(config)])

    assert result.exit_code == 0, result.output


def test_validate_without_schema_or_config_exits_2(
    runner: CliRunner, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data)

    result = runner.invoke(app, ["validate", "test.csv"])

    assert result.exit_code == 2
    assert result.stderr == (
        "error: mlgate.yaml: no --schema given, and no config file to take one from. "
        "Pass --schema schema.yaml (write one with `mlgate schema infer DATA`).\n"
    )


def test_validate_with_a_config_naming_no_schema_exits_2(runner: CliRunner, data: Path) -> None:
    config = data / "mlgate.yaml"
    config.write_text(
        "name: m\ndata: {train: train.csv, target: default}\nmodel: {estimator: a.B}\n",
        encoding="utf-8",
    )

    result = runner.invoke(app, ["validate", str(data / "test.csv"), "-c", str(config)])

    assert result.exit_code == 2
    assert result.stderr == f"error: {config}: schema: the config names no schema. Pass --schema.\n"


def test_validate_with_a_missing_schema_file_exits_2(runner: CliRunner, data: Path) -> None:
    missing = data / "nope.yaml"

    result = runner.invoke(app, ["validate", str(data / "test.csv"), "-s", str(missing)])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {missing}: schema file not found. Check the path.\n"


def test_validate_with_a_malformed_schema_exits_2(runner: CliRunner, data: Path) -> None:
    bad = data / "bad.yaml"
    bad.write_text("age: {dtype: int, minimum: 0}\n", encoding="utf-8")

    result = runner.invoke(app, ["validate", str(data / "test.csv"), "-s", str(bad)])

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}: age.minimum: unknown key (did you mean 'min'?")


# --- bad input files never give a traceback ------------------------------------------------------


BAD_FILES = [
    pytest.param("empty.csv", b"", "the file is empty.", id="empty"),
    pytest.param(
        "garbage.csv",
        bytes(range(256)) * 4,
        "cannot read it as CSV: it is not UTF-8 text (binary data, or another encoding). "
        "Check that the file is CSV and not damaged.",
        id="garbage",
    ),
    pytest.param(
        "damaged.parquet",
        b"PAR1 not really parquet",
        "cannot read it as PARQUET: Parquet magic bytes not found in footer. Either the file is "
        "corrupted or this is not a parquet file. Check that the file is PARQUET and not damaged.",
        id="damaged-parquet",
    ),
    pytest.param(
        "data.json",
        b"{}",
        "unknown file type. mlgate reads .csv, .tsv and .parquet files "
        "(CSV may be .gz, .bz2, .zst or .xz), and folders of them.",
        id="unknown-extension",
    ),
    pytest.param(
        "twice.csv",
        b"a,a\n1,2\n",
        "column names appear more than once: 'a'. Give every column its own name.",
        id="duplicate-columns",
    ),
    pytest.param(
        "latin1.csv",
        "city\nTroms\xf8\n".encode("latin-1"),
        "column(s) 'city' hold text that is not UTF-8. Save the file as UTF-8 "
        "(in Excel: CSV UTF-8).",
        id="not-utf8",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES)
@pytest.mark.parametrize("command", ["infer", "validate"])
def test_a_bad_data_file_is_one_error_line_and_exit_2(
    runner: CliRunner,
    data: Path,
    schema: Path,
    command: str,
    name: str,
    content: bytes,
    message: str,
) -> None:
    path = data / name
    path.write_bytes(content)
    args = ["schema", "infer", str(path)] if command == "infer" else ["validate", str(path)]

    result = runner.invoke(app, args if command == "infer" else [*args, "-s", str(schema)])

    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert result.stderr == f"error: {path}: {message}\n"


@pytest.mark.parametrize("command", ["infer", "validate"])
def test_a_missing_file_or_an_empty_folder_is_exit_2(
    runner: CliRunner, data: Path, schema: Path, command: str
) -> None:
    folder = data / "folder.csv"
    folder.mkdir()
    (folder / "_SUCCESS").touch()
    for path, message in [
        (data / "nope.csv", "file not found. Check the path."),
        (data / "nope", "file not found. Check the path."),
        (
            folder,
            "the folder holds no .parquet or .csv file. "
            "Point at a Parquet or CSV file, or a folder of them.",
        ),
    ]:
        args = ["schema", "infer", str(path)] if command == "infer" else ["validate", str(path)]
        result = runner.invoke(app, args if command == "infer" else [*args, "-s", str(schema)])

        assert result.exit_code == 2
        assert result.stderr == f"error: {path}: {message}\n"


def test_a_folder_of_part_files_reads_as_one_table(
    runner: CliRunner, data: Path, schema: Path
) -> None:
    # As Spark writes it: part files, a _SUCCESS marker and hidden checksum files.
    folder = data / "parts"
    folder.mkdir()
    frame = pd.read_csv(data / "broken.csv")
    # Written last-first: the rows are read in the order of the files' names.
    frame.iloc[60:].to_parquet(folder / "part-00010-a.snappy.parquet", index=False)
    frame.iloc[:60].to_parquet(folder / "part-00002-a.snappy.parquet", index=False)
    (folder / "_SUCCESS").touch()
    (folder / ".part-00002-a.snappy.parquet.crc").write_bytes(b"\x00crc")

    inferred = runner.invoke(app, ["schema", "infer", str(folder)])
    as_file, as_folder = (
        runner.invoke(app, ["validate", str(path), "-s", str(schema), "--json"])
        for path in (data / "broken.csv", folder)
    )
    drift = runner.invoke(app, ["drift", str(data / "broken.csv"), str(folder)])

    assert inferred.exit_code == 0, inferred.output
    header = f"# Schema inferred by mlgate {mlgate.__version__} from {folder} (100 rows"
    assert inferred.stdout.startswith(header)
    assert as_folder.exit_code == 1, as_folder.output
    folder_report, file_report = json.loads(as_folder.stdout), json.loads(as_file.stdout)
    assert folder_report.pop("source") == str(folder)
    file_report.pop("source")
    assert folder_report == file_report
    assert folder_report["violations"][1]["examples"] == [{"row": 0, "value": -1}]
    assert drift.exit_code == 0, drift.output
    assert "dataset drift: 0 of" in drift.stdout


def test_a_header_only_file_cannot_seed_a_schema(runner: CliRunner, data: Path) -> None:
    path = data / "header.csv"
    path.write_text("age,income\n", encoding="utf-8")

    result = runner.invoke(app, ["schema", "infer", str(path)])

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}: the data has a header but no rows. A schema is inferred from rows: "
        "give a file that has some.\n"
    )


@pytest.mark.parametrize(
    ("content", "rules"),
    [
        pytest.param("", [("row_count", None)], id="header-only"),
        pytest.param("1.5,,y\n2.5,,z\n", [("missing_rate", "b")], id="all-missing-column"),
        pytest.param("1.5,2,y\nabc,3,y\n", [("dtype", "a")], id="text-in-a-number-column"),
    ],
)
def test_data_that_reads_but_breaks_rules_exits_1_with_the_violations(
    runner: CliRunner, data: Path, content: str, rules: list[tuple[str, str | None]]
) -> None:
    schema = data / "small.yaml"
    schema.write_text(
        "a: {dtype: float}\nb: {dtype: int, nullable: false}\nc: {}\n_global: {min_rows: 1}\n",
        encoding="utf-8",
    )
    path = data / "small.csv"
    path.write_text("a,b,c\n" + content, encoding="utf-8")

    result = runner.invoke(app, ["validate", str(path), "-s", str(schema), "--json"])

    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert [(v["rule"], v["column"]) for v in payload["violations"]] == rules
