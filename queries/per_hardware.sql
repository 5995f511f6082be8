-- title: Per-hardware comparison
-- description: Each target, hardware kind and model: devices, calls, error rate, latency percentiles, confidence and memory.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
WITH f AS (
    SELECT target, hardware, model, device_id, calls, errors,
           memory_rss_avg_bytes, memory_rss_max_bytes, latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT target, hardware, model,
           count(DISTINCT device_id) AS devices,
           sum(calls)::BIGINT AS calls,
           sum(errors) / nullif(sum(calls), 0) AS error_rate,
           avg(memory_rss_avg_bytes) AS memory_rss_avg_bytes,
           max(memory_rss_max_bytes) AS memory_rss_max_bytes
    FROM f GROUP BY ALL
), lat AS ({{hist_merge f (target, hardware, model) latency_hist}}
), conf AS ({{hist_merge f (target, hardware, model) confidence_hist}}
)
SELECT g.target, g.hardware, g.model, g.devices, g.calls, g.error_rate,
       hist_value_quantile(lat.h, 0.50) AS latency_ms_p50,
       hist_value_quantile(lat.h, 0.95) AS latency_ms_p95,
       hist_value_quantile(lat.h, 0.99) AS latency_ms_p99,
       hist_mean([conf.h]) AS confidence_mean,
       g.memory_rss_avg_bytes, g.memory_rss_max_bytes
FROM g LEFT JOIN lat USING (target, hardware, model) LEFT JOIN conf USING (target, hardware, model)
ORDER BY g.target, g.hardware, g.model;
