"""CLI conventions: --version, exit codes 0/1/2, messages without tracebacks, --set, --force."""

import json
from importlib import metadata

import pytest
import yaml
from typer.testing import CliRunner

from spillover import cli
from spillover.cli import app
from spillover.config import load_config
from spillover.demo.layouts import demo_config
from spillover.demo.params import WorldParams
from spillover.demo.world import DemoWorld
from spillover.demo.writers import config_text
from spillover.runs import started_run
from spillover.storage import build_manifest


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"spillover {metadata.version('spillover')}\n"


def test_exit_codes_and_completion(tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--no-such-option"]).exit_code == 2  # usage
    missing = runner.invoke(app, ["stage", "panel", "--workdir", str(tmp_path)])
    assert missing.exit_code == 1 and "is not a run directory" in missing.stderr  # data/config
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


def test_demo_world_size_is_a_usage_error_with_its_range():
    result = CliRunner().invoke(app, ["demo-world", "--establishments", "2000"])
    assert result.exit_code == 2
    assert "2,000 is not in 10,000–250,000" in result.output
    assert "Traceback" not in result.output


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr("spillover.storage.rollback", broken)
    result = CliRunner().invoke(app, ["rollback", "--output-root", str(tmp_path)])
    assert isinstance(result.exception, KeyError)


@pytest.fixture
def fake_world(monkeypatch):
    """build_demo_world writing only config.yaml (the raw files do not matter here)."""

    def build(out, params):
        out.mkdir(parents=True, exist_ok=True)
        config = out / "config.yaml"
        config.write_text(config_text(params), encoding="utf-8")
        return DemoWorld(out.resolve(), config, out / "truth.json", 0, 0)

    monkeypatch.setattr("spillover.demo.world.build_demo_world", build)


def test_demo_world_refuses_to_overwrite_an_edited_config(fake_world, tmp_path):
    runner = CliRunner()
    args = ["demo-world", "--out", str(tmp_path), "--establishments", "10000"]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--seed", "7"]).exit_code == 0  # written by us: replaced
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "# mine\n", encoding="utf-8")
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1
    assert f"{config} was edited since demo-world wrote it" in refused.stderr
    assert config.read_text(encoding="utf-8").endswith("# mine\n")
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert not config.read_text(encoding="utf-8").endswith("# mine\n")


def test_set_overrides_are_applied_and_frozen_into_the_run(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(demo_config(WorldParams()), allow_unicode=True), "utf-8")
    overrides = ["neighbourhoods.radii_km=[5, 3]", "models.baseline.radius_km=[3]"]
    with started_run(config, run_id="set", overrides=overrides) as workdir:
        frozen = json.loads((workdir / "config.json").read_text(encoding="utf-8"))
    assert frozen["neighbourhoods"]["radii_km"] == [3.0, 5.0]
    assert frozen["overrides"] == overrides
    manifest = build_manifest(
        run_id="set",
        config=load_config(config, overrides=overrides),
        config_path=str(config),
        reports={},
        rows={},
        disclosure={},
    )
    assert manifest["config_overrides"] == overrides
    result = CliRunner().invoke(
        app, ["run", "--config", str(config), "--set", "neighbourhoods.radii_km=[0]"]
    )
    assert result.exit_code == 1
    assert "with --set neighbourhoods.radii_km=[0]: invalid configuration" in result.stderr
    assert "neighbourhoods.radii_km.0: Input should be greater than 0" in result.stderr
    bad_path = CliRunner().invoke(app, ["run", "--config", str(config), "--set", "models.x.y=1"])
    assert bad_path.exit_code == 1 and "models.x names no entry" in bad_path.stderr


def test_fail_exits_1(capsys):
    with pytest.raises(cli.typer.Exit) as caught:
        cli._fail("bad")
    assert caught.value.exit_code == cli.EXIT_ERROR == 1


def test_a_missing_extra_names_the_install_command(monkeypatch, tmp_path):
    def needs_geopandas(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'geopandas'", name="geopandas")

    monkeypatch.setattr("spillover.storage.rollback", needs_geopandas)
    result = CliRunner().invoke(app, ["rollback", "--output-root", str(tmp_path)])
    assert result.exit_code == 1
    assert "pip install 'spillover[geo]'" in result.stderr


def test_stage_warns_when_the_config_file_changed_since_the_run(tmp_path):
    from spillover.runs import config_changed_since

    config = tmp_path / "config.yaml"
    data = demo_config(WorldParams())
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with started_run(
        config, run_id="s", overrides=["neighbourhoods.radii_km=[3, 5, 10]"]
    ) as workdir:
        pass
    assert config_changed_since(workdir) is None  # the same file and the same --set
    data["models"][0]["radius_km"] = [3, 5]  # a radius the run's --set computes
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    assert config_changed_since(workdir) == f"{config} changed since run s started"
    result = CliRunner().invoke(app, ["stage", "estimate", "--workdir", str(workdir)])
    assert "warning: " in result.stderr and "changed since run s started" in result.stderr
    config.write_text("models: [", "utf-8")
    assert "no longer loads" in config_changed_since(workdir)
