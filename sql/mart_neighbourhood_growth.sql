-- Neighbourhood exports and shipments by year for one radius (million yen), with the mean OPR
-- of the centres' firms: the series behind 第II-2-4-4図. Parameter: $radius_km.
WITH cells AS (
    SELECT year, centre_id, exports, shipments, n_neighbours, opr, external_demand
    FROM panel
    WHERE radius_km = $radius_km
),
final AS (
    SELECT
        year,
        count(*)                    AS centres,
        sum(n_neighbours)           AS neighbour_plants,
        round(sum(exports), 1)      AS exports_million_yen,
        round(sum(shipments), 1)    AS shipments_million_yen,
        round(avg(opr), 2)          AS mean_opr_percent,
        any_value(external_demand)  AS external_demand_di
    FROM cells
    GROUP BY year
)
SELECT * FROM final ORDER BY year;
