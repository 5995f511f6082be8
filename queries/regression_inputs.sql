-- title: Regression inputs
-- description: Per model, target and hardware: calls, errors, merged latency and confidence histograms and per-window memory statistics — what the regression engine compares.
-- filters: standard (since, until, service, model, version, target, hardware)
-- param: device (text, default null) Only this device
-- param: exclude_device (text, default null) Every device but this one
-- rollup: auto
SELECT model, target, hardware,
       count(*) AS windows,
       sum(calls)::BIGINT AS calls,
       sum(errors)::BIGINT AS errors,
       hist_merge(list(latency_hist)) AS latency_hist,
       hist_merge(list(confidence_hist)) AS confidence_hist,
       count(memory_rss_avg_bytes) AS memory_windows,
       avg(memory_rss_avg_bytes) AS memory_avg_mean,
       coalesce(stddev_samp(memory_rss_avg_bytes), 0) AS memory_avg_sd,
       max(memory_rss_avg_bytes) AS memory_avg_max,
       avg(memory_rss_max_bytes) AS memory_peak_mean,
       coalesce(stddev_samp(memory_rss_max_bytes), 0) AS memory_peak_sd,
       max(memory_rss_max_bytes) AS memory_peak_max
FROM {{windows}}
WHERE {{filters}}
  AND ($device IS NULL OR device_id = $device)
  AND ($exclude_device IS NULL OR device_id <> $exclude_device)
GROUP BY ALL
ORDER BY ALL;
