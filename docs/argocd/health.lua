-- Argo CD health check for modelpipe.io/ModelPipeline.
--
-- Install it as the argocd-cm key
--   resource.customizations.health.modelpipe.io_ModelPipeline
-- (docs/gitops.md shows the whole ConfigMap). Argo CD runs such an override
-- with only Lua's base, table and package libraries (and a safe os), so this
-- script uses no string or math functions. hack/argocd-health runs the cases
-- of health_test.yaml (testdata/ is made by plan()) in Argo CD's own code.
--
-- Ready=True means what the current spec asks for is serving. Order matters;
-- the first rule that matches wins:
--   spec.suspend                                   -> Suspended
--   status.observedGeneration missing or lagging   -> Progressing
--   Degraded=True: production's own serving fails  -> Degraded (its message),
--                                                     even while a run trains
--   Ready=True                                     -> Healthy (its message)
--   Ready=False with a failure reason              -> Degraded (its message)
--   anything else: observing, training, queued, a
--     rollout or canary step while an older model
--     serves                                       -> Progressing (Ready's message)
-- A condition written for an older generation is ignored: it describes an
-- older spec, and must never hide what the operator says of the current one.

-- Ready reasons that mean "the current spec cannot reach production".
-- tests/packaging/test_argocd_health.py classifies every reason of the
-- operator's enums, so a new failure reason cannot pass for Progressing.
local FAILURE_REASONS = {
  InvalidSpec = true,
  PVCNotFound = true,
  QueueNotFound = true,
  DeploymentNotFound = true,
  DeploymentConflict = true,
  ServiceAccountRefused = true,
  DeploymentUnavailable = true,
  ProductionBelowThresholds = true,
  ServiceAccountNotFound = true,
  ContainerNotFound = true,
  CodeValidationFailed = true,
  ValidationFailed = true,
  TrainingFailed = true,
  GateFailed = true,
  RolloutFailed = true,
  RolledBack = true,
  AnalysisFailed = true,
  CanaryAborted = true,
  ShadowRejected = true,
  PinnedVersionUnknown = true,
  -- Ready: a followed source or the schedule fails (SourcesReady says which).
  SourceFailed = true,
  -- A followed git ref, dataset or schedule that cannot be resolved.
  InvalidSchedule = true,
  RefNotFound = true,
  NotFound = true,
  AuthenticationFailed = true,
  CredentialsRefused = true,
  DestinationRefused = true,
  Unreachable = true,
  Timeout = true,
  ServerError = true,
  RateLimited = true,
  NotData = true,
  TooLarge = true,
  InvalidManifest = true,
  InvalidSource = true,
}

local function currentCondition(obj, conditionType)
  local generation = obj.metadata.generation
  for _, condition in ipairs(obj.status.conditions or {}) do
    if condition.type == conditionType then
      local written = condition.observedGeneration
      if written == nil or generation == nil or written >= generation then
        return condition
      end
      return nil
    end
  end
  return nil
end

local function messageOr(condition, fallback)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  return fallback
end

local function assess(obj)
  if obj.spec ~= nil and obj.spec.suspend == true then
    return "Suspended", "Pipeline is suspended (spec.suspend is true)"
  end
  local generation = obj.metadata.generation
  local status = obj.status
  if status == nil or status.observedGeneration == nil then
    return "Progressing", "Waiting for the operator to observe the pipeline"
  end
  if generation ~= nil and status.observedGeneration < generation then
    return "Progressing", "Waiting for the operator to observe generation " .. generation
      .. " (observed " .. status.observedGeneration .. ")"
  end
  local degraded = currentCondition(obj, "Degraded")
  if degraded ~= nil and degraded.status == "True" then
    return "Degraded", messageOr(degraded, "The model in production is not served")
  end
  local ready = currentCondition(obj, "Ready")
  if ready == nil then
    return "Progressing", "Waiting for the pipeline to become ready"
  end
  if ready.status == "True" then
    return "Healthy", messageOr(ready, "Pipeline is ready")
  end
  if ready.status == "False" and FAILURE_REASONS[ready.reason] then
    return "Degraded", messageOr(ready, "Ready is False: " .. ready.reason)
  end
  return "Progressing", messageOr(ready, "Waiting for the pipeline to become ready")
end

local hs = {}
hs.status, hs.message = assess(obj)
return hs
