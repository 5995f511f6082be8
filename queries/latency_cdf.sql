-- title: Latency CDF per target
-- description: The latency distribution of each target and model as (quantile, latency_ms) points read from the merged histograms.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
-- dims: target, model
WITH f AS (
    SELECT target, model, calls, latency_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT target, model, sum(calls)::BIGINT AS calls FROM f GROUP BY ALL
), lat AS ({{hist_merge f (target, model) latency_hist}}
), merged AS (
    SELECT g.target, g.model, g.calls, lat.h FROM g LEFT JOIN lat USING (target, model)
), grid AS (
    SELECT unnest(list_concat(list_transform(range(1, 100), lambda i: i / 100.0), [0.995, 0.999]))
        AS quantile
)
SELECT target, model, calls, quantile, hist_value_quantile(h, quantile) AS latency_ms
FROM merged, grid
ORDER BY target, model, quantile;
