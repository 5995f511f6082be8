-- title: Per-hardware comparison
-- description: Each target, hardware kind and model: devices, calls, error rate, latency percentiles, confidence and memory.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
WITH f AS (
    SELECT target, hardware, model, calls, errors, mem_avg_n, mem_avg_sum, mem_peak_max,
           latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT target, hardware, model,
           sum(calls)::BIGINT AS calls,
           sum(errors) / nullif(sum(calls), 0) AS error_rate,
           sum(mem_avg_sum) / nullif(sum(mem_avg_n), 0) AS memory_rss_avg_bytes,
           max(mem_peak_max) AS memory_rss_max_bytes,
           -- the mean needs only sums and counts, no merged buckets
           sum(confidence_hist.sum * confidence_hist.unit) FILTER (WHERE confidence_hist.count > 0)
               / nullif(sum(confidence_hist.count) FILTER (WHERE confidence_hist.count > 0), 0) AS confidence_mean
    FROM f GROUP BY ALL
), d AS ({{devices (target, hardware, model)}}
), lat AS ({{hist_merge f (target, hardware, model) latency_hist}}
)
SELECT g.target, g.hardware, g.model, coalesce(d.devices, 0) AS devices, g.calls, g.error_rate,
       hist_value_quantile(lat.h, 0.50) AS latency_ms_p50,
       hist_value_quantile(lat.h, 0.95) AS latency_ms_p95,
       hist_value_quantile(lat.h, 0.99) AS latency_ms_p99,
       g.confidence_mean,
       g.memory_rss_avg_bytes, g.memory_rss_max_bytes
FROM g LEFT JOIN d USING (target, hardware, model) LEFT JOIN lat USING (target, hardware, model)
ORDER BY g.target, g.hardware, g.model;
