-- Rejected rows per stage, table, column and reason: what to fix in the raw files.
WITH final AS (
    SELECT stage, "table", "column", reason, count(*) AS rows, min(file) AS example_file, min(line) AS first_line
    FROM quarantine
    GROUP BY ALL
)
SELECT * FROM final ORDER BY rows DESC;
