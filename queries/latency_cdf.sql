-- title: Latency CDF per target
-- description: The latency distribution of each target and model as (quantile, latency_ms) points read from the merged histograms.
-- param: since (timestamp, default -24h) Start of the range (ISO time, or relative like -24h, -7d)
-- param: until (timestamp, default now) End of the range
-- param: service (text, default null) Only this service
-- param: model (text, default null) Only this model
-- param: version (text, default null) Only this model version
-- param: target (text, default null) Only edge or cloud
-- param: hardware (text, default null) Only this hardware label
-- rollup: auto
WITH merged AS (
    SELECT target, model, sum(calls)::BIGINT AS calls, hist_merge(list(latency_hist)) AS h
    FROM {{windows}}
    WHERE window_start >= CAST($since AS TIMESTAMP) AND window_start < CAST($until AS TIMESTAMP)
      AND ($service IS NULL OR service = $service) AND ($model IS NULL OR model = $model)
      AND ($version IS NULL OR model_version = $version) AND ($target IS NULL OR target = $target)
      AND ($hardware IS NULL OR hardware = $hardware)
    GROUP BY ALL
), grid AS (
    SELECT unnest(list_concat(list_transform(range(1, 100), lambda i: i / 100.0), [0.995, 0.999]))
        AS quantile
)
SELECT target, model, calls, quantile, hist_value_quantile(h, quantile) AS latency_ms
FROM merged, grid
ORDER BY target, model, quantile;
