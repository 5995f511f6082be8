-- title: Fleet overview
-- description: Devices, calls, errors and latency percentiles (from merged histograms) per target and model.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
-- dims: target, model
WITH f AS (
    SELECT target, model, calls, errors, window_end, latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT target, model,
           sum(calls)::BIGINT AS calls,
           sum(errors)::BIGINT AS errors,
           sum(errors) / nullif(sum(calls), 0) AS error_rate,
           max(window_end) AS last_seen,
           -- the mean needs only sums and counts, no merged buckets
           sum(confidence_hist.sum * confidence_hist.unit) FILTER (WHERE confidence_hist.count > 0)
               / nullif(sum(confidence_hist.count) FILTER (WHERE confidence_hist.count > 0), 0) AS confidence_mean
    FROM f GROUP BY ALL
), d AS ({{devices (target, model)}}
), lat AS ({{hist_merge f (target, model) latency_hist}}
)
SELECT g.target, g.model, coalesce(d.devices, 0) AS devices, g.calls, g.errors, g.error_rate,
       hist_value_quantile(lat.h, 0.50) AS latency_ms_p50,
       hist_value_quantile(lat.h, 0.95) AS latency_ms_p95,
       hist_value_quantile(lat.h, 0.99) AS latency_ms_p99,
       g.confidence_mean,
       g.last_seen
FROM g LEFT JOIN d USING (target, model) LEFT JOIN lat USING (target, model)
ORDER BY g.target, g.model;
