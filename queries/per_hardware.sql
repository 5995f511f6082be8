-- title: Per-hardware comparison
-- description: Each target, hardware kind and model: devices, calls, error rate, latency percentiles, confidence and memory.
-- param: since (timestamp, default -24h) Start of the range (ISO time, or relative like -24h, -7d)
-- param: until (timestamp, default now) End of the range
-- param: service (text, default null) Only this service
-- param: model (text, default null) Only this model
-- param: version (text, default null) Only this model version
-- param: target (text, default null) Only edge or cloud
-- param: hardware (text, default null) Only this hardware label
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
WHERE window_start >= CAST($since AS TIMESTAMP) AND window_start < CAST($until AS TIMESTAMP)
  AND ($service IS NULL OR service = $service) AND ($model IS NULL OR model = $model)
  AND ($version IS NULL OR model_version = $version) AND ($target IS NULL OR target = $target)
  AND ($hardware IS NULL OR hardware = $hardware)
GROUP BY ALL
ORDER BY target, hardware, model;
