-- title: Cost model inputs
-- description: What the edge-vs-cloud cost model needs per target and model: calls and the time the data covers (at least a minute), mean latency, devices and telemetry bytes per device per day.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
-- dims: target, model
WITH w AS (
    SELECT target, model, sum(calls)::BIGINT AS calls,
           greatest(epoch(max(window_end)) - epoch(min(window_start)), 60) AS seconds,
           -- hist_mean without merging buckets: the mean needs only the sums and counts
           sum(latency_hist.sum * latency_hist.unit) FILTER (WHERE latency_hist.count > 0)
               / nullif(sum(latency_hist.count), 0) AS mean_latency_ms
    FROM {{windows}}
    WHERE {{filters}}
    GROUP BY ALL
), d AS ({{devices (target, model)}}
), b AS (
    SELECT target, sum(value) / nullif(count(DISTINCT device_id), 0)
               / (greatest(epoch(max(time)) - epoch(min(start_time)), 60) / 86400.0) AS bytes_per_device_day
    FROM metric_points
    WHERE metric = 'inferwatch.agent.bytes.sent'
      AND time >= CAST($since AS TIMESTAMP) AND time < CAST($until AS TIMESTAMP)
      AND ($service IS NULL OR service = $service) AND ($target IS NULL OR target = $target)
      AND ($hardware IS NULL OR hardware = $hardware)
    GROUP BY ALL
)
SELECT w.target, w.model, w.calls, w.seconds, w.mean_latency_ms, coalesce(d.devices, 0) AS devices,
       coalesce(b.bytes_per_device_day, 0) AS bytes_per_device_day
FROM w LEFT JOIN d USING (target, model) LEFT JOIN b USING (target)
ORDER BY w.target, w.model;
