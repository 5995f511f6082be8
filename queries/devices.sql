-- title: Devices
-- description: Every device with first and last seen, how long it has been silent, windows received, offline gaps, agent backlog (spool) and measured agent overhead.
-- param: service (text, default null) Only this service
-- param: target (text, default null) Only edge or cloud
-- param: hardware (text, default null) Only this hardware label
SELECT service, device_id, target, hardware, first_seen, last_seen,
       epoch(now()) - epoch(last_seen) AS silent_s,
       windows_received, gaps, gap_seconds,
       agent_spool_windows AS spool_windows, agent_spool_bytes AS spool_bytes,
       -- the agent leaves out counters that did not move: absent means 0
       coalesce(agent_windows_spooled, 0) AS windows_spooled,
       coalesce(agent_export_failures, 0) AS export_failures,
       coalesce(agent_dropped_samples, 0) AS dropped_samples, coalesce(agent_bytes_sent, 0) AS bytes_sent,
       agent_overhead_s * 1e9 AS overhead_ns
FROM devices
WHERE ($service IS NULL OR service = $service) AND ($target IS NULL OR target = $target)
  AND ($hardware IS NULL OR hardware = $hardware)
ORDER BY target, hardware, device_id;
