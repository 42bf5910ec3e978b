"""`mlgate schema infer` and `mlgate validate`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mlgate.cli.engine import EngineOption, data_engine
from mlgate.cli.output import FAILED, PASSED, err, friendly, out, print_json

if TYPE_CHECKING:
    from mlgate.data.validate import ValidationReport

schema_app = typer.Typer(help="Infer and inspect data schemas.", no_args_is_help=True)


@schema_app.command("infer")
@friendly
def infer(
    data: Annotated[str, typer.Argument(help="CSV or Parquet file (path or fsspec URL).")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the schema here (else stdout).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    engine: EngineOption = None,
    config: Annotated[
        Path, typer.Option("-c", "--config", help="Config whose data.engine and data.spark apply.")
    ] = Path("mlgate.yaml"),
) -> None:
    """Infer a schema from DATA: dtypes, ranges with a margin, categories, missing rates.

    With --engine spark, DATA is a Parquet or CSV file or folder Spark reads, or a table.
    """
    from mlgate.data.infer import inference_header
    from mlgate.errors import ConfigError

    if output is not None and output.is_dir():
        raise ConfigError(
            "is a folder; --output names the schema file to write.",
            file=output,
            fix=f"Pass a file name, e.g. -o {output / 'schema.yaml'}.",
        )
    if output is not None and output.exists() and not force:
        raise ConfigError(
            "refusing to overwrite an existing file.",
            file=output,
            fix="Pass --force to replace it.",
        )
    chosen, spark = data_engine(engine, config)
    if chosen == "spark":
        from mlgate.data.spark import check_location, read_frame, reading, spark_session
        from mlgate.data.spark_schema import infer_schema_spark

        check_location(data)
        frame = read_frame(spark_session(spark), data, typed=True)
        with reading(data):
            schema, rows = infer_schema_spark(frame, source=data)
        width = len(frame.columns)
    else:
        from mlgate.data.infer import infer_schema
        from mlgate.data.io import read_polars

        local = read_polars(data)
        schema, rows, width = infer_schema(local, source=data), local.height, local.width
    header = inference_header(data, rows, width)
    if output is None:
        out.print(escape(schema.to_yaml(header)), end="")
        return
    schema.save(output, header)
    err.print(f"wrote {escape(str(output))}: {len(schema.columns)} columns from {rows} rows")


def render_report(report: ValidationReport) -> None:
    """A validation report as a table of violations on stdout."""
    if report.passed:
        out.print(f"[green]✓[/] {escape(report.source or 'data')}: {escape(report.summary())}")
        return
    out.print(f"[red]✗[/] {escape(report.source or 'data')}: {escape(report.summary())}")
    table = Table("column", "rule", "problem", "rows (0-based): value", show_lines=False)
    for v in report.violations:
        examples = ", ".join(f"{e.row}: {e.value!r}" for e in v.examples)
        table.add_row(escape(v.column or "(dataset)"), v.rule, escape(v.message), escape(examples))
    out.print(table)


@friendly
def validate(
    data: Annotated[str, typer.Argument(help="CSV or Parquet file (path or fsspec URL).")],
    schema: Annotated[
        Path | None,
        typer.Option("--schema", "-s", help="Schema YAML [default: the config's schema]."),
    ] = None,
    config: Annotated[
        Path, typer.Option("-c", "--config", help="Config whose schema to use.")
    ] = Path("mlgate.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    engine: EngineOption = None,
) -> None:
    """Check DATA against a schema; report every violation. Exit 1 when any rule breaks.

    With --engine spark, DATA is a Parquet or CSV file or folder Spark reads, or a table.
    """
    from mlgate.config.loader import load_config
    from mlgate.data.schema import load_schema
    from mlgate.data.validate import validate_file
    from mlgate.errors import ConfigError

    chosen, spark = data_engine(engine, config)
    if schema is None:
        if not config.exists():
            raise ConfigError(
                "no --schema given, and no config file to take one from.",
                file=config,
                fix="Pass --schema schema.yaml (write one with `mlgate schema infer DATA`).",
            )
        loaded = load_config(config)
        if loaded.schema_file is None:
            raise ConfigError(
                "the config names no schema.", file=config, field="schema", fix="Pass --schema."
            )
        schema = Path(loaded.resolve(loaded.schema_file))
    report = validate_file(data, load_schema(schema), engine=chosen, spark=spark)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        render_report(report)
    raise typer.Exit(PASSED if report.passed else FAILED)


def register(app: typer.Typer) -> None:
    """Add the data commands to the root app."""
    app.add_typer(schema_app, name="schema")
    app.command("validate")(validate)
