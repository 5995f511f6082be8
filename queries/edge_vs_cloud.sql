-- title: Edge vs cloud
-- description: Per model, version and target: calls, error rate, p50/p95/p99 latency, confidence mean and p05, memory and throughput.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
WITH f AS (
    SELECT model, model_version, target, calls, errors, window_start, window_end,
           mem_avg_n, mem_avg_sum, mem_peak_max, latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT model, model_version, target,
           sum(calls)::BIGINT AS calls,
           sum(errors) / nullif(sum(calls), 0) AS error_rate,
           -- the mean over windows (or hourly rows) of their average RSS, and the highest peak
           sum(mem_avg_sum) / nullif(sum(mem_avg_n), 0) AS memory_rss_avg_bytes,
           max(mem_peak_max) AS memory_rss_max_bytes,
           sum(calls) / nullif(epoch(max(window_end)) - epoch(min(window_start)), 0) AS calls_per_s
    FROM f GROUP BY ALL
), d AS ({{devices (model, model_version, target)}}
), lat AS ({{hist_merge f (model, model_version, target) latency_hist}}
), conf AS ({{hist_merge f (model, model_version, target) confidence_hist}}
)
SELECT g.model, g.model_version, g.target, coalesce(d.devices, 0) AS devices, g.calls, g.error_rate,
       hist_value_quantile(lat.h, 0.50) AS latency_ms_p50,
       hist_value_quantile(lat.h, 0.95) AS latency_ms_p95,
       hist_value_quantile(lat.h, 0.99) AS latency_ms_p99,
       hist_mean([lat.h]) AS latency_ms_mean,
       hist_mean([conf.h]) AS confidence_mean,
       hist_value_quantile(conf.h, 0.05) AS confidence_p05,
       g.memory_rss_avg_bytes, g.memory_rss_max_bytes, g.calls_per_s
FROM g LEFT JOIN d USING (model, model_version, target) LEFT JOIN lat USING (model, model_version, target) LEFT JOIN conf USING (model, model_version, target)
ORDER BY g.model, g.model_version, g.target;
