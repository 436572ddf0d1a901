"""Fingerprints: what each stage's outputs were computed from, so unchanged work is re-used.

A *unit* of work is one stage, or one model spec of a stage that fits each spec on its own
(``estimate``, unit ``estimate/<spec id>``). Its fingerprint hashes everything its outputs
depend on, as the stage declares it in the registry (:class:`spillover.registry.Stage`):

- the package version (a new release re-runs everything);
- the config keys it reads (``neighbourhoods.radii_km``, ``definitions``, …; for a spec, the
  spec as expanded from its grid), each hashed on its own so that a change can be named;
- the tables it reads: the SHA-256 of each table file, as recorded by the unit that wrote it;
- files outside the run directory: the raw survey files, the gazetteer (SHA-256 of the bytes).

When a unit has run, :func:`record` writes ``fingerprints/<unit>.json`` in the run
directory, after the unit's tables, with the fingerprint, the SHA-256 of every file it wrote
(``outputs``), its report's name and, for a spec, its report entries. Before a unit runs its
record is removed (:func:`forget`), so a unit killed halfway has no record and is never
re-used. Because inputs are hashed by content, a stage that re-runs but writes the same
tables as before leaves the stages after it re-usable.

Not covered: code changes within one version of the package (an editable install under
development); select such stages explicitly (``spillover run --from STAGE``).
"""

from __future__ import annotations

import glob as globlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_core import to_jsonable_python

from spillover import __version__
from spillover.config import Config
from spillover.rawfiles import sha256, source_files
from spillover.specs import ModelSpec
from spillover.storage import write_json_atomic

__all__ = [
    "FOLDER",
    "FileHashes",
    "Fingerprint",
    "fingerprint",
    "forget",
    "export_concordance",
    "gazetteer_files",
    "link_unit",
    "raw_files",
    "recode_concordances",
    "record",
    "records",
    "table_hashes",
]

#: Folder of the records in a run directory.
FOLDER = "fingerprints"
#: Config key standing for the whole config (its :meth:`~spillover.config.Config.digest`).
WHOLE_CONFIG = "*"
#: ``reads`` entry standing for every output of every unit recorded so far.
EVERY_TABLE = "*"


def _digest(value: object) -> str:
    """SHA-256 of a JSON-able value in canonical form."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def config_value(config: Config, key: str) -> object:
    """The JSON form of a dotted config key (``neighbourhoods.radii_km``, ``memberships``).

    ``"*"`` is the whole config's digest; a key below a section that is not set is ``None``.
    """
    if key == WHOLE_CONFIG:
        return config.digest()
    value: object = config
    for part in key.split("."):
        value = getattr(value, part, None)
    return to_jsonable_python(value)


class FileHashes:
    """SHA-256 of files, computed once per file version (path, size, modification time)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int], str] = {}

    def __call__(self, path: Path) -> str:
        """The SHA-256 of ``path``'s bytes."""
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._known:
            self._known[key] = sha256(path)
        return self._known[key]


def raw_files(config: Config) -> list[Path]:
    """Every raw file the sources of a config name, and their concordances (what ``ingest`` reads).

    Raises
    ------
    spillover.rawfiles.IngestError
        A source has no file for one of its years (as ingest would).
    """
    sources = [
        path
        for sources in config.sources.values()
        for source in sources
        for _, path in source_files(source, config)
    ]
    return sources + recode_concordances(config)


def recode_concordances(config: Config) -> list[Path]:
    """The concordance files the sources' ``recode`` entries name (ingest reads them)."""
    from spillover.concordance import concordance_path

    return sorted(
        {
            concordance_path(entry.concordance, config)
            for sources in config.sources.values()
            for source in sources
            for entry in source.recode.values()
            if entry.concordance is not None
        }
    )


def export_concordance(config: Config) -> list[Path]:
    """The file ``exports.concordance`` names (none when it is not set)."""
    from spillover.concordance import concordance_path

    reference = config.exports.concordance
    return [] if reference is None else [concordance_path(reference, config)]


def gazetteer_files(config: Config) -> list[Path]:
    """The gazetteer file(s) ``geocode`` reads (none when the config names none)."""
    gazetteer = getattr(config, "gazetteer", None)
    if gazetteer is None or not gazetteer.path:
        return []
    return [Path(p) for p in sorted(globlib.glob(str(config.resolve(gazetteer.path))))]


@dataclass(frozen=True)
class Fingerprint:
    """What one unit's outputs depend on; see the module docstring.

    ``config``, ``inputs`` and ``files`` map a config key, a table name and a file (relative
    to the config's folder when inside it) to a SHA-256 (``None``: an optional table that is
    absent).
    """

    unit: str
    version: str
    config: dict[str, str]
    inputs: dict[str, str | None]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """One SHA-256 over the whole fingerprint."""
        return _digest([self.unit, self.version, self.config, self.inputs, self.files])

    def changes(self, earlier: dict) -> list[str]:
        """What differs from an earlier record (empty when nothing does), in words."""
        found = []
        if earlier["version"] != self.version:
            found.append(f"spillover {earlier['version']} → {self.version}")
        for what, now, before in (
            ("config", self.config, earlier["config"]),
            ("input", self.inputs, earlier["inputs"]),
            ("file", self.files, earlier["files"]),
        ):
            for key in sorted(now.keys() | before.keys()):
                label = _LABELS.get(key, f"{what} {key}")
                if key not in before:
                    found.append(f"new {label}")
                elif key not in now:
                    found.append(f"{label} removed")
                elif now[key] != before[key]:
                    found.append(f"{label} changed")
        return found


#: How a few keys are named in :meth:`Fingerprint.changes`.
_LABELS = {WHOLE_CONFIG: "config", "spec": "spec"}


def output_path(workdir: Path, name: str) -> Path:
    """The file of an output: ``quarantine/<stage>`` or a table under ``tables/``."""
    if name.startswith("quarantine/"):
        return workdir / f"{name}.parquet"
    return workdir / "tables" / f"{name}.parquet"


def records(workdir: Path) -> dict[str, dict]:
    """The records of a run directory by unit (``geocode``, ``estimate/<spec id>``)."""
    folder = Path(workdir) / FOLDER
    found = {}
    for path in sorted(folder.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[data["unit"]] = data
    return found


def table_hashes(workdir: Path) -> dict[str, str]:
    """SHA-256 of every output recorded in a run directory, by output name."""
    return {
        name: digest
        for data in records(workdir).values()
        for name, digest in data["outputs"].items()
    }


def _relative(path: Path, config: Config) -> str:
    """A file's name relative to the config's folder when inside it (else absolute)."""
    try:
        return str(path.resolve().relative_to(Path(config.base_dir).resolve()))
    except ValueError:
        return str(path.resolve())


def fingerprint(
    stage,
    config: Config,
    workdir: Path,
    hashes: dict[str, str],
    *,
    file_hashes: FileHashes,
    spec: ModelSpec | None = None,
) -> Fingerprint:
    """The fingerprint of a stage (or of one ``spec`` of a per-spec stage).

    Parameters
    ----------
    stage : spillover.registry.Stage
        The registered stage; its ``config``, ``reads``, ``files`` and ``per_spec`` say what
        it depends on.
    config : Config
        The config the unit runs with.
    workdir : pathlib.Path
        Run directory holding the tables it reads (a table without a recorded hash is hashed).
    hashes : dict
        Recorded SHA-256 of tables by name (:func:`table_hashes`).
    file_hashes : FileHashes
        Hashes of files outside the run directory, shared across calls.
    spec : ModelSpec, optional
        The spec, for a stage with ``per_spec``.
    """
    if spec is None:
        keys = {key: _digest(config_value(config, key)) for key in stage.config}
        reads = sorted(hashes) if EVERY_TABLE in stage.reads else list(stage.reads)
        unit = stage.name
    else:
        keys = {"spec": _digest(spec.model_dump(mode="json"))}
        reads = [stage.per_spec[spec.family]]
        unit = f"{stage.name}/{spec.id}"
    inputs = {}
    for name in reads:
        path = output_path(workdir, name)
        inputs[name] = hashes.get(name) or (sha256(path) if path.exists() else None)
    files = {}
    if stage.files is not None:
        files = {_relative(path, config): file_hashes(path) for path in stage.files(config)}
    return Fingerprint(unit, __version__, keys, inputs, files)


def _record_path(workdir: Path, unit: str) -> Path:
    return Path(workdir) / FOLDER / f"{unit}.json"


def forget(workdir: Path, units: list[str]) -> None:
    """Remove the records of units about to run (a unit killed halfway is then not re-used)."""
    for unit in units:
        _record_path(workdir, unit).unlink(missing_ok=True)


def record(
    workdir: Path,
    run_id: str,
    print_: Fingerprint,
    outputs: list[str],
    *,
    report: str,
    details: dict | None = None,
) -> dict:
    """Write the record of a unit that has written ``outputs``; return it.

    ``report`` names the stage report (``reports/<report>.json``); ``details`` are a spec's
    entries of that report (re-used when the spec is).
    """
    data = {
        "unit": print_.unit,
        "run_id": run_id,
        "digest": print_.digest,
        "version": print_.version,
        "config": print_.config,
        "inputs": print_.inputs,
        "files": print_.files,
        "outputs": {name: sha256(output_path(workdir, name)) for name in sorted(outputs)},
        "report": report,
        "details": details or {},
    }
    write_json_atomic(data, _record_path(workdir, print_.unit))
    return data


def missing_outputs(workdir: Path, data: dict) -> list[str]:
    """Outputs of a record whose files are gone from its run directory."""
    return [name for name in data["outputs"] if not output_path(workdir, name).exists()]


def link_unit(source: Path, target: Path, data: dict) -> None:
    """Re-use a unit of run directory ``source`` in ``target``: its files, report and record.

    Files are hard links where the file system allows (stages replace files by renaming, so
    the two runs never see each other's later writes), else copies. The report and record get
    ``reused_from``: the run that computed them (``run_id`` of the record).
    """
    for name in data["outputs"]:
        origin, destination = output_path(source, name), output_path(target, name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.unlink(missing_ok=True)
        try:
            os.link(origin, destination)
        except OSError:
            shutil.copy2(origin, destination)
    if "/" not in data["unit"]:  # a stage's own report (a spec's entries are merged instead)
        report_path = Path(source) / "reports" / f"{data['report']}.json"
        report = json.loads(report_path.read_text(encoding="utf-8"))
        report["reused_from"] = data["run_id"]
        write_json_atomic(report, Path(target) / "reports" / f"{data['report']}.json")
    write_json_atomic({**data, "reused_from": data["run_id"]}, _record_path(target, data["unit"]))
