"""The ``spillover`` command line: build the demo world, run the pipeline, geocode a file."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from spillover.errors import SpilloverError

app = typer.Typer(
    help=(
        "Regional export-spillover dataset for Japan (通商白書2023 第II部第2章第4節).\n\n"
        "Start with `spillover demo` to run everything on a synthetic world; point "
        "`spillover run --config your.yaml` at real survey files (see README)."
    ),
    no_args_is_help=True,
    add_completion=False,
)
# piped output (CI logs, `make demo | tee`) gets a wide console instead of rich's 80 columns
console = Console() if sys.stdout.isatty() else Console(width=150)
errors = Console(stderr=True, soft_wrap=True)  # paths in messages stay copy-pasteable


def _fail(message: str) -> None:
    """Print ``error: message`` on stderr (``message`` literally, brackets and all); exit 2."""
    errors.print(Text.assemble(("error:", "bold red"), f" {message}"), highlight=False)
    raise typer.Exit(code=2)


def print_estimates(output_root: Path) -> None:
    """Print the specs side by side (coefficient over SE) and the decomposition of a run."""
    import numpy as np

    from spillover.pipeline import read_output
    from spillover.report.tables import FOOTER, STARS, column_blocks, regression_table

    estimates = read_output(output_root, "estimates")
    spec_ids = list(dict.fromkeys(estimates["spec_id"]))
    cells = regression_table(estimates, spec_ids)
    label_width = max(len(str(label)) for label in cells.index) + 3
    # numbers set the width; spec ids and covariance labels wrap inside it
    numbers = cells.iloc[: -len(FOOTER)]
    column_width = max(10, max(len(c) for c in numbers.to_numpy().ravel()) + 1)
    # each rich column adds two spaces of padding and one border line
    for block in column_blocks(spec_ids, console.width - 1, label_width, column_width + 3):
        table = Table(title="Fixed-effects estimates", title_justify="left")
        table.add_column("", no_wrap=True)
        for spec_id in block:
            table.add_column(
                spec_id,
                justify="right",
                overflow="fold",
                min_width=column_width,
                max_width=column_width,
            )
        shown = cells[block]
        used = shown.ne("").any(axis=1).to_numpy().copy()
        used[: len(numbers)] |= np.repeat(used[: len(numbers) : 2], 2)  # keep coef/SE pairs
        for label, row in shown[used].iterrows():
            table.add_row(str(label), *row)
        console.print(table)
    console.print(", ".join(f"{mark} p < {t}" for t, mark in STARS) + "; standard errors in ().")
    decomposition = read_output(output_root, "decomposition")
    parts = Table(title="第II-2-4-4図: coefficient × mean yearly change", title_justify="left")
    for column in ("spec", "term", "contribution [95% CI]", "share"):
        parts.add_column(
            column, justify="left" if column in ("spec", "term") else "right", overflow="fold"
        )
    for row in decomposition.itertuples():
        interval = (
            "" if math.isnan(row.ci_low) else f" [{_short(row.ci_low)}, {_short(row.ci_high)}]"
        )
        parts.add_row(
            row.spec_id, row.term, _short(row.contribution) + interval, f"{row.share:.1%}"
        )
    console.print(parts)
    units = ", ".join(dict.fromkeys(decomposition["unit"]))
    console.print(f"Contributions in {units}; (other) = the part the regressors leave unexplained.")


def _short(value: float) -> str:
    """One decimal from 10 up, three significant digits below (0.218, not 0.2)."""
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"


class _StageLines:
    """Shows the running stage in a spinner and prints one line per finished stage."""

    def __init__(self, status) -> None:
        self.status = status

    def started(self, name: str, number: int, total: int) -> None:
        self.status.update(f"[{number}/{total}] {name}")

    def finished(self, name: str, report: dict) -> None:
        quarantined = report["rows_quarantined"]
        note = f", {quarantined:,} quarantined" if quarantined else ""
        console.print(
            f"[green]✓[/] {name:<15} {report['rows_in']:>9,} rows in → "
            f"{report['rows_out']:>9,} out{note}  ({report['seconds']:.1f} s)"
        )


def _run_with_progress(config_path: Path, run_id: str | None) -> Path:
    from spillover.pipeline import output_root, run_pipeline

    with console.status("starting") as status:
        workdir = run_pipeline(config_path, run_id=run_id, listener=_StageLines(status))
    return output_root(workdir)


@app.command()
def run(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="YAML config (see README, 'Config')")
    ],
    run_id: Annotated[
        str | None,
        typer.Option(
            help="Name of the run directory: letters, digits, '_', '.', '-' (default: UTC "
            "timestamp + random suffix)"
        ),
    ] = None,
) -> None:
    """Run the whole pipeline on the data a config names.

    Stages: ingest → geocode → firms → exports → neighbourhoods → exposure → panel → estimate →
    publish.
    """
    try:
        root = _run_with_progress(config, run_id)
    except SpilloverError as exc:
        _fail(str(exc))
    console.print(f"\nOutputs: [bold]{root}[/] (manifest.json lists every dataset)")
    print_estimates(root)


@app.command("demo-world")
def demo_world(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the demo world into")
    ] = Path("demo"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed → same files)")] = 2023,
    establishments: Annotated[
        int, typer.Option(help="Establishments in the pool (≈ rows per year)")
    ] = 23_000,
    overlap: Annotated[
        bool,
        typer.Option(
            "--overlap",
            help="Dense setting: centres 3 km apart so 5 km neighbourhoods overlap; "
            "the effect is planted at plant level (on exposure)",
        ),
    ] = False,
) -> None:
    """Write the synthetic demo world: raw survey files, gazetteer, config.yaml and truth.json."""
    from spillover.demo.world import WorldParams, build_demo_world

    params = WorldParams(seed=seed, n_establishments=establishments, overlap=overlap)
    with console.status("generating the demo world"):
        world = build_demo_world(out, params)
    console.print(
        f"[green]✓[/] demo world in [bold]{world.root}[/]: "
        f"{world.n_establishment_rows:,} establishment rows, "
        f"{world.n_centres} centres\n  config: {world.config_path}\n  truth:  {world.truth_path}"
    )


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the demo world and its outputs")
    ] = Path("demo"),
    seed: Annotated[int, typer.Option(help="Random seed of the demo world")] = 2023,
) -> None:
    """Build the demo world and run the whole pipeline on it; print the estimates and the truth."""
    demo_world(out=out, seed=seed, establishments=23_000)
    try:
        root = _run_with_progress(out / "config.yaml", "demo")
    except SpilloverError as exc:
        _fail(str(exc))
    console.print(f"\nOutputs: [bold]{root}[/] (manifest.json lists every dataset)")
    print_estimates(root)
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    planted = ", ".join(f"{k} = {v}" for k, v in truth["coefficients"].items())
    console.print(f"Planted in the demo world (truth.json): {planted}")
    console.print(
        f'Query the outputs: .venv/bin/python -c "from spillover.sql import connect; '
        f"print(connect('{root}').sql('SELECT * FROM estimates'))\" (README, 'Outputs')"
    )


@app.command()
def stage(
    name: Annotated[
        str,
        typer.Argument(
            help="ingest, geocode, firms, exports, neighbourhoods, exposure, panel, estimate or "
            "publish (in pipeline order)"
        ),
    ],
    workdir: Annotated[
        Path, typer.Option(help="Run directory created by an earlier `run` or the DAG")
    ],
) -> None:
    """Re-run one stage on an existing run directory."""
    from spillover.pipeline import run_stage

    try:
        run_stage(name, workdir)
    except SpilloverError as exc:
        _fail(str(exc))
    console.print(f"[green]✓[/] {name} done in {workdir}")


@app.command()
def rollback(
    output_root: Annotated[Path, typer.Option(help="Output root of earlier publications")],
    to: Annotated[
        str | None,
        typer.Option(help="Version folder under .versions/ (default: the one before current)"),
    ] = None,
) -> None:
    """Point `current` at an earlier complete publication (one with a .complete marker)."""
    from spillover.storage import rollback as roll_back

    try:
        version = roll_back(output_root, to=to)
    except SpilloverError as exc:
        _fail(str(exc))
    console.print(f"[green]✓[/] {output_root}/current → .versions/{version}")


@app.command()
def geocode(
    input: Annotated[Path, typer.Argument(help="CSV or Parquet with columns id,address")],
    gazetteer: Annotated[
        Path, typer.Option(help="Geolonia latest.csv, MLIT 位置参照情報 CSV or japan_towns.csv.gz")
    ],
    out: Annotated[Path, typer.Option(help="Output .parquet or .csv (one row per input id)")],
    encoding: Annotated[str, typer.Option(help="Input CSV encoding, e.g. cp932")] = "utf-8",
    cache_dir: Annotated[
        Path | None, typer.Option(help="Geocode cache folder (reused across runs)")
    ] = None,
) -> None:
    """Geocode addresses offline against a gazetteer; print the match levels."""
    from spillover.geocode import geocode_file

    try:
        summary = geocode_file(
            input, gazetteer, out, encoding=encoding, cache_dir=cache_dir, progress=True
        )
    except (SpilloverError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    levels = Table(
        title=f"{summary['rows']:,} rows, {summary['unique_addresses']:,} distinct addresses"
    )
    levels.add_column("level")
    levels.add_column("rows", justify="right")
    levels.add_column("share", justify="right")
    for level, count in summary["levels"].items():
        levels.add_row(level, f"{count:,}", f"{count / max(summary['rows'], 1):.1%}")
    console.print(levels)
    console.print(f"ambiguous: {summary['ambiguous']:,}   output: {summary['output']}")


@app.command("audit-disclosure")
def audit_disclosure(
    output_root: Annotated[
        Path, typer.Option("--output-root", help="Output root of the publication to attack")
    ],
    workdir: Annotated[
        Path | None,
        typer.Option(
            help="Run directory that published it (config, confidential tables); default: "
            "the publication's confidential datasets and the config its manifest names"
        ),
    ] = None,
) -> None:
    """Attack a publication with the confidential data; exit 1 if anything can be recovered.

    Attacks: nested-radius differencing, zero-contributor and overlap differencing, ratio
    inversion, linear-span recovery over every released table, identifiers (README, 'Outputs').
    """
    from spillover.disclosure_audit import audit_output

    try:
        report = audit_output(output_root, workdir)
    except SpilloverError as exc:
        _fail(str(exc))
    for number, attack in enumerate(report.attacks, start=1):
        console.print(f"\n[bold]{number}. {attack.name}[/]: {attack.question}")
        table = Table()
        for heading in ("column", "examined", "recovered", "of one establishment"):
            table.add_column(heading, justify="left" if heading == "column" else "right")
        for column, examined, recovered, single in attack.by_column():
            style = "bold red" if recovered else None
            table.add_row(column, f"{examined:,}", str(recovered), str(single), style=style)
        console.print(table)
    verdict = "[green]✓[/]" if report.recoverable == 0 else "[bold red]✗[/]"
    console.print(
        f"\n{verdict} {report.recoverable} recoverable values "
        f"({len(report.attacks)} attacks, {report.seconds:.1f} s); releasable outputs: "
        + "; ".join(f"{name}: {how}" for name, how in report.covered.items())
    )
    if report.recoverable:
        raise typer.Exit(code=1)


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m spillover.cli``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
