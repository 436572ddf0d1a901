"""The spec grammar: terms, fixed effects, vcov options, grids and errors naming the spec id."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spillover.config import ConfigError, parse_config
from spillover.specs import ModelSpec, Term, parse_term


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exports", Term("exports")),
        ("log(exports)", Term("exports", "log")),
        (" asinh( shipments ) ", Term("shipments", "asinh")),
        ("d(log1p(exports))", Term("exports", "log1p", "d")),
        ("L2(opr)", Term("opr", None, "L2")),
        ("F1(external_demand)", Term("external_demand", None, "F1")),
    ],
)
def test_terms_parse_into_variable_function_and_operator(text, expected):
    assert parse_term(text) == expected
    assert parse_term(expected.text) == expected


@pytest.mark.parametrize(
    "text", ["log(d(exports))", "exp(exports)", "log(log(exports))", "d(L1(opr))", "2x", "log()"]
)
def test_malformed_terms_are_refused_with_the_allowed_forms(text):
    with pytest.raises(ValueError, match="term") as error:
        parse_term(text)
    assert "log" in str(error.value) or "variable name" in str(error.value)


def test_stencils_of_operators():
    assert parse_term("d(x)").stencil == ((0, 1.0), (-1, -1.0))
    assert parse_term("L2(x)").stencil == ((-2, 1.0),)
    assert parse_term("log(x)").stencil == ((0, 1.0),)


def test_a_grid_expands_into_one_spec_per_radius_and_vcov():
    entry = ModelSpec.model_validate(
        {
            "id": "baseline",
            "radius_km": [1, 2.5, 10],
            "vcov": [
                {"type": "cluster", "by": ["entity"]},
                {"type": "conley", "cutoff_km": 10},
                {"type": "conley", "cutoff_km": 20, "kernel": "uniform", "serial_lags": 2},
            ],
        }
    )
    specs = entry.expand()
    assert [s.id for s in specs[:3]] == [
        "baseline@r1@cluster-entity",
        "baseline@r1@conley10",
        "baseline@r1@conley20-uniform-L2",
    ]
    assert len(specs) == 9 and len({s.id for s in specs}) == 9
    assert {s.radius_km for s in specs} == {1.0, 2.5, 10.0}
    assert all(s.grid == "baseline" for s in specs)
    assert specs[4].id == "baseline@r2.5@conley10"
    # a scalar radius and a single vcov keep the id as written
    assert ModelSpec(id="b").expand()[0].id == "b"


def test_vcov_options_belong_to_their_type():
    with pytest.raises(ValidationError, match=r"does not use \['lags'\].*takes: \['by'\]"):
        ModelSpec.model_validate({"id": "x", "vcov": {"type": "cluster", "lags": 2}})
    with pytest.raises(ValidationError, match="conley needs 'cutoff_km'"):
        ModelSpec.model_validate({"id": "x", "vcov": {"type": "conley"}})
    with pytest.raises(ValidationError, match="driscoll_kraay needs 'lags'"):
        ModelSpec.model_validate({"id": "x", "vcov": "driscoll_kraay"})
    with pytest.raises(ValidationError, match="cluster variable 'region'"):
        ModelSpec.model_validate({"id": "x", "vcov": {"type": "cluster", "by": ["region"]}})
    three = {"type": "cluster", "by": ["entity", "firm", "pref"]}
    with pytest.raises(ValidationError, match="at most 2"):
        ModelSpec.model_validate({"id": "x", "vcov": three})


@pytest.mark.parametrize("fe", [["region"], ["pref^year^firm"], ["year^year"]])
def test_unknown_fixed_effects_are_refused(fe):
    with pytest.raises(ValidationError, match="interaction of two"):
        ModelSpec.model_validate({"id": "x", "fe": fe})


def test_the_0_1_shorthand_translates_into_the_grammar():
    spec = ModelSpec.model_validate(
        {
            "id": "old",
            "regressors": ["opr", "shipments"],
            "entity_effects": True,
            "time_effects": True,
            "cov_type": "clustered",
            "cluster": "firm",
            "transform": "log1p",
            "years": [2013, 2018],
        }
    )
    assert spec.fe == ["entity", "year"]
    assert spec.vcov.label == "cluster(firm)"
    assert spec.dependent == "log1p(exports)"
    assert spec.regressor_names == ["opr", "log1p(shipments)"]
    assert spec.sample.years == (2013, 2018)
    robust = ModelSpec.model_validate({"id": "r", "cov_type": "robust", "entity_effects": False})
    assert robust.vcov.type == "hetero" and robust.fe == []


def _config(tmp_path, models, **extra):
    data = {
        "years": [2012, 2019],
        "output_root": "out",
        "work_root": "work",
        "sources": {
            name: [{"name": name, "path": f"{name}.csv", "columns": {"a": "b"}}]
            for name in ("establishments", "firms", "affiliates", "parents", "external_demand")
        },
        "gazetteer": {"path": "g.csv"},
        "neighbourhoods": {"radii_km": [5, 10]},
        "exports": {"fallback": ["firm_ratio"]},
        "models": models,
        **extra,
    }
    return parse_config(data, base_dir=tmp_path, origin="c.yaml")


def test_config_errors_name_the_spec_id_not_an_index(tmp_path):
    models = [{"id": "ok"}, {"id": "sweep", "fe": ["entity", "county"]}]
    with pytest.raises(ConfigError, match=r"models\[sweep\]\.fe") as error:
        _config(tmp_path, models)
    assert "models.1" not in str(error.value)


def test_unknown_variables_fail_listing_the_panel_variables(tmp_path):
    with pytest.raises(ConfigError, match=r"models\[p\]: 'opr' is not a variable of the plant"):
        _config(tmp_path, [{"id": "p", "family": "plant", "regressors": ["log(opr)"]}])
    with pytest.raises(ConfigError, match=r"'exprts' is not a variable.*'exports'"):
        _config(tmp_path, [{"id": "n", "dependent": "log(exprts)"}])


def test_grid_radii_must_be_built_and_expanded_ids_unique(tmp_path):
    config = _config(tmp_path, [{"id": "g", "radius_km": [5, 10]}, {"id": "h"}])
    assert [s.id for s in config.specs] == ["g@r5", "g@r10", "h"]
    with pytest.raises(ConfigError, match=r"models\[g@r20\]\.radius_km = 20 is not in"):
        _config(tmp_path, [{"id": "g", "radius_km": [5, 20]}])
    with pytest.raises(ConfigError, match=r"unique after grid expansion: \['g@r5'\]"):
        _config(tmp_path, [{"id": "g", "radius_km": [5, 10]}, {"id": "g@r5"}])


def test_year_effects_absorbing_the_external_demand_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"models\[tw\]: external_demand varies only by year"):
        _config(tmp_path, [{"id": "tw", "fe": ["entity", "year"]}])
    with pytest.raises(ConfigError, match="absorb"):
        _config(tmp_path, [{"id": "iy", "fe": ["entity", "industry^year"]}])
    # pref × year effects do not absorb a national DI
    _config(tmp_path, [{"id": "py", "fe": ["entity", "pref^year"]}])
