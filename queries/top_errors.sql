-- title: Top error types
-- description: The most frequent error types per model, version and target, with their share of calls.
-- filters: standard (since, until, service, model, version, target, hardware)
-- param: limit (int, default 20) How many rows
-- rollup: auto
WITH e AS (
    SELECT model, model_version, target, error_type, errors
    FROM {{error_types}}
    WHERE {{filters}}
), totals AS (
    SELECT model, model_version, target, sum(calls) AS all_calls
    FROM {{windows}}
    WHERE {{filters}}
    GROUP BY ALL
)
SELECT e.model, e.model_version, e.target, e.error_type,
       sum(e.errors)::BIGINT AS errors,
       sum(e.errors) / any_value(t.all_calls) AS share_of_calls
FROM e JOIN totals t USING (model, model_version, target)
GROUP BY ALL
ORDER BY errors DESC, e.error_type, e.model, e.model_version, e.target
LIMIT $limit;
