"""The ``spillover`` command line: build the demo world, run the pipeline, geocode a file."""

from __future__ import annotations

import hashlib
import json
import math
import sys
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from spillover.errors import SpilloverError
from spillover.progress import log_to_stderr

#: Exit codes of every command (``spillover --help`` shows them).
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


#: Optional packages and the extra that installs each (pyproject.toml).
EXTRAS = {"geopandas": "geo", "airflow": "airflow"}


class _Commands(TyperGroup):
    """The command group: a user-facing error ends in one message and exit code 1.

    User-facing are :class:`SpilloverError` (bad data or config; the message says where),
    ``OSError`` (a full disk, a permission denied: the machine, not the code) and a missing
    optional package (:data:`EXTRAS`). Usage errors are click's (exit code 2). Anything else
    is a bug and keeps its traceback.
    """

    def invoke(self, ctx: typer.Context) -> object:
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            root = (exc.name or "").partition(".")[0]
            if root not in EXTRAS:
                raise
            _fail(f"{exc}: install it with pip install 'spillover[{EXTRAS[root]}]'")
        except (SpilloverError, OSError) as exc:
            _fail(str(exc))


app = typer.Typer(
    cls=_Commands,
    help=(
        "Regional export-spillover dataset for Japan (通商白書2023 第II部第2章第4節).\n\n"
        "Start with `spillover demo` to run everything on a synthetic world; check a config "
        "with `spillover validate --config your.yaml`, then point `spillover run --config "
        "your.yaml` at real survey files (see README)."
    ),
    epilog=f"Exit codes: {EXIT_OK} done, {EXIT_ERROR} data or config error (the message says "
    f"where), {EXIT_USAGE} usage error.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_show_locals=False,  # a bug's traceback must not print microdata
)
# piped output (CI logs, `make demo | tee`) gets a wide console instead of rich's 80 columns
console = Console() if sys.stdout.isatty() else Console(width=150)
errors = Console(stderr=True, soft_wrap=True)  # paths in messages stay copy-pasteable


def _fail(message: str) -> None:
    """Print ``error: message`` on stderr (``message`` literally, brackets and all); exit 1."""
    errors.print(Text.assemble(("error:", "bold red"), f" {message}"), highlight=False)
    raise typer.Exit(code=EXIT_ERROR)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"spillover {metadata.version('spillover')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    log_to_stderr()  # progress lines of long stages when the output is not a terminal


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
    """Prints a line when a stage starts and one when it ends (its bars come in between)."""

    def started(self, name: str, number: int, total: int) -> None:
        console.print(f"[dim]\\[{number}/{total}] {name}…[/]", highlight=False)

    def finished(self, name: str, report: dict) -> None:
        quarantined = report["rows_quarantined"]
        note = f", {quarantined:,} quarantined" if quarantined else ""
        console.print(
            f"[green]✓[/] {name:<15} {report['rows_in']:>9,} rows in → "
            f"{report['rows_out']:>9,} out{note}  ({report['seconds']:.1f} s)"
        )

    def decided(self, decision) -> None:
        """One line per stage of an incremental run: re-used from which run, or why it runs."""
        if not decision.runs:
            specs = f" ({len(decision.reused)} specs)" if decision.reused else ""
            console.print(
                f"[dim]↺ {decision.stage:<15} re-used from run {decision.base}{specs}[/]",
                highlight=False,
            )
            return
        if decision.refit is None:
            why = _brief_reasons(decision.reasons)
        else:
            why = "; ".join(f"{spec}: {_brief_reasons(r)}" for spec, r in decision.refit.items())
            if decision.reused:
                why += f"; {len(decision.reused)} specs re-used from run {decision.base}"
        console.print(f"▶ {decision.stage:<15} runs: {why}", highlight=False, markup=False)


def _brief_reasons(reasons: tuple[str, ...], shown: int = 3) -> str:
    """The first ``shown`` reasons and how many more."""
    more = f" and {len(reasons) - shown} more" if len(reasons) > shown else ""
    return ", ".join(reasons[:shown]) + more


def _run_with_progress(
    config_path: Path, run_id: str | None, overrides: list[str] | None = None
) -> Path:
    from spillover.pipeline import output_root, run_pipeline

    workdir = run_pipeline(
        config_path,
        run_id=run_id,
        listener=_StageLines(),
        progress=True,
        overrides=overrides or (),
    )
    return output_root(workdir)


ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="YAML config (see README, 'Config')")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY.PATH=VALUE",
        help="Override a config key, the value read as YAML, e.g. --set "
        "neighbourhoods.radii_km=[3] or --set models.baseline.radius_km=3 (list entries by "
        "position, id or name); repeatable, recorded in the run's frozen config",
    ),
]


@app.command()
def validate(config: ConfigOption, set_: SetOption = None) -> None:
    """Check a config and its input files without running anything; say what a run would do.

    Checks: the config and its specs, that every source file exists and is readable, that the
    mapped columns are in each file's header, and that the Tankan series external_demand
    names is in the DI file. Exit code 1 lists every problem.
    """
    from spillover.validate import ValidationFailed, validate_config

    found = validate_config(config, overrides=set_ or ())
    for line in found.summary():
        console.print(line, highlight=False, markup=False)
    if found.problems:
        raise ValidationFailed(
            f"{config}: {len(found.problems)} problem(s)\n"
            + "\n".join(f"  - {problem}" for problem in found.problems)
        )
    console.print(f"[green]✓[/] {config} is valid: {len(found.files)} input files checked")


@app.command()
def run(
    config: ConfigOption,
    run_id: Annotated[
        str | None,
        typer.Option(
            help="Name of the run directory: letters, digits, '_', '.', '-' (default: UTC "
            "timestamp + random suffix)"
        ),
    ] = None,
    set_: SetOption = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Run every stage; re-use nothing from earlier runs")
    ] = False,
    from_stage: Annotated[
        str | None,
        typer.Option("--from", metavar="STAGE", help="Run this stage and every one after it"),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", metavar="STAGE", help="Run this stage even if unchanged (repeatable)"
        ),
    ] = None,
    spec: Annotated[
        list[str] | None,
        typer.Option(
            "--spec",
            metavar="ID",
            help="Fit this spec even if unchanged, e.g. baseline@r5 (repeatable)",
        ),
    ] = None,
) -> None:
    """Run the pipeline on the data a config names, re-using what has not changed.

    Stages: ingest → geocode → firms → exports → neighbourhoods → exposure → panel → disclose →
    estimate → publish. Each stage (and each model spec) whose config keys, input tables and
    files are unchanged since the latest run of this config file is re-used from it; the others
    run, and so do the stages after them whose inputs changed; then the results are published.
    Each line says what is re-used and why the rest runs (README, 'The researcher's loop').
    """
    from spillover.pipeline import Selection, output_root, run_incremental

    selection = Selection(
        fresh=fresh, from_stage=from_stage, only=tuple(only or ()), specs=tuple(spec or ())
    )
    result = run_incremental(
        config,
        selection=selection,
        run_id=run_id,
        listener=_StageLines(),
        progress=True,
        overrides=set_ or (),
    )
    root = output_root(result.workdir)
    if result.up_to_date:
        console.print(
            f"\nNothing changed since run {result.workdir.name}, whose publication is current "
            "(--only STAGE or --fresh to run anyway)."
        )
    console.print(f"\nOutputs: [bold]{root}[/] (manifest.json lists every dataset)")
    print_estimates(root)
    _print_report_path(root)


#: Establishments a demo world may have: its firms own up to 6,540 plants (two per global or
#: medium firm, four per large firm), which leaves too few small plants below 10,000; above
#: 250,000 (the real 工業統計 has about 180,000) it only takes memory and time.
DEMO_ESTABLISHMENTS = (10_000, 250_000)
#: Beside a demo world's config.yaml: the SHA-256 of the config demo-world wrote.
DEMO_CONFIG_STAMP = ".config.yaml.sha256"


def _demo_establishments(value: int) -> int:
    low, high = DEMO_ESTABLISHMENTS
    if not low <= value <= high:
        raise typer.BadParameter(
            f"{value:,} is not in {low:,}–{high:,}: the demo's firms own up to 6,540 plants, "
            "so fewer establishments leave no room for the small plants around them"
        )
    return value


def _edited_demo_config(out: Path, params) -> Path | None:
    """``out/config.yaml`` if it is neither what demo-world wrote there nor would write now."""
    from spillover.demo.writers import config_text

    path, stamp = out / "config.yaml", out / DEMO_CONFIG_STAMP
    if not path.exists():
        return None
    ours = {hashlib.sha256(config_text(params).encode()).hexdigest()}
    if stamp.exists():
        ours.add(stamp.read_text(encoding="utf-8").strip())
    return None if hashlib.sha256(path.read_bytes()).hexdigest() in ours else path


class DemoScale(StrEnum):
    """Size of the demo world (``spillover demo-world --scale``)."""

    demo = "demo"
    national = "national"


@app.command("demo-world")
def demo_world(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the demo world into")
    ] = Path("demo"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed → same files)")] = 2023,
    establishments: Annotated[
        int,
        typer.Option(
            help="Establishments in the pool (≈ rows per year; "
            f"{DEMO_ESTABLISHMENTS[0]:,}–{DEMO_ESTABLISHMENTS[1]:,})",
            callback=_demo_establishments,
        ),
    ] = 23_000,
    overlap: Annotated[
        bool,
        typer.Option(
            "--overlap",
            help="Dense setting: centres 3 km apart so 5 km neighbourhoods overlap; "
            "the effect is planted at plant level (on exposure)",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a config.yaml you edited")
    ] = False,
    scale: Annotated[
        DemoScale,
        typer.Option(
            help="demo: the small world; national: ≈ 190,000 establishments a year in 400 "
            "real municipalities of --gazetteer, ≈ 3,000 centres, overlapping neighbourhoods "
            "(sets the size; --establishments and --overlap are ignored)",
        ),
    ] = DemoScale.demo,
    gazetteer: Annotated[
        Path | None,
        typer.Option(
            help="A real gazetteer (Geolonia latest.csv, MLIT 位置参照情報 or the shared "
            "layout) whose towns the national world uses; required with --scale national",
        ),
    ] = None,
) -> None:
    """Write the synthetic demo world: raw survey files, gazetteer, config.yaml and truth.json."""
    from spillover.demo.national import national_params
    from spillover.demo.world import WorldParams, build_demo_world

    if scale is DemoScale.national:
        if gazetteer is None:
            raise typer.BadParameter(
                "--scale national places plants in real towns: pass --gazetteer with a "
                "gazetteer you downloaded (e.g. Geolonia's latest.csv)",
                param_hint="--gazetteer",
            )
        params = national_params(gazetteer, seed=seed)
    else:
        params = WorldParams(seed=seed, n_establishments=establishments, overlap=overlap)
    edited = None if force else _edited_demo_config(out, params)
    if edited is not None:
        _fail(
            f"{edited} was edited since demo-world wrote it; copy it elsewhere, choose "
            "another --out, or pass --force to overwrite it"
        )
    with console.status("generating the demo world"):
        world = build_demo_world(out, params)
    digest = hashlib.sha256(world.config_path.read_bytes()).hexdigest()
    (world.root / DEMO_CONFIG_STAMP).write_text(digest + "\n", encoding="utf-8")
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
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a demo config.yaml you edited")
    ] = False,
) -> None:
    """Build the demo world and run the whole pipeline on it; print the estimates and the truth."""
    demo_world(out=out, seed=seed, establishments=23_000, force=force)
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
    _print_report_path(root)


def _print_report_path(root: Path) -> None:
    report = (root / "current").resolve() / "report.html"
    console.print(f"Run report (open in a browser): [bold]{report}[/]")


@app.command()
def stage(
    name: Annotated[
        str,
        typer.Argument(
            help="ingest, geocode, firms, exports, neighbourhoods, exposure, panel, disclose, "
            "estimate or publish (in pipeline order)"
        ),
    ],
    workdir: Annotated[
        Path, typer.Option(help="Run directory created by an earlier `run` or the DAG")
    ],
) -> None:
    """Re-run one stage on an existing run directory (with the config frozen into it)."""
    from spillover.pipeline import run_stage
    from spillover.runs import config_changed_since

    try:
        changed = config_changed_since(workdir)
        if changed:
            errors.print(
                Text.assemble(("warning:", "bold yellow"), f" {changed}; this stage uses the ")
                + Text("config frozen in the run directory: `spillover run --config …` re-runs ")
                + Text("what the change touches"),
                highlight=False,
            )
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
    gazetteer_vintage: Annotated[
        str | None,
        typer.Option(
            help="Date (YYYY-MM-DD) the gazetteer's municipalities are of; municipal changes "
            "up to it count as done (default: read from the gazetteer's names)"
        ),
    ] = None,
) -> None:
    """Geocode addresses offline against a gazetteer; print the match levels."""
    import datetime as dt

    from spillover.geocode import geocode_file

    try:
        vintage = dt.date.fromisoformat(gazetteer_vintage) if gazetteer_vintage else None
    except ValueError:
        _fail(f"--gazetteer-vintage {gazetteer_vintage!r} is not a date YYYY-MM-DD")
    try:
        summary = geocode_file(
            input,
            gazetteer,
            out,
            encoding=encoding,
            cache_dir=cache_dir,
            progress=True,
            vintage=vintage,
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
    after, before = summary["vintage"]
    console.print(
        f"municipalities mapped through the municipal history: "
        f"{summary['municipality_mapped']:,}   gazetteer vintage: "
        + (f"given {vintage}" if vintage else f"after {after or '?'}, before {before or '?'}")
    )


@app.command("link-firms")
def link_firms(
    survey: Annotated[
        Path,
        typer.Argument(help="CSV of a survey's firms: source_id,name,address[,corporate_number]"),
    ],
    register: Annotated[
        Path,
        typer.Argument(help="CSV of the canonical firms: firm_id,name,address[,corporate_number]"),
    ],
    source: Annotated[str, typer.Option(help="The survey's source name in the config")],
    out: Annotated[Path, typer.Option(help="Folder for crosswalk.csv and the review lists")],
    encoding: Annotated[str, typer.Option(help="Encoding of both CSVs, e.g. cp932")] = "utf-8",
) -> None:
    """Propose a firm_crosswalk: 法人番号, then exact name + address; near matches for review."""
    import pandas as pd

    from spillover.firm_matching import propose_crosswalk

    frames = {}
    for path, id_column in ((survey, "source_id"), (register, "firm_id")):
        try:
            frame = pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            _fail(f"{path}: cannot read as CSV ({encoding}): {exc}")
        missing = [c for c in (id_column, "name", "address") if c not in frame.columns]
        if missing:
            _fail(f"{path}: the header lacks {missing} (it has {list(frame.columns)})")
        frames[id_column] = frame.replace({"": None})
    proposal = propose_crosswalk(frames["source_id"], frames["firm_id"], source=source)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "crosswalk.csv": proposal.crosswalk,
        "near_matches.csv": proposal.near_matches,
        "invalid_corporate_numbers.csv": proposal.invalid_numbers,
        "unmatched.csv": proposal.unmatched,
    }
    for name, frame in files.items():
        frame.to_csv(out / name, index=False, encoding="utf-8")
    counts = Table(title=f"{len(frames['source_id']):,} firms of {source}")
    counts.add_column("outcome")
    counts.add_column("firms", justify="right")
    for outcome, count in proposal.counts().items():
        counts.add_row(outcome, f"{count:,}")
    console.print(counts)
    console.print(
        f"linked: {out / 'crosswalk.csv'} (add it as a firm_crosswalk source); review "
        f"{out / 'near_matches.csv'} and copy the rows you accept — nothing near is linked"
    )


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


@app.command("export")
def export(
    dataset: Annotated[
        str, typer.Argument(help="Dataset, e.g. estimates, decomposition, public/neighbourhoods")
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv (UTF-8 with BOM, opens in Excel), xlsx (Japanese headers with units) "
            "or parquet (one file)",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write")],
    output_root: Annotated[Path, typer.Option(help="Output root of the publication")] = Path(
        "demo/output"
    ),
    confidential: Annotated[
        bool,
        typer.Option(
            "--confidential",
            help="Allow a confidential dataset (plants, panel, …), for use inside the secure "
            "room only",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists")] = False,
) -> None:
    """Write one published dataset as CSV, Excel or one Parquet file (README, 'For analysts')."""
    from spillover.export import export_dataset

    try:
        done = export_dataset(
            output_root, dataset, fmt, out, confidential=confidential, force=force
        )
    except SpilloverError as exc:
        _fail(str(exc))
    note = " [bold red]confidential: keep it in the secure room[/]" * (
        done.dataset.access == "confidential"
    )
    console.print(
        f"[green]✓[/] {done.dataset.name}: {done.rows:,} rows × {done.columns} columns → "
        f"{done.path}{note}"
    )


@app.command()
def report(
    output_root: Annotated[Path, typer.Option(help="Output root of the publication")] = Path(
        "demo/output"
    ),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="HTML file to write (default: report.html, or brief-<code>.html with "
            "--region, in the publication's version folder, <output-root>/current/)",
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the page: ja or en")] = "ja",
    region: Annotated[
        str | None,
        typer.Option(
            help="Write the brief of one region instead: 愛知県, a prefecture code (23) or a "
            "5-digit municipality code"
        ),
    ] = None,
) -> None:
    """Write the run report (one self-contained HTML page) or a regional brief.

    Only releasable or disclosure-controlled results, counts and χ-protected maps appear on
    the page; it opens offline in any browser (README, 'Run report').
    """
    from spillover.report.brief import build_brief
    from spillover.report.html import build_report

    try:
        if region is None:
            path = build_report(output_root, out, lang=lang)
        else:
            path = build_brief(output_root, region, out, lang=lang)
    except SpilloverError as exc:
        _fail(str(exc))
    console.print(f"[green]✓[/] report: [bold]{path}[/]")


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m spillover.cli``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
