-- title: Version comparison
-- description: Each model version per target: when it was first and last seen, calls, error rate, latency percentiles, confidence and peak memory.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
WITH f AS (
    SELECT model, model_version, target, calls, errors, window_start, window_end,
           mem_peak_max, latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT model, model_version, target,
           min(window_start) AS first_seen, max(window_end) AS last_seen,
           sum(calls)::BIGINT AS calls,
           sum(errors) / nullif(sum(calls), 0) AS error_rate,
           max(mem_peak_max) AS memory_rss_max_bytes
    FROM f GROUP BY ALL
), d AS ({{devices (model, model_version, target)}}
), lat AS ({{hist_merge f (model, model_version, target) latency_hist}}
), conf AS ({{hist_merge f (model, model_version, target) confidence_hist}}
)
SELECT g.model, g.model_version, g.target, g.first_seen, g.last_seen, coalesce(d.devices, 0) AS devices, g.calls, g.error_rate,
       hist_value_quantile(lat.h, 0.50) AS latency_ms_p50,
       hist_value_quantile(lat.h, 0.95) AS latency_ms_p95,
       hist_value_quantile(lat.h, 0.99) AS latency_ms_p99,
       hist_mean([conf.h]) AS confidence_mean,
       hist_value_quantile(conf.h, 0.05) AS confidence_p05,
       g.memory_rss_max_bytes
FROM g LEFT JOIN d USING (model, model_version, target) LEFT JOIN lat USING (model, model_version, target) LEFT JOIN conf USING (model, model_version, target)
ORDER BY g.model, g.model_version, g.target;
