-- title: Cost model inputs
-- description: What the edge-vs-cloud cost model needs per target and model: calls over the range, mean latency, devices and telemetry bytes per device per day.
-- param: since (timestamp, default -24h) Start of the range (ISO time, or relative like -24h, -7d)
-- param: until (timestamp, default now) End of the range
-- param: service (text, default null) Only this service
-- param: model (text, default null) Only this model
-- param: version (text, default null) Only this model version
-- param: target (text, default null) Only edge or cloud
-- param: hardware (text, default null) Only this hardware label
-- rollup: auto
WITH w AS (
    SELECT target, model, count(DISTINCT device_id) AS devices, sum(calls)::BIGINT AS calls,
           epoch(max(window_end)) - epoch(min(window_start)) AS seconds,
           hist_mean(list(latency_hist)) AS mean_latency_ms
    FROM {{windows}}
    WHERE window_start >= CAST($since AS TIMESTAMP) AND window_start < CAST($until AS TIMESTAMP)
      AND ($service IS NULL OR service = $service) AND ($model IS NULL OR model = $model)
      AND ($version IS NULL OR model_version = $version) AND ($target IS NULL OR target = $target)
      AND ($hardware IS NULL OR hardware = $hardware)
    GROUP BY ALL
), b AS (
    SELECT target, sum(value) / nullif(count(DISTINCT device_id), 0)
               / nullif((epoch(max(time)) - epoch(min(start_time))) / 86400.0, 0) AS bytes_per_device_day
    FROM metric_points
    WHERE metric = 'inferwatch.agent.bytes.sent'
      AND time >= CAST($since AS TIMESTAMP) AND time < CAST($until AS TIMESTAMP)
    GROUP BY ALL
)
SELECT w.target, w.model, w.calls, w.seconds, w.mean_latency_ms, w.devices,
       coalesce(b.bytes_per_device_day, 0) AS bytes_per_device_day
FROM w LEFT JOIN b USING (target)
ORDER BY w.target, w.model;
