"""The demo world's overlap setting: neighbourhoods overlap, the plant-level truth is recovered."""

import json

import pytest

from spillover.demo.world import WorldParams, build_demo_world
from spillover.pipeline import output_root, read_output, run_pipeline

pytestmark = pytest.mark.slow

#: A small dense world: about 100 centres 3 km or more apart among 4,000 establishments.
SMALL_DENSE = WorldParams(
    overlap=True, n_establishments=4_000, n_global_firms=80, n_large_firms=44, n_medium_firms=444
)
#: Two-sided 99 % normal quantile.
Z_99 = 2.576


@pytest.fixture(scope="module")
def overlap_run(tmp_path_factory):
    """(truth.json, output root) of one pipeline run on the small dense world."""
    world = build_demo_world(tmp_path_factory.mktemp("overlap"), SMALL_DENSE)
    root = output_root(run_pipeline(world.config_path, run_id="overlap"))
    return json.loads(world.truth_path.read_text(encoding="utf-8")), root


def test_most_5km_neighbourhoods_overlap(overlap_run):
    truth, root = overlap_run
    assert truth["overlap"] and truth["coefficients"] == {}  # no neighbourhood truth planted
    assert truth["share_centres_overlapping"] >= 0.8  # another centre within 10 km
    overlap = read_output(root, "overlap")
    at_radius = overlap[overlap["radius_km"] == truth["radius_km"]]
    assert len(at_radius) == 8  # one row per year
    # the pipeline's own count: a large share of neighbours belong to several neighbourhoods
    assert (at_radius["share_neighbours_shared"] >= 0.4).all()
    assert (at_radius["mean_memberships"] >= 1.5).all()


def test_plant_family_recovers_the_planted_coefficients(overlap_run):
    truth, root = overlap_run
    estimates = read_output(root, "estimates")
    plant = estimates[estimates["spec_id"] == "plant_exposure"].set_index("term")
    for term, planted in truth["plant_coefficients"].items():  # exposure 1.0, DI 0.0
        row = plant.loc[term]
        assert abs(row["coef"] - planted) <= Z_99 * row["se"], term
    exposure, planted = plant.loc["exposure"], truth["plant_coefficients"]["exposure"]
    # recovered, not just signed: within 10 % of the truth, with an SE far below that
    assert abs(exposure["coef"] - planted) <= 0.1 * planted
    assert exposure["se"] <= 0.03 * planted
