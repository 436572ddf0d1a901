-- SECURE ROOM ONLY (reads the confidential `panel`): not disclosure-controlled.
-- Neighbourhood exports and shipments by radius and year (million yen), with the mean OPR of
-- the centres' firms: the series behind 第II-2-4-4図.
-- Variable (optional): radius_km — one radius; unset: every radius.
--   Python: query_file(connect(root), "mart_neighbourhood_totals", radius_km=5.0)
--   Shell:  duckdb -cmd "SET VARIABLE output_root = 'demo/output'" -cmd '.read sql/views.sql' \
--             -cmd 'SET VARIABLE radius_km = 5' -c '.read sql/mart_neighbourhood_totals.sql'
WITH cells AS (
    SELECT radius_km, year, centre_id, exports, shipments, n_neighbours, opr, external_demand
    FROM panel
    WHERE membership = 'yearly'
      AND (getvariable('radius_km') IS NULL OR radius_km = getvariable('radius_km'))
),
final AS (
    SELECT
        radius_km,
        year,
        count(*)                    AS centres,
        sum(n_neighbours)           AS neighbour_plants,
        round(sum(exports), 1)      AS exports_million_yen,
        round(sum(shipments), 1)    AS shipments_million_yen,
        round(avg(opr), 2)          AS mean_opr_percent,
        any_value(external_demand)  AS external_demand_di
    FROM cells
    GROUP BY radius_km, year
)
SELECT * FROM final ORDER BY radius_km, year;
