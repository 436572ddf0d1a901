"""sql/views.sql defines exactly one view per catalogued dataset, reading its folder."""

import re

from spillover.datasets import DATASETS
from spillover.sql import SQL_DIR

VIEW = re.compile(
    r"CREATE OR REPLACE VIEW (\w+) AS\s+SELECT \* FROM read_parquet\("
    r"getvariable\('output_root'\) \|\| '/([\w/]+?)/(\*\*/)?\*\.parquet'"
    r"(, hive_partitioning = true)?\);"
)


def test_views_match_the_dataset_catalogue():
    text = (SQL_DIR / "views.sql").read_text(encoding="utf-8")
    views = {
        name: (folder, bool(recursive), bool(hive))
        for name, folder, recursive, hive in VIEW.findall(text)
    }
    assert text.count("CREATE OR REPLACE VIEW") == len(views)
    expected = {d.view: (d.name, bool(d.partitions), bool(d.partitions)) for d in DATASETS}
    assert views == expected
