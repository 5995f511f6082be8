-- title: Fleet overview
-- description: Devices, calls, errors and latency percentiles (from merged histograms) per target and model.
-- param: since (timestamp, default -24h) Start of the range (ISO time, or relative like -24h, -7d)
-- param: until (timestamp, default now) End of the range
-- param: service (text, default null) Only this service
-- param: model (text, default null) Only this model
-- param: version (text, default null) Only this model version
-- param: target (text, default null) Only edge or cloud
-- param: hardware (text, default null) Only this hardware label
-- rollup: auto
SELECT target, model,
       count(DISTINCT device_id) AS devices,
       sum(calls)::BIGINT AS calls,
       sum(errors)::BIGINT AS errors,
       sum(errors) / nullif(sum(calls), 0) AS error_rate,
       hist_quantile(list(latency_hist), 0.50) AS latency_ms_p50,
       hist_quantile(list(latency_hist), 0.95) AS latency_ms_p95,
       hist_quantile(list(latency_hist), 0.99) AS latency_ms_p99,
       hist_mean(list(confidence_hist)) AS confidence_mean,
       max(window_end) AS last_seen
FROM {{windows}}
WHERE window_start >= CAST($since AS TIMESTAMP) AND window_start < CAST($until AS TIMESTAMP)
  AND ($service IS NULL OR service = $service) AND ($model IS NULL OR model = $model)
  AND ($version IS NULL OR model_version = $version) AND ($target IS NULL OR target = $target)
  AND ($hardware IS NULL OR hardware = $hardware)
GROUP BY ALL
ORDER BY target, model;
