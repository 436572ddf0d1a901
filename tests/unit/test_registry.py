"""The stage registry: what run_stage does once for every stage, shown on stand-in stages."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from spillover import pipeline, quarantine
from spillover.demo.world import WorldParams, demo_config
from spillover.quarantine import QuarantineLimitError
from spillover.registry import STAGES, Stage, StageResult


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(demo_config(WorldParams()), allow_unicode=True))
    return pipeline.start_run(path, run_id="registry")


def _rejected(n: int) -> pd.DataFrame:
    rows = pd.DataFrame(
        {"year": [2015] * n, "establishment_id": [f"E{i}" for i in range(n)]},
    ).assign(source_file="raw/x.csv", source_line=range(2, n + 2))
    return quarantine.rejected_rows(
        rows,
        stage="fake",
        table="establishments",
        column="address",
        reasons=pd.Series("no such town", index=rows.index),
    )


def _register(monkeypatch, function, *, conserves_rows=True, limit_hint=None) -> None:
    monkeypatch.setitem(STAGES, "fake", Stage("fake", function, conserves_rows, limit_hint))


def test_the_registry_lists_the_stages_in_pipeline_order():
    assert list(STAGES) == [
        "ingest",
        "geocode",
        "firms",
        "exports",
        "neighbourhoods",
        "exposure",
        "panel",
        "disclose",
        "estimate",
        "publish",
    ]
    assert all(stage.function.__module__ == "spillover.stages" for stage in STAGES.values())


def test_a_stage_result_is_written_and_reported(monkeypatch, workdir):
    table = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    _register(
        monkeypatch,
        lambda run: StageResult(
            rows_in=5,
            rows_out=3,
            tables={"things": table},
            quarantine=_rejected(2),
            details={"note": "hello"},
        ),
    )
    report = pipeline.run_stage("fake", workdir)

    assert pd.read_parquet(workdir / "tables" / "things.parquet").equals(table)
    written = pd.read_parquet(workdir / "quarantine" / "fake.parquet")
    assert list(written.columns) == quarantine.COLUMNS
    assert written["line"].tolist() == [2, 3]
    on_disk = json.loads((workdir / "reports" / "fake.json").read_text(encoding="utf-8"))
    assert on_disk == report
    assert {k: report[k] for k in ("stage", "rows_in", "rows_out", "rows_quarantined")} == {
        "stage": "fake",
        "rows_in": 5,
        "rows_out": 3,
        "rows_quarantined": 2,
    }
    assert report["note"] == "hello" and report["seconds"] >= 0


def test_a_stage_that_loses_rows_fails(monkeypatch, workdir):
    _register(monkeypatch, lambda run: StageResult(rows_in=5, rows_out=3, quarantine=_rejected(1)))
    with pytest.raises(pipeline.PipelineError, match=r"fake: 5 rows in but 4 accounted for"):
        pipeline.run_stage("fake", workdir)
    assert not (workdir / "reports" / "fake.json").exists()


def test_a_transforming_stage_is_not_held_to_row_conservation(monkeypatch, workdir):
    _register(monkeypatch, lambda run: StageResult(rows_in=5, rows_out=2), conserves_rows=False)
    assert pipeline.run_stage("fake", workdir)["rows_out"] == 2


def test_quarantine_above_max_share_stops_the_stage_before_it_writes(monkeypatch, workdir):
    # demo config: quarantine.max_share = 0.05; 1 of 10 rejected is 10 %
    _register(
        monkeypatch,
        lambda run: StageResult(
            rows_in=10,
            rows_out=9,
            tables={"things": pd.DataFrame({"x": [1]})},
            quarantine=_rejected(1),
        ),
        limit_hint="check the input",
    )
    with pytest.raises(QuarantineLimitError) as error:
        pipeline.run_stage("fake", workdir)
    assert str(error.value) == (
        "fake: 1 of 10 rows (10.0%) rejected, above quarantine.max_share = 5.0% "
        f"(check the input); see {workdir / 'quarantine' / 'fake.parquet'}"
    )
    assert (workdir / "quarantine" / "fake.parquet").exists()  # there to inspect
    assert not (workdir / "tables" / "things.parquet").exists()


def test_unknown_stage_lists_the_stages(workdir):
    with pytest.raises(
        pipeline.PipelineError, match="unknown stage 'geocoding'; stages are ingest"
    ):
        pipeline.run_stage("geocoding", workdir)


def test_options_reach_the_stage_and_may_name_its_report(monkeypatch, workdir):
    def fake(run, *, spec_ids=None):
        return StageResult(rows_in=1, rows_out=1, report=f"fake-{'-'.join(spec_ids)}")

    _register(monkeypatch, fake)
    pipeline.run_stage("fake", workdir, spec_ids=["a", "b"])
    assert (workdir / "reports" / "fake-a-b.json").exists()


def test_cli_stage_help_names_every_stage():
    from spillover.cli import app

    result = CliRunner().invoke(app, ["stage", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert [name for name in STAGES if name not in result.output] == []


def test_a_rejected_value_of_a_kept_row_is_not_a_lost_row(monkeypatch, workdir):
    """A firm-year whose OPR is refused stays in the table: quarantined and out at once."""
    _register(
        monkeypatch,
        lambda run: StageResult(rows_in=5, rows_out=5, quarantine=_rejected(1), values_rejected=1),
    )
    report = pipeline.run_stage("fake", workdir)
    assert (report["rows_quarantined"], report["values_rejected"]) == (1, 1)
    _register(monkeypatch, lambda run: StageResult(rows_in=5, rows_out=5, quarantine=_rejected(1)))
    with pytest.raises(pipeline.PipelineError, match="5 rows in but 6 accounted for"):
        pipeline.run_stage("fake", workdir)


def test_only_publish_writes_under_the_output_root():
    assert [name for name, stage in STAGES.items() if stage.publishes] == ["publish"]
