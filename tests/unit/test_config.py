import pytest
import yaml
from typer.testing import CliRunner

from spillover.cli import app
from spillover.config import ConfigError, load_config, parse_config
from spillover.demo.world import WorldParams, demo_config


def _config(**changes) -> dict:
    data = demo_config(WorldParams())
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split(".")
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return data


def test_demo_config_is_valid(tmp_path):
    config = parse_config(_config(), base_dir=tmp_path)
    assert config.neighbourhoods.radii_km == [5.0, 10.0]
    assert config.definitions.capital_threshold_million_yen == 1000
    assert config.year_list == list(range(2012, 2020))
    assert config.resolve("raw/x.csv") == tmp_path / "raw" / "x.csv"


def test_bad_literal_names_key_and_allowed_values(tmp_path):
    with pytest.raises(ConfigError) as error:
        parse_config(_config(**{"models.1.ssc": "stata"}), base_dir=tmp_path, origin="c.yaml")
    message = str(error.value)
    assert "models[twoway_no_di].ssc" in message
    assert "'fixest'" in message and "'linearmodels'" in message and "got 'stata'" in message


def test_unknown_key_is_named(tmp_path):
    data = _config()
    data["neighbourhoods"]["radius"] = 5
    with pytest.raises(ConfigError, match=r"neighbourhoods\.radius: unknown key"):
        parse_config(data, base_dir=tmp_path)


def test_spec_radius_must_be_computed(tmp_path):
    with pytest.raises(ConfigError, match=r"radius_km = 7 is not in neighbourhoods.radii_km"):
        parse_config(_config(**{"models.1.radius_km": 7.0}), base_dir=tmp_path)


def test_time_effects_absorb_the_aggregate_di(tmp_path):
    with pytest.raises(ConfigError, match=r"models\[baseline@r5@cluster-entity\]: external_"):
        parse_config(_config(**{"models.0.fe": ["entity", "year"]}), base_dir=tmp_path)


def test_unknown_encoding_is_explained(tmp_path):
    data = _config()
    data["sources"]["firms"][0]["encoding"] = "sjis-x"
    with pytest.raises(
        ConfigError, match=r"sources\.firms\.0\.encoding: unknown encoding 'sjis-x'"
    ):
        parse_config(data, base_dir=tmp_path)


def test_cli_prints_one_message_without_traceback(tmp_path):
    data = _config(**{"neighbourhoods.radii_km": []})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 1
    assert "neighbourhoods.radii_km" in result.output
    assert "Traceback" not in result.output


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("years: [2012, 2019\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_regressors_must_belong_to_the_model_family(tmp_path):
    with pytest.raises(ConfigError, match=r"'opr' is not a variable of the plant panel"):
        parse_config(_config(**{"models.0.family": "plant"}), base_dir=tmp_path)


def test_unknown_exposure_kernel_lists_the_kernels(tmp_path):
    with pytest.raises(
        ConfigError, match=r"neighbourhoods.exposure_kernel: .*'gaussian'.*got 'cosine'"
    ):
        parse_config(_config(**{"neighbourhoods.exposure_kernel": "cosine"}), base_dir=tmp_path)


def test_by_industry_demand_needs_a_map(tmp_path):
    data = _config()
    data["external_demand"] = {"by_centre_industry": True}
    with pytest.raises(ConfigError, match="by_centre_industry needs industry_map"):
        parse_config(data, base_dir=tmp_path)


def test_dependent_cannot_be_a_regressor(tmp_path):
    with pytest.raises(ConfigError, match=r"dependent and regressors repeat a term: \['shipm"):
        parse_config(_config(**{"models.0.dependent": "shipments"}), base_dir=tmp_path)


def test_remote_output_root_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="output_root = 's3://b/x': only local paths"):
        parse_config(_config(output_root="s3://b/x"), base_dir=tmp_path)


def test_industry_ratio_fallback_needs_the_concordance(tmp_path):
    data = _config()
    assert "export_ratio_concordance" not in data["sources"]  # the demo names a shipped one
    del data["exports"]["concordance"]
    with pytest.raises(ConfigError, match="sources.export_ratio_concordance is empty"):
        parse_config(data, base_dir=tmp_path)


def test_cli_stage_on_a_missing_run_directory(tmp_path):
    result = CliRunner().invoke(app, ["stage", "panel", "--workdir", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "is not a run directory" in result.output and "Traceback" not in result.output
