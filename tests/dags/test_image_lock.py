"""The image installs requirements.lock alone over the slim Airflow image: it must be whole.

The lock is resolved with the airflow extra (Airflow, the postgres, fab, celery and redis
providers) together with the project; `uv pip check` on the environment made from it (this
test's own) proves no installed package's requirement is broken — the FAB provider's
``python-dateutil<3``, for one, which an earlier lock broke.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", text, re.MULTILINE))


def test_the_lock_has_what_the_image_and_compose_file_use():
    pins = _pins()
    for needed in (
        "apache-airflow",
        "apache-airflow-providers-postgres",
        "psycopg2-binary",
        "apache-airflow-providers-fab",
        "apache-airflow-providers-celery",
        "apache-airflow-providers-redis",
    ):
        assert needed in pins, needed
    assert int(pins["python-dateutil"].split(".")[0]) < 3  # the FAB provider's bound


def test_installed_lock_has_no_broken_requirements():
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.skip("uv is not installed in this environment (make venv installs it)")
    done = subprocess.run(
        [uv, "pip", "check", "--python", sys.executable], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    installed = subprocess.run(
        [uv, "pip", "freeze", "--python", sys.executable], capture_output=True, text=True
    ).stdout
    versions = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", installed, re.MULTILINE))
    lowered = {name.lower().replace("_", "-"): v for name, v in versions.items()}
    for name, version in _pins().items():
        assert lowered.get(name.lower().replace("_", "-")) == version, name
