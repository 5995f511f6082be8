-- title: Fleet overview
-- description: Devices, calls, errors and latency percentiles (from merged histograms) per target and model.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
WITH f AS (
    SELECT target, model, device_id, calls, errors, window_end, latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT target, model,
           count(DISTINCT device_id) AS devices,
           sum(calls)::BIGINT AS calls,
           sum(errors)::BIGINT AS errors,
           sum(errors) / nullif(sum(calls), 0) AS error_rate,
           max(window_end) AS last_seen
    FROM f GROUP BY ALL
), lat AS ({{hist_merge f (target, model) latency_hist}}
), conf AS ({{hist_merge f (target, model) confidence_hist}}
)
SELECT g.target, g.model, g.devices, g.calls, g.errors, g.error_rate,
       hist_value_quantile(lat.h, 0.50) AS latency_ms_p50,
       hist_value_quantile(lat.h, 0.95) AS latency_ms_p95,
       hist_value_quantile(lat.h, 0.99) AS latency_ms_p99,
       hist_mean([conf.h]) AS confidence_mean,
       g.last_seen
FROM g LEFT JOIN lat USING (target, model) LEFT JOIN conf USING (target, model)
ORDER BY g.target, g.model;
