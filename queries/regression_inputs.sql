-- title: Regression inputs
-- description: Per model, target and hardware: calls, errors, merged latency and confidence histograms and per-window memory statistics — what the regression engine compares.
-- filters: standard (since, until, service, model, version, target, hardware)
-- param: device (text, default null) Only this device
-- param: exclude_device (text, default null) Every device but this one
-- rollup: auto
WITH f AS (
    SELECT model, target, hardware, calls, errors, memory_rss_avg_bytes, memory_rss_max_bytes,
           latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
      AND ($device IS NULL OR device_id = $device)
      AND ($exclude_device IS NULL OR device_id <> $exclude_device)
), g AS (
    SELECT model, target, hardware,
           count(*) AS windows,
           sum(calls)::BIGINT AS calls,
           sum(errors)::BIGINT AS errors,
           count(memory_rss_avg_bytes) AS memory_windows,
           avg(memory_rss_avg_bytes) AS memory_avg_mean,
           coalesce(stddev_samp(memory_rss_avg_bytes), 0) AS memory_avg_sd,
           max(memory_rss_avg_bytes) AS memory_avg_max,
           avg(memory_rss_max_bytes) AS memory_peak_mean,
           coalesce(stddev_samp(memory_rss_max_bytes), 0) AS memory_peak_sd,
           max(memory_rss_max_bytes) AS memory_peak_max
    FROM f GROUP BY ALL
), lat AS ({{hist_merge f (model, target, hardware) latency_hist}}
), conf AS ({{hist_merge f (model, target, hardware) confidence_hist}}
)
SELECT g.model, g.target, g.hardware, g.windows, g.calls, g.errors,
       lat.h AS latency_hist, conf.h AS confidence_hist,
       g.memory_windows, g.memory_avg_mean, g.memory_avg_sd, g.memory_avg_max,
       g.memory_peak_mean, g.memory_peak_sd, g.memory_peak_max
FROM g LEFT JOIN lat USING (model, target, hardware) LEFT JOIN conf USING (model, target, hardware)
ORDER BY ALL;
