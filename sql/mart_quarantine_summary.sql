-- SECURE ROOM ONLY (reads the confidential `quarantine`: raw values and file paths).
-- Quarantine by reason: rejected rows per stage, table, column and kind of reason (the
-- offending value taken out of the reason, so that one rule is one row), with one example
-- reason and the first file and line: what to fix in the raw files.
-- Variables: none.
--   Python: query_file(connect(root), "mart_quarantine_summary")
--   Shell:  duckdb -cmd "SET VARIABLE output_root = 'demo/output'" -cmd '.read sql/views.sql' \
--             -c '.read sql/mart_quarantine_summary.sql'
WITH kinds AS (
    SELECT
        *,
        regexp_replace(
            regexp_replace(regexp_replace(reason, ' for value .*$', ''), '; first seen at .*$', ''),
            '''[^'']*'' as ', '''…'' as '
        ) AS reason_kind
    FROM quarantine
),
final AS (
    SELECT
        stage,
        "table",
        "column",
        reason_kind,
        count(*)                        AS rows,
        min(reason)                     AS example_reason,
        arg_min(file, (file, line))     AS first_file,
        min(line)                       AS first_line
    FROM kinds
    GROUP BY stage, "table", "column", reason_kind
)
SELECT * FROM final ORDER BY rows DESC, stage, "table", "column", reason_kind;
