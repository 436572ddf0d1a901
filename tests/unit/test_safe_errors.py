"""Errors that stay safe: alias bombs refused, messages printed literally, short values."""

from __future__ import annotations

import re
import time

import pytest
import typer
import yaml
from typer.testing import CliRunner

from spillover import cli, safe_yaml
from spillover.config import ConfigError, load_config
from spillover.demo.world import WorldParams, demo_config


def _bomb(levels: int, leaf: str) -> str:
    """``levels`` nested lists of 9 aliases each: 9**levels copies of ``leaf`` when expanded."""
    lines = [f"a0: &a0 [{', '.join([repr(leaf)] * 9)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    # a literal field: its error message used to quote the whole expanded value
    return "\n".join([*lines, f"gazetteer: {{path: g.csv, min_level: *a{levels}}}"]) + "\n"


def test_an_alias_bomb_is_refused_quickly_without_expanding_it(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(7, "x" * 60))  # 9**7 × 60 characters ≈ 290 MB expanded
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"aliases \(\*name\) expand to more than 100,000") as e:
        load_config(path)
    assert time.monotonic() - started < 2
    assert len(str(e.value)) < 300 and "xxx" not in str(e.value)


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("years: &a [2015, *a]\n")
    with pytest.raises(ConfigError, match="refer to themselves"):
        load_config(path)


def test_ordinary_aliases_still_load(tmp_path):
    config = demo_config(WorldParams())
    text = yaml.safe_dump(config, allow_unicode=True)
    columns = config["sources"]["establishments"][0]["columns"]
    assert len(config["sources"]["establishments"]) > 1
    # the second establishment source re-uses the first one's columns through an alias
    data = yaml.safe_load(text)
    data["sources"]["establishments"][1]["columns"] = columns
    path = tmp_path / "config.yaml"
    aliased = yaml.safe_dump(data, allow_unicode=True)
    assert "&id" in aliased and "*id" in aliased
    path.write_text(aliased)
    loaded = load_config(path)
    assert loaded.sources["establishments"][1].columns == columns


def test_aliases_count_at_every_use_up_to_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_yaml, "MAX_NODES", 20)
    path = tmp_path / "c.yaml"
    # the top list, the anchored list and its n items twice, and one scalar: 4 + 2n nodes
    path.write_text(f"- &x [{', '.join(['1'] * 8)}]\n- *x\n- 0\n")  # 20: loaded
    with pytest.raises(ConfigError, match="the top level must be a mapping"):
        load_config(path)
    path.write_text(f"- &x [{', '.join(['1'] * 9)}]\n- *x\n- 0\n")  # 22: refused
    with pytest.raises(ConfigError, match="expand to more than 20 values"):
        load_config(path)


def test_deep_nesting_and_other_encodings_are_config_errors(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(deep)
    sjis = tmp_path / "sjis.yaml"
    sjis.write_bytes("project: 輸出\n".encode("cp932"))
    with pytest.raises(ConfigError, match=r"sjis\.yaml: not UTF-8 text"):
        load_config(sjis)


def test_a_large_bad_value_is_quoted_briefly(tmp_path):
    config = demo_config(WorldParams())
    config["gazetteer"]["min_level"] = "PLACEHOLDER"
    text = yaml.safe_dump(config, allow_unicode=True).replace("PLACEHOLDER", "*big")
    anchors = f"z: &z {'z' * 1000}\nzz: &big [{', '.join(['*z'] * 5000)}]\n"
    path = tmp_path / "config.yaml"
    path.write_text(anchors + text)  # min_level: 5000 strings of 1000 characters (5 MB)
    with pytest.raises(ConfigError, match=r"gazetteer\.min_level") as caught:
        load_config(path)
    assert len(str(caught.value)) < 1000


@pytest.mark.parametrize(
    "message",
    [
        "sources.establishments[kogyo_toukei]: raw/kogyo_2017.csv lacks column 事業所番号",
        "unbalanced [/x] closing tag",
        "[bold]not bold[/bold] and a trailing backslash \\",
    ],
)
def test_error_messages_print_literally(message, capsys):
    with pytest.raises(typer.Exit) as caught:
        cli._fail(message)
    assert caught.value.exit_code == 1
    assert capsys.readouterr().err == f"error: {message}\n"


def test_the_cli_prints_bracketed_paths_literally(tmp_path):
    workdir = tmp_path / "[kogyo_toukei]" / "[/x]"
    result = CliRunner().invoke(cli.app, ["stage", "ingest", "--workdir", str(workdir)])
    assert result.exit_code == 1
    assert re.search(rf"error: {re.escape(str(workdir))} is not a run directory", result.stderr), (
        result.stderr
    )
