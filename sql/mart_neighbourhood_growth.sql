-- SECURE ROOM ONLY (reads the confidential `neighbourhoods` and `plants`: centre ids, firms,
-- values of 1–2 establishments). For a table that may leave, see
-- mart_public_neighbourhood_growth.sql.
-- Top neighbourhoods by export growth between the first and the last year (2012–2019 in the
-- demo), per radius: exports in both years (million yen), the change, the change in percent
-- and per year (compound), with the centre's firm and prefecture.
-- Variables (optional): radius_km (unset: every radius), first_year / last_year (unset: the
-- publication's first and last), top (unset: 10 per radius).
--   Python: query_file(connect(root), "mart_neighbourhood_growth", radius_km=5.0)
--   Shell:  duckdb -cmd "SET VARIABLE output_root = 'demo/output'" -cmd '.read sql/views.sql' \
--             -c '.read sql/mart_neighbourhood_growth.sql'
WITH span AS (
    SELECT
        coalesce(getvariable('first_year'), min(year)) AS first_year,
        coalesce(getvariable('last_year'), max(year))  AS last_year
    FROM neighbourhoods
),
ends AS (
    SELECT
        n.radius_km,
        n.centre_id,
        span.first_year,
        span.last_year,
        max(n.exports) FILTER (WHERE n.year = span.first_year) AS exports_first,
        max(n.exports) FILTER (WHERE n.year = span.last_year)  AS exports_last,
        max(n.n_neighbours) FILTER (WHERE n.year = span.last_year) AS n_neighbours_last
    FROM neighbourhoods AS n, span
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
),
final AS (
    SELECT
        g.radius_km,
        row_number() OVER (PARTITION BY g.radius_km ORDER BY g.growth_million_yen DESC, g.centre_id)
            AS rank,
        g.centre_id,
        p.firm_id,
        p.pref_code,
        p.geocode_city AS city,
        g.first_year,
        g.last_year,
        round(g.exports_first, 1) AS exports_first,
        round(g.exports_last, 1) AS exports_last,
        round(g.growth_million_yen, 1) AS growth_million_yen,
        round(g.growth_percent, 1) AS growth_percent,
        round(g.growth_percent_per_year, 2) AS growth_percent_per_year,
        g.n_neighbours_last
    FROM growth AS g
    LEFT JOIN plants AS p ON p.establishment_id = g.centre_id AND p.year = g.last_year
    QUALIFY rank <= coalesce(getvariable('top'), 10)
)
SELECT * FROM final ORDER BY radius_km, rank;
