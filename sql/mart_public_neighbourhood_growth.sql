-- MAY LEAVE THE SECURE ROOM: reads only `public_neighbourhoods` (disclosure-controlled, no
-- identifiers); every number is a published value or the difference or ratio of two.
-- Top neighbourhoods by export growth between the first and the last year (2012–2019 in the
-- demo), per radius, among those whose exports are published (not χ) in both years:
-- exports in both years (million yen), the change, the change in percent and per year.
-- Variables (optional): radius_km (unset: every radius), first_year / last_year (unset: the
-- publication's first and last), top (unset: 10 per radius).
--   Python: query_file(connect(root), "mart_public_neighbourhood_growth", radius_km=5.0)
--   Shell:  duckdb -cmd "SET VARIABLE output_root = 'demo/output'" -cmd '.read sql/views.sql' \
--             -c '.read sql/mart_public_neighbourhood_growth.sql'
WITH span AS (
    SELECT
        coalesce(getvariable('first_year'), min(year)) AS first_year,
        coalesce(getvariable('last_year'), max(year))  AS last_year
    FROM public_neighbourhoods
),
ends AS (
    SELECT
        n.radius_km,
        n.neighbourhood_no,
        span.first_year,
        span.last_year,
        max(n.exports) FILTER (WHERE n.year = span.first_year) AS exports_first,
        max(n.exports) FILTER (WHERE n.year = span.last_year)  AS exports_last,
        max(n.n_neighbours) FILTER (WHERE n.year = span.last_year) AS n_neighbours_last
    FROM public_neighbourhoods AS n, span
    WHERE getvariable('radius_km') IS NULL OR n.radius_km = getvariable('radius_km')
    GROUP BY ALL
),
growth AS (
    SELECT
        *,
        exports_last - exports_first AS growth_million_yen,
        100 * (exports_last / nullif(exports_first, 0) - 1) AS growth_percent,
        100 * (pow(exports_last / nullif(exports_first, 0), 1 / (last_year - first_year)) - 1)
            AS growth_percent_per_year
    FROM ends
    WHERE exports_first IS NOT NULL AND exports_last IS NOT NULL
      AND NOT isnan(exports_first) AND NOT isnan(exports_last)  -- χ: null (or NaN)
),
final AS (
    SELECT
        radius_km,
        row_number() OVER (PARTITION BY radius_km ORDER BY growth_million_yen DESC, neighbourhood_no)
            AS rank,
        neighbourhood_no,
        first_year,
        last_year,
        round(exports_first, 1) AS exports_first,
        round(exports_last, 1) AS exports_last,
        round(growth_million_yen, 1) AS growth_million_yen,
        round(growth_percent, 1) AS growth_percent,
        round(growth_percent_per_year, 2) AS growth_percent_per_year,
        n_neighbours_last
    FROM growth
    QUALIFY rank <= coalesce(getvariable('top'), 10)
)
SELECT * FROM final ORDER BY radius_km, rank;
