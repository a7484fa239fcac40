-- Argo CD health check for modelpipe.io/ModelPipeline.
--
-- Install it as the argocd-cm key
--   resource.customizations.health.modelpipe.io_ModelPipeline
-- (docs/gitops.md shows the whole ConfigMap). The layout of this folder
-- (health.lua, health_test.yaml, testdata/) is the one Argo CD uses in its
-- resource_customizations tree, so it can be upstreamed unchanged.
--
-- Argo CD runs health checks with only Lua's base, table and package
-- libraries, so this script uses no string, math or os functions.
--
-- Order matters; the first rule that matches wins:
--   spec.suspend                                  -> Suspended
--   status.observedGeneration lags                -> Progressing
--   Training=True                                 -> Progressing (its message)
--   Degraded=True                                 -> Degraded (its message)
--   Ready, SourcesReady, Training, Evaluated or
--     Promoted is False with a failure reason     -> Degraded (its message)
--   Ready=True                                    -> Healthy (its message)
--   anything else                                 -> Progressing
-- Conditions written for an older generation are ignored: they describe an
-- older spec. Training comes before the failures because a new run makes the
-- last run's failure history; the answer for the new inputs is not known yet.

-- Reasons that mean "these inputs did not make it to production".
-- tests/packaging/test_argocd_health.py classifies every reason of the
-- operator's enum, so a new failure reason cannot pass for Progressing.
local FAILURE_REASONS = {
  InvalidSpec = true,
  PVCNotFound = true,
  DeploymentNotFound = true,
  DeploymentConflict = true,
  DeploymentUnavailable = true,
  ProductionBelowThresholds = true,
  ContainerNotFound = true,
  CodeValidationFailed = true,
  ValidationFailed = true,
  TrainingFailed = true,
  GateFailed = true,
  RolloutFailed = true,
  RolledBack = true,
  PinnedVersionUnknown = true,
  -- SourcesReady: a followed git ref, dataset or schedule cannot be resolved.
  -- Production is untouched, but the spec in git cannot take effect.
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

-- The conditions whose failure reasons make the pipeline Degraded, in the
-- order their messages are preferred.
local FAILURE_CONDITIONS = { "Ready", "SourcesReady", "Training", "Evaluated", "Promoted" }

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

-- A condition written for an older generation describes an older spec.
local function isCurrent(condition, generation)
  return condition.observedGeneration == nil or generation == nil
    or condition.observedGeneration >= generation
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
  local conditions = status.conditions
  local training = findCondition(conditions, "Training")
  if training ~= nil and training.status == "True" then
    return "Progressing", messageOr(training, "Training a model")
  end
  local degraded = findCondition(conditions, "Degraded")
  if degraded ~= nil and degraded.status == "True" and isCurrent(degraded, generation) then
    return "Degraded", messageOr(degraded, "Pipeline is degraded")
  end
  for _, conditionType in ipairs(FAILURE_CONDITIONS) do
    local condition = findCondition(conditions, conditionType)
    if condition ~= nil and condition.status == "False" and isCurrent(condition, generation)
        and FAILURE_REASONS[condition.reason] then
      return "Degraded", messageOr(condition, conditionType .. " failed: " .. condition.reason)
    end
  end
  local ready = findCondition(conditions, "Ready")
  if ready ~= nil and ready.status == "True" and isCurrent(ready, generation) then
    return "Healthy", messageOr(ready, "Pipeline is ready")
  end
  local waiting = "Waiting for the pipeline to become ready"
  if ready ~= nil and isCurrent(ready, generation) then
    return "Progressing", messageOr(ready, waiting)
  end
  return "Progressing", waiting
end

local hs = {}
hs.status, hs.message = assess(obj)
return hs
