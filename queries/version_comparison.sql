-- title: Version comparison
-- description: Each model version per target: when it was first and last seen, calls, error rate, latency percentiles, confidence and peak memory.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
SELECT model, model_version, target,
       min(window_start) AS first_seen, max(window_end) AS last_seen,
       count(DISTINCT device_id) AS devices,
       sum(calls)::BIGINT AS calls,
       sum(errors) / nullif(sum(calls), 0) AS error_rate,
       hist_quantile(list(latency_hist), 0.50) AS latency_ms_p50,
       hist_quantile(list(latency_hist), 0.95) AS latency_ms_p95,
       hist_quantile(list(latency_hist), 0.99) AS latency_ms_p99,
       hist_mean(list(confidence_hist)) AS confidence_mean,
       hist_quantile(list(confidence_hist), 0.05) AS confidence_p05,
       max(memory_rss_max_bytes) AS memory_rss_max_bytes
FROM {{windows}}
WHERE {{filters}}
GROUP BY ALL
ORDER BY model, model_version, target;
