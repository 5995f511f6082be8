-- title: Regression inputs
-- description: Per model, target and hardware: devices, calls, errors, merged latency and confidence histograms and per-window memory statistics — what the regression engine compares.
-- filters: standard (since, until, service, model, version, target, hardware)
-- param: device (text, default null) Only this device
-- param: exclude_device (text, default null) Every device but this one
-- rollup: auto
-- per_device: device, exclude_device
WITH f AS (
    SELECT model, target, hardware, calls, errors, rows, mem_avg_n, mem_avg_sum, mem_avg_sumsq, mem_avg_max,
           mem_peak_n, mem_peak_sum, mem_peak_sumsq, mem_peak_max, latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
      AND ($device IS NULL OR device_id = $device)
      AND ($exclude_device IS NULL OR device_id <> $exclude_device)
), g AS (
    SELECT model, target, hardware,
           sum(rows)::BIGINT AS windows,
           sum(calls)::BIGINT AS calls,
           sum(errors)::BIGINT AS errors,
           -- mean, sample standard deviation and maximum over windows (or hourly rows) of their average
           -- and peak RSS, from the sums the rollups keep
           sum(mem_avg_n)::BIGINT AS memory_windows,
           sum(mem_avg_sum) / nullif(sum(mem_avg_n), 0) AS memory_avg_mean,
           CASE WHEN sum(mem_avg_n) > 1 THEN sqrt(greatest(
               (sum(mem_avg_sumsq) - sum(mem_avg_sum) ^ 2 / sum(mem_avg_n)) / (sum(mem_avg_n) - 1), 0))
               ELSE 0 END AS memory_avg_sd,
           max(mem_avg_max) AS memory_avg_max,
           sum(mem_peak_sum) / nullif(sum(mem_peak_n), 0) AS memory_peak_mean,
           CASE WHEN sum(mem_peak_n) > 1 THEN sqrt(greatest(
               (sum(mem_peak_sumsq) - sum(mem_peak_sum) ^ 2 / sum(mem_peak_n)) / (sum(mem_peak_n) - 1), 0))
               ELSE 0 END AS memory_peak_sd,
           max(mem_peak_max) AS memory_peak_max
    FROM f GROUP BY ALL
), d AS ({{devices (model, target, hardware)}}
), lat AS ({{hist_merge f (model, target, hardware) latency_hist}}
), conf AS ({{hist_merge f (model, target, hardware) confidence_hist}}
)
SELECT g.model, g.target, g.hardware, g.windows, g.calls, g.errors,
       -- devices behind the cohort: the memory test's units (NULL with `device`: one device's windows
       -- are its units; one fewer with `exclude_device`, at least 1)
       CASE WHEN $device IS NOT NULL THEN NULL
            WHEN $exclude_device IS NOT NULL THEN greatest(coalesce(d.devices, 0) - 1, 1)
            ELSE coalesce(d.devices, 0) END::BIGINT AS devices,
       lat.h AS latency_hist, conf.h AS confidence_hist,
       g.memory_windows, g.memory_avg_mean, g.memory_avg_sd, g.memory_avg_max,
       g.memory_peak_mean, g.memory_peak_sd, g.memory_peak_max
FROM g LEFT JOIN d USING (model, target, hardware)
    LEFT JOIN lat USING (model, target, hardware) LEFT JOIN conf USING (model, target, hardware)
ORDER BY ALL;
