-- title: Trend over time
-- description: Calls, error rate, p95 latency and mean confidence per time bucket, target and model.
-- filters: standard (since, until, service, model, version, target, hardware)
-- param: bucket_minutes (int, default 60) Width of a time bucket in minutes
-- rollup: auto
-- dims: target, model
-- grain: bucket_minutes
WITH f AS (
    SELECT time_bucket(to_minutes(CAST($bucket_minutes AS BIGINT)), window_start) AS bucket,
           target, model, calls, errors, latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT bucket, target, model,
           sum(calls)::BIGINT AS calls,
           sum(errors) / nullif(sum(calls), 0) AS error_rate,
           -- the mean needs only sums and counts, no merged buckets
           sum(confidence_hist.sum * confidence_hist.unit) FILTER (WHERE confidence_hist.count > 0)
               / nullif(sum(confidence_hist.count) FILTER (WHERE confidence_hist.count > 0), 0) AS confidence_mean
    FROM f GROUP BY ALL
), lat AS ({{hist_merge f (bucket, target, model) latency_hist}}
)
SELECT g.bucket, g.target, g.model, g.calls, g.error_rate,
       hist_value_quantile(lat.h, 0.95) AS latency_ms_p95,
       g.confidence_mean
FROM g LEFT JOIN lat USING (bucket, target, model)
ORDER BY g.bucket, g.target, g.model;
