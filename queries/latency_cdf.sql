-- title: Latency CDF per target
-- description: The latency distribution of each target and model as (quantile, latency_ms) points read from the merged histograms.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
WITH merged AS (
    SELECT target, model, sum(calls)::BIGINT AS calls, hist_merge(list(latency_hist)) AS h
    FROM {{windows}}
    WHERE {{filters}}
    GROUP BY ALL
), grid AS (
    SELECT unnest(list_concat(list_transform(range(1, 100), lambda i: i / 100.0), [0.995, 0.999]))
        AS quantile
)
SELECT target, model, calls, quantile, hist_value_quantile(h, quantile) AS latency_ms
FROM merged, grid
ORDER BY target, model, quantile;
