"""`spillover validate`: config and input headers checked without running, in a fresh process."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from spillover import pipeline, validate
from spillover.cli import app
from spillover.config import Source, load_config

HEAVY = ("scipy", "linearmodels", "pyfixest", "airflow", "spillover.geocode", "spillover.stages")
CHILD = """
import json, sys, time
from typer.testing import CliRunner
from spillover.cli import app
started = time.perf_counter()
result = CliRunner().invoke(app, ["validate", "--config", sys.argv[1]])
print(json.dumps({"code": result.exit_code, "output": result.output,
                  "seconds": time.perf_counter() - started,
                  "loaded": [m for m in sys.argv[2:] if m in sys.modules]}))
"""


def test_the_demo_validates_without_the_estimation_stack(demo_world):
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(demo_world.config_path), *HEAVY],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(child.stdout)
    assert result["code"] == 0, result["output"]
    assert result["loaded"] == []
    config = load_config(demo_world.config_path)
    output = result["output"]
    assert f"{len(config.specs)} spec(s) after grid expansion" in output
    assert all(spec.id in output for spec in config.specs)
    assert "sources.establishments[kogyo_toukei]: 7 csv file(s), years 2012–2014, 2016–2019" in (
        output
    )
    assert "neighbourhood radii (km): 5, 10" in output
    assert "is valid: 35 input files checked" in output


def test_every_problem_is_listed_with_its_file_and_key(demo_world):
    result = CliRunner().invoke(
        app,
        [
            "validate",
            "--config",
            str(demo_world.config_path),
            "--set",
            "years=[2012, 2019]",  # not `latest`, which would stop at 2012 (parents' last file)
            "--set",
            "sources.parents.honsha_kigyou.years=[2012, 2031]",
            "--set",
            "sources.firms.kigyou_katsudou.columns.従業員=employees",
            "--set",
            "external_demand.size_class=零細企業",
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error: " in result.stderr and "10 problem(s)" in result.stderr
    assert "sources.parents[honsha_kigyou].path: source 'honsha_kigyou': no file for year 2031" in (
        result.stderr
    )
    assert "kigyou_katsudou_2019.txt: column(s) ['従業員'] named in " in result.stderr
    assert "sources.firms[kigyou_katsudou].columns are not in the header" in result.stderr
    assert "no series for industry ['製造業'] with size_class '零細企業'" in result.stderr


def test_a_mapping_naming_unknown_canonical_columns_is_reported(demo_world):
    result = CliRunner().invoke(
        app,
        [
            "validate",
            "--config",
            str(demo_world.config_path),
            "--set",
            "sources.firms.kigyou_katsudou.scale={employeez: 2}",
        ],
    )
    assert result.exit_code == 1
    assert (
        "sources.firms[kigyou_katsudou].scale names unknown canonical columns ['employeez']"
        in result.stderr
    )


def test_missing_and_malformed_concordances_are_reported_with_their_key(demo_world, tmp_path):
    (tmp_path / "bad.csv").write_text("from,to,valid_from\n24,24,\n24,25,2014\n", "utf-8")
    result = CliRunner().invoke(
        app,
        [
            "validate",
            "--config",
            str(demo_world.config_path),
            "--set",
            f"sources.establishments.kogyo_toukei.recode.industry.concordance={tmp_path}/bad.csv",
            "--set",
            "exports.concordance=jsic_to_nowhere",
        ],
    )
    assert result.exit_code == 1 and "2 problem(s)" in result.stderr
    assert (
        "sources.establishments[kogyo_toukei].recode.industry: "
        f"{tmp_path}/bad.csv: line 3: code '24' already has a row valid in 2014"
    ) in result.stderr
    assert "exports.concordance: no shipped concordance 'jsic_to_nowhere'" in result.stderr


@pytest.mark.parametrize("fmt", ["parquet", "stata", "excel", "fwf"])
def test_headers_are_read_from_every_format(tmp_path, fmt):
    frame = pd.DataFrame({"firm_no": ["F1", "F2"], "capital": [1.5, 2.5]})
    path = tmp_path / f"firms.{fmt}"
    extra = {}
    if fmt == "parquet":
        frame.to_parquet(path)
    elif fmt == "stata":
        frame.to_stata(path, write_index=False)
    elif fmt == "excel":
        frame.to_excel(path, index=False)
    else:
        path.write_bytes(b"F1 1.5\nF2 2.5\n")
        extra = {"colspecs": [(0, 2), (3, 6)], "names": ["firm_no", "capital"]}
    source = Source(name="s", path=str(path), format=fmt, columns={"firm_no": "firm_id"}, **extra)
    assert validate._header(path, source, "firms") == ["firm_no", "capital"]
    if fmt == "fwf":
        short = source.model_copy(update={"colspecs": [(0, 2), (3, 9)]})
        with pytest.raises(ValueError, match="is 6 bytes but colspecs reach byte 9"):
            validate._header(path, short, "firms")


def test_the_stage_list_is_the_pipelines():
    assert validate.STAGES == tuple(pipeline.STAGES)
