-- SECURE ROOM ONLY (reads the confidential `plants`): totals are not disclosure-controlled, and
-- a prefecture-year with 1–2 exporters shows their exports.
-- Exports by prefecture and year: establishments, exporters (exports > 0), shipments and
-- exports (million yen), the export share of shipments (%), and how exports were obtained.
-- Variables: none.
--   Python: query_file(connect(root), "mart_exports_by_prefecture")
--   Shell:  duckdb -cmd "SET VARIABLE output_root = 'demo/output'" -cmd '.read sql/views.sql' \
--             -c '.read sql/mart_exports_by_prefecture.sql'
WITH prefectures AS (
    SELECT
        unnest(range(1, 48)) AS pref_code,
        unnest([
            '北海道', '青森県', '岩手県', '宮城県', '秋田県', '山形県', '福島県', '茨城県', '栃木県',
            '群馬県', '埼玉県', '千葉県', '東京都', '神奈川県', '新潟県', '富山県', '石川県', '福井県',
            '山梨県', '長野県', '岐阜県', '静岡県', '愛知県', '三重県', '滋賀県', '京都府', '大阪府',
            '兵庫県', '奈良県', '和歌山県', '鳥取県', '島根県', '岡山県', '広島県', '山口県', '徳島県',
            '香川県', '愛媛県', '高知県', '福岡県', '佐賀県', '長崎県', '熊本県', '大分県', '宮崎県',
            '鹿児島県', '沖縄県'
        ]) AS pref_name
),
final AS (
    SELECT
        p.pref_code,
        any_value(prefectures.pref_name)                               AS pref_name,
        p.year,
        count(*)                                                       AS establishments,
        count(*) FILTER (WHERE p.exports > 0)                          AS exporters,
        round(sum(p.shipments), 1)                                     AS shipments_million_yen,
        round(sum(p.exports), 1)                                       AS exports_million_yen,
        round(100 * sum(p.exports) / nullif(sum(p.shipments), 0), 2)   AS export_share_percent,
        round(sum(p.exports) FILTER (WHERE p.export_method <> 'direct_share'), 1)
                                                                       AS exports_imputed_million_yen
    FROM plants AS p
    LEFT JOIN prefectures USING (pref_code)
    GROUP BY p.pref_code, p.year
)
SELECT * FROM final ORDER BY pref_code, year;
