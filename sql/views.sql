-- DuckDB views over a spillover output root, one per published dataset.
-- Usage (shell):  duckdb -cmd "SET VARIABLE output_root = 'demo/output'" -init sql/views.sql
-- Usage (Python): spillover.sql.connect(output_root) runs this file after setting the variable.
CREATE OR REPLACE VIEW plants AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/plants/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW global_firms AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/global_firms/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW neighbourhoods AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/neighbourhoods/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW panel AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/panel/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW estimates AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/estimates/*.parquet');
CREATE OR REPLACE VIEW decomposition AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/decomposition/*.parquet');
CREATE OR REPLACE VIEW quarantine AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/quarantine/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW public_neighbourhoods AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/public/neighbourhoods/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW overlap AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/overlap/*.parquet');
CREATE OR REPLACE VIEW exposure AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/exposure/**/*.parquet', hive_partitioning = true);
CREATE OR REPLACE VIEW plant_panel AS
    SELECT * FROM read_parquet(getvariable('output_root') || '/plant_panel/**/*.parquet', hive_partitioning = true);
