-- title: Top error types
-- description: The most frequent error types per model, version and target, with their share of calls.
-- filters: standard (since, until, service, model, version, target, hardware)
-- param: limit (int, default 20) How many rows
WITH f AS (
    SELECT model, model_version, target, error_type, calls
    FROM inference_points
    WHERE {{filters}}
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
