-- title: Per-hardware comparison
-- description: Each target, hardware kind and model: devices, calls, error rate, latency percentiles, confidence and memory.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
SELECT target, hardware, model,
       count(DISTINCT device_id) AS devices,
       sum(calls)::BIGINT AS calls,
       sum(errors) / nullif(sum(calls), 0) AS error_rate,
       hist_quantile(list(latency_hist), 0.50) AS latency_ms_p50,
       hist_quantile(list(latency_hist), 0.95) AS latency_ms_p95,
       hist_quantile(list(latency_hist), 0.99) AS latency_ms_p99,
       hist_mean(list(confidence_hist)) AS confidence_mean,
       avg(memory_rss_avg_bytes) AS memory_rss_avg_bytes,
       max(memory_rss_max_bytes) AS memory_rss_max_bytes
FROM {{windows}}
WHERE {{filters}}
GROUP BY ALL
ORDER BY target, hardware, model;
