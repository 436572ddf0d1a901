"""The national-scale demo world: real towns of a gazetteer, stable addresses, truth recovered.

Built here at a small size (25 municipalities, 5,000 establishments) from the shared real
gazetteer; ``spillover demo-world --scale national`` uses the same code at 400 municipalities
and 190,000 establishments (``benchmarks/bench_pipeline.py --scale national``).
"""

import json

import numpy as np
import pandas as pd
import pytest

from spillover.demo.dgp import build_world_frames
from spillover.demo.national import national_params
from spillover.demo.world import WorldParams, build_demo_world
from spillover.geocode.readers import GazetteerFormatError, gazetteer_files, read_gazetteer
from spillover.pipeline import output_root, read_output, run_pipeline
from tests.conftest import SHARED_GAZETTEER

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not SHARED_GAZETTEER.exists(), reason=f"shared gazetteer {SHARED_GAZETTEER} absent"
    ),
]

SMALL_NATIONAL = WorldParams(
    overlap=True,
    n_establishments=5_000,
    n_global_firms=80,
    n_large_firms=44,
    n_medium_firms=444,
    gazetteer=str(SHARED_GAZETTEER),
    n_municipalities=25,
    address_rewrite_share=0.08,
)
Z_99 = 2.576


@pytest.fixture(scope="module")
def national_run(tmp_path_factory):
    """(world, truth, output root, gazetteer towns) of one run on the small national world."""
    world = build_demo_world(tmp_path_factory.mktemp("national"), SMALL_NATIONAL)
    root = output_root(run_pipeline(world.config_path, run_id="national"))
    truth = json.loads(world.truth_path.read_text(encoding="utf-8"))
    _, towns, _ = read_gazetteer(gazetteer_files(SHARED_GAZETTEER))
    return world, truth, root, towns


def test_plants_stand_in_real_towns_of_the_chosen_municipalities(national_run):
    world, _, root, gazetteer = national_run
    assert not (world.root / "gazetteer").exists()  # the config points at the real file
    plants = read_output(root, "plants")
    assert plants["geocode_city"].nunique() == 25
    known = set(zip(gazetteer["pref"], gazetteer["city"], gazetteer["town"], strict=True))
    placed = plants[plants["geocode_level"] == "town"]
    assert len(placed) >= 0.97 * len(plants)
    columns = ("geocode_pref", "geocode_city", "geocode_town")
    assert set(placed[list(columns)].itertuples(index=False, name=None)) <= known


def test_an_establishment_keeps_its_address_but_for_a_few_rewrites():
    world = build_world_frames(SMALL_NATIONAL)
    frames = world["establishments"].sort_values(["establishment_id", "year"])
    assert "address" not in frames  # written by the writer: re-draw them the same way
    from spillover.demo.addresses import write_establishment_addresses

    rng = np.random.default_rng(0)
    frames = frames.assign(address=write_establishment_addresses(frames, world["towns"], rng, 0.08))
    same_plant = frames["establishment_id"].eq(frames["establishment_id"].shift())
    rewritten = frames["address"].ne(frames["address"].shift()) & same_plant
    share = rewritten.sum() / same_plant.sum()
    # 8 % redrawn, of which 1/8 land on the same style and building by chance
    assert 0.04 <= share <= 0.10
    distinct = frames.groupby("establishment_id")["address"].nunique().mean()
    assert distinct < 1.6


def test_the_plant_level_truth_is_recovered_by_estimation(national_run):
    _, truth, root, _ = national_run
    assert truth["share_centres_overlapping"] > 0.5
    estimates = read_output(root, "estimates")
    plant = estimates[estimates["spec_id"] == "plant_exposure"].set_index("term")
    row = plant.loc["exposure"]
    planted = truth["plant_coefficients"]["exposure"]
    assert abs(row["coef"] - planted) <= max(Z_99 * row["se"], 0.1 * planted)


def test_national_params_are_the_size_of_the_real_survey(tmp_path):
    params = national_params(SHARED_GAZETTEER)
    assert params.n_establishments == 190_000 and params.n_municipalities == 400
    plants = 1.25 * params.n_global_firms  # one plant, or two for a quarter of them
    assert 2_500 <= plants <= 3_500


def test_a_gazetteer_too_small_for_the_world_is_refused(tmp_path):
    small = tmp_path / "towns.csv"
    pd.DataFrame(
        {
            "pref_code": [23] * 30,
            "pref": ["愛知県"] * 30,
            "city": ["豊田市"] * 30,
            "town": [f"町{i}" for i in range(30)],
            "koaza": [""] * 30,
            "lat": [35.08] * 30,
            "lng": [137.15] * 30,
        }
    ).to_csv(small, index=False)
    with pytest.raises(GazetteerFormatError, match="1 municipalities have 20 towns"):
        build_world_frames(WorldParams(gazetteer=str(small), n_municipalities=25))
