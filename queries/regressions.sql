-- title: Regression findings
-- description: The collector's latest rollout watch (every few minutes; each model's newest version against the one before, over the last 24 h): per check, target and hardware the status, effect, adjusted p-value and sample sizes. Regressions first.
-- param: model (text, default null) Only this model
-- param: status (text, default null) Only this status: regression, insufficient or ok
SELECT scanned_at, model, baseline_version, candidate_version, target, hardware, verdict, "check", status,
       baseline, candidate, effect, effect_kind, threshold, p_adjusted, n_baseline, n_candidate, reason
FROM regression_findings
WHERE gated AND ($model IS NULL OR model = $model) AND ($status IS NULL OR status = $status)
ORDER BY CASE status WHEN 'regression' THEN 0 WHEN 'insufficient' THEN 1 ELSE 2 END,
         model, target, hardware, "check";
