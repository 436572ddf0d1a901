"""The core package installs and imports without Airflow; Airflow and test tools are extras."""

import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement


def _requirements() -> dict[str, set[str]]:
    """Distribution name → the extras that require it ("" for the core)."""
    found: dict[str, set[str]] = {}
    for text in metadata.requires("spillover"):
        requirement = Requirement(text)
        extra = ""
        if requirement.marker is not None:
            extra = next(
                (e for e in ("airflow", "dev", "geo") if requirement.marker.evaluate({"extra": e})),
                "",
            )
        found.setdefault(requirement.name, set()).add(extra)
    return found


def test_airflow_and_test_tools_are_extras():
    requirements = _requirements()
    assert requirements["apache-airflow"] == {"airflow"}
    assert requirements["pytest"] == {"dev"}
    assert "" in requirements["pandas"]


def test_the_cli_and_the_pipeline_do_not_import_airflow():
    code = "import sys, spillover.cli, spillover.pipeline; print('airflow' in sys.modules)"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "False"
