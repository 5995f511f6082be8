-- title: Top error types
-- description: The most frequent error types per model, version and target, with their share of calls.
-- param: since (timestamp, default -24h) Start of the range (ISO time, or relative like -24h, -7d)
-- param: until (timestamp, default now) End of the range
-- param: service (text, default null) Only this service
-- param: model (text, default null) Only this model
-- param: version (text, default null) Only this model version
-- param: target (text, default null) Only edge or cloud
-- param: hardware (text, default null) Only this hardware label
-- param: limit (int, default 20) How many rows
WITH f AS (
    SELECT model, model_version, target, error_type, calls
    FROM inference_points
    WHERE window_start >= CAST($since AS TIMESTAMP) AND window_start < CAST($until AS TIMESTAMP)
      AND ($service IS NULL OR service = $service) AND ($model IS NULL OR model = $model)
      AND ($version IS NULL OR model_version = $version) AND ($target IS NULL OR target = $target)
      AND ($hardware IS NULL OR hardware = $hardware)
), totals AS (
    SELECT model, model_version, target, sum(calls) AS all_calls FROM f GROUP BY ALL
)
SELECT f.model, f.model_version, f.target, f.error_type,
       sum(f.calls)::BIGINT AS errors,
       sum(f.calls) / any_value(t.all_calls) AS share_of_calls
FROM f JOIN totals t USING (model, model_version, target)
WHERE f.error_type IS NOT NULL
GROUP BY ALL
ORDER BY errors DESC, f.error_type
LIMIT $limit;
