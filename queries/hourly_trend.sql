-- title: Trend over time
-- description: Calls, error rate, p95 latency and mean confidence per time bucket, target and model.
-- filters: standard (since, until, service, model, version, target, hardware)
-- param: bucket_minutes (int, default 60) Width of a time bucket in minutes
-- rollup: auto
SELECT time_bucket(to_minutes(CAST($bucket_minutes AS BIGINT)), window_start) AS bucket,
       target, model,
       sum(calls)::BIGINT AS calls,
       sum(errors) / nullif(sum(calls), 0) AS error_rate,
       hist_quantile(list(latency_hist), 0.95) AS latency_ms_p95,
       hist_mean(list(confidence_hist)) AS confidence_mean
FROM {{windows}}
WHERE {{filters}}
GROUP BY ALL
ORDER BY bucket, target, model;
