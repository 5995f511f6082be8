-- title: Fleet overview
-- description: Devices, calls, errors and latency percentiles (from merged histograms) per target and model.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
SELECT target, model,
       count(DISTINCT device_id) AS devices,
       sum(calls)::BIGINT AS calls,
       sum(errors)::BIGINT AS errors,
       sum(errors) / nullif(sum(calls), 0) AS error_rate,
       hist_quantile(list(latency_hist), 0.50) AS latency_ms_p50,
       hist_quantile(list(latency_hist), 0.95) AS latency_ms_p95,
       hist_quantile(list(latency_hist), 0.99) AS latency_ms_p99,
       hist_mean(list(confidence_hist)) AS confidence_mean,
       max(window_end) AS last_seen
FROM {{windows}}
WHERE {{filters}}
GROUP BY ALL
ORDER BY target, model;
