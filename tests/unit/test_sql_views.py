"""sql/views.sql defines exactly one view per catalogued dataset, reading its folder."""

import re

from spillover.datasets import DATASETS
from spillover.sql import SQL_DIR

VIEW = re.compile(
    r"CREATE OR REPLACE VIEW (\w+) AS\s+SELECT \* FROM read_parquet\("
    r"getvariable\('output_root'\) \|\| '/([\w/]+?)/\*\*/\*\.parquet', hive_partitioning = false\);"
)


def test_views_match_the_dataset_catalogue():
    text = (SQL_DIR / "views.sql").read_text(encoding="utf-8")
    views = dict(VIEW.findall(text))
    assert text.count("CREATE OR REPLACE VIEW") == len(views)
    assert views == {d.view: d.name for d in DATASETS}
