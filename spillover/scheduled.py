"""What the Airflow DAGs call: a scheduled run's parameters, start, stages and summaries.

The DAG files (``dags/``) stay thin: each task calls one function here or in
:mod:`spillover.pipeline`, and this module never imports Airflow, so it is tested like the
rest of the package. A scheduled run is *step by step*: :func:`begin` validates the run's
parameters, freezes the config (with the survey years available up to the run's year) and
chooses the earlier run whose unchanged stages are re-used; every stage task then calls
:func:`spillover.pipeline.run_or_reuse`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from spillover.config import ConfigError, load_config

logger = logging.getLogger("spillover.scheduled")

#: The parameters a run accepts (the DAG's ``params``), with what each sets.
PARAMETERS = {
    "config_path": "the config YAML (default: the Airflow Variable spillover_config_path)",
    "years": "[first, last] survey years to build (default: the config's, last ≤ run year)",
    "radii_km": "neighbourhood radii in km (neighbourhoods.radii_km)",
    "specs": "ids of the config's models to estimate and publish (default: all)",
    "fresh": "true: re-use nothing from earlier runs",
}


def check_parameters(conf: dict) -> None:
    """Refuse a run configuration with keys that are not :data:`PARAMETERS`.

    Airflow accepts any key in a run's ``conf``; a misspelt one (``radius_km``) would
    otherwise be ignored and give a default run.
    """
    unknown = sorted(set(conf) - set(PARAMETERS))
    if unknown:
        allowed = "; ".join(f"{key}: {text}" for key, text in PARAMETERS.items())
        raise ConfigError(f"run parameters {unknown} are not known; the parameters are {allowed}")


def overrides(conf: dict, config_path: str) -> list[str]:
    """The ``key.path=value`` config overrides that a run's parameters stand for."""
    assignments = []
    if conf.get("years") is not None:
        first, last = conf["years"]
        assignments.append(f"years=[{first}, {last}]")
    if conf.get("radii_km") is not None:
        assignments.append(f"neighbourhoods.radii_km={json.dumps(list(conf['radii_km']))}")
    if conf.get("specs") is not None:
        assignments.append(_models_override(config_path, list(conf["specs"]), assignments))
    return assignments


def _models_override(config_path: str, wanted: list[str], earlier: list[str]) -> str:
    """``models=[…]`` keeping the model entries named in ``wanted`` (by id, before grids)."""
    config = load_config(config_path, overrides=earlier)
    entries = {entry.id: entry for entry in config.models}
    unknown = [spec_id for spec_id in wanted if spec_id not in entries]
    if unknown or not wanted:
        raise ConfigError(
            f"run parameter specs = {wanted}: {unknown or 'empty'} not among the config's "
            f"models {list(entries)}"
        )
    kept = [entries[spec_id].model_dump(mode="json", exclude_defaults=True) for spec_id in wanted]
    return "models=" + json.dumps(kept, ensure_ascii=False)


def begin(conf: dict, *, run_name: str, up_to: int, default_config: str) -> dict:
    """Start a scheduled run; return its run directory, spec ids, years and base run.

    Parameters
    ----------
    conf : dict
        The run's parameters (:data:`PARAMETERS`); ``None`` values mean the default.
    run_name : str
        The run directory's name (:func:`spillover.runs.safe_name` of the Airflow run id).
    up_to : int
        The run's year: ``years: [first, latest]`` builds no later year.
    default_config : str
        The config file when ``conf`` names none.

    Raises
    ------
    ConfigError
        Unknown parameters, unknown spec ids, or an invalid config.
    """
    from spillover import pipeline
    from spillover.runs import started_run

    check_parameters(conf)
    config_path = conf.get("config_path") or default_config
    assignments = overrides(conf, config_path)
    with started_run(
        config_path,
        run_id=run_name,
        doing="airflow start_run",
        overrides=assignments,
        latest_up_to=up_to,
    ) as workdir:
        base = pipeline.choose_base(workdir, fresh=bool(conf.get("fresh")))
        run = pipeline.open_run(workdir)
    first, last = run.config.years
    logger.info(
        "run %s: config %s, years %d–%d (up to %d), %d specs, overrides %s",
        run.run_id,
        config_path,
        first,
        last,
        up_to,
        len(run.config.specs),
        assignments or "none",
    )
    return {
        "workdir": str(workdir),
        "spec_ids": [spec.id for spec in run.config.specs],
        "years": [first, last],
        "base_run": base,
    }


def publication(report: dict) -> dict:
    """The Asset event's extra from the publish stage's report (small: no table data)."""
    keys = ("output_root", "version", "run_id", "config_sha256", "rows", "report")
    return {key: report[key] for key in keys}


FAILURE_FILE = "FAILED.md"


def failure_summary(
    workdir: str | None, *, task: str, try_number: int, error: BaseException | str | None
) -> str:
    """A short Markdown summary of a failed task; written to ``<run dir>/FAILED.md``.

    Says what failed and why (the error's first line), whether it is a data or config
    error (fix the input, then clear the task) or a transient one (retried), and where to
    look: the run directory, its stage reports and quarantine files.
    """
    from spillover.errors import SpilloverError

    message = str(error).strip() if error is not None else "no error recorded"
    first_line = message.splitlines()[0] if message else "(no message)"
    kind = (
        "data or config error: fix the input named above, then clear the task"
        if isinstance(error, SpilloverError)
        else "unexpected or transient error: retried up to the task's retries"
    )
    lines = [
        f"# spillover: task {task} failed (try {try_number})",
        "",
        f"- error: {type(error).__name__ if isinstance(error, BaseException) else 'unknown'}"
        f": {first_line}",
        f"- kind: {kind}",
    ]
    if workdir:
        folder = Path(workdir)
        lines.append(f"- run directory: {folder}")
        reports = sorted(p.name for p in (folder / "reports").glob("*.json"))
        lines.append(f"- stages done: {', '.join(Path(r).stem for r in reports) or 'none'}")
        quarantined = sorted((folder / "quarantine").glob("*.parquet"))
        if quarantined:
            lines.append(f"- quarantine files: {', '.join(str(p) for p in quarantined)}")
    if "\n" in message:
        lines += ["", "```", message, "```"]
    text = "\n".join(lines) + "\n"
    if workdir and Path(workdir).is_dir():
        (Path(workdir) / FAILURE_FILE).write_text(text, encoding="utf-8")
    logger.error("%s", text)
    return text


def build_briefs(version: str | Path) -> list[str]:
    """Write the brief of every prefecture with a centre into a publication's version folder."""
    from spillover.report.brief import build_brief
    from spillover.storage import read_dataset

    plants = read_dataset(Path(version) / "plants")
    codes = sorted(plants.loc[plants["is_centre"], "pref_code"].dropna().unique())
    paths = [str(build_brief(version, int(code))) for code in codes]
    logger.info("briefs: %d prefectures written into %s", len(paths), version)
    return paths
