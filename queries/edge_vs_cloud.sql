-- title: Edge vs cloud
-- description: Per model, version and target: calls, error rate, p50/p95/p99 latency, confidence mean and p05, memory and throughput.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
SELECT model, model_version, target,
       count(DISTINCT device_id) AS devices,
       sum(calls)::BIGINT AS calls,
       sum(errors) / nullif(sum(calls), 0) AS error_rate,
       hist_quantile(list(latency_hist), 0.50) AS latency_ms_p50,
       hist_quantile(list(latency_hist), 0.95) AS latency_ms_p95,
       hist_quantile(list(latency_hist), 0.99) AS latency_ms_p99,
       hist_mean(list(latency_hist)) AS latency_ms_mean,
       hist_mean(list(confidence_hist)) AS confidence_mean,
       hist_quantile(list(confidence_hist), 0.05) AS confidence_p05,
       avg(memory_rss_avg_bytes) AS memory_rss_avg_bytes,
       max(memory_rss_max_bytes) AS memory_rss_max_bytes,
       sum(calls) / nullif(epoch(max(window_end)) - epoch(min(window_start)), 0) AS calls_per_s
FROM {{windows}}
WHERE {{filters}}
GROUP BY ALL
ORDER BY model, model_version, target;
