-- The server's state for statuslines: the `spark/status` notification, and the model's and the
-- actions' work-done progress for servers that do not send it.
local M = {}

local latest = nil -- the last {state, message, percentage?, latencyMs?} received
local model_message = nil -- what the server said when the model became ready
local automatic = true
local running_clients = 0

local MODEL_PROGRESS = "^spark%-lsp/model/"
local ACTION_PROGRESS = "^spark%-lsp/action/"

local function changed()
  -- Statuslines can refresh on this: autocmd User SparkLspStatus redrawstatus
  vim.api.nvim_exec_autocmds("User", { pattern = "SparkLspStatus", modeline = false })
end

function M.set(state)
  latest = state
  if state.state == "ready" and state.message then
    model_message = state.message
  end
  changed()
end

--- Handler of the server's `spark/status` notification.
function M.on_status_notification(_, result)
  if type(result) == "table" and type(result.state) == "string" then
    M.set(result)
  end
end

local function from_progress(token, value)
  if type(token) ~= "string" or type(value) ~= "table" then
    return nil
  end
  if token:match(MODEL_PROGRESS) then
    if value.kind == "end" then
      local failed = type(value.message) == "string" and value.message:match("^cannot") ~= nil
      return { state = failed and "error" or "ready", message = value.message }
    end
    return {
      state = "loading",
      message = value.message or value.title,
      percentage = value.percentage,
    }
  elseif token:match(ACTION_PROGRESS) then
    if value.kind == "end" then
      return { state = "ready", message = model_message }
    end
    return { state = "generating", message = value.title or value.message }
  end
  return nil
end

--- Handler of `$/progress`: what Neovim (or a progress plugin) does with it, and the state here.
function M.on_progress(err, result, ctx, config)
  local global_handler = vim.lsp.handlers["$/progress"]
  if global_handler then
    global_handler(err, result, ctx, config)
  end
  local state = result and from_progress(result.token, result.value)
  if state then
    M.set(state)
  end
end

function M.set_automatic(on)
  automatic = on
  changed()
end

function M.client_started()
  running_clients = running_clients + 1
end

function M.client_exited()
  running_clients = math.max(0, running_clients - 1)
  if running_clients == 0 then
    latest = nil
  end
  changed()
end

--- The latest state as received, or nil.
function M.latest()
  return latest and vim.deepcopy(latest) or nil
end

--- A short string for statuslines: "spark: ready", "spark: loading 40%", "spark: off", ...;
--- empty when no server runs.
function M.text()
  if running_clients == 0 and latest == nil then
    return ""
  end
  local text
  if latest == nil then
    text = "starting"
  elseif latest.state == "loading" then
    text = latest.percentage and string.format("loading %d%%", latest.percentage) or "loading"
  elseif latest.state == "ready" and latest.latencyMs then
    text = string.format("ready %dms", math.floor(latest.latencyMs + 0.5))
  else
    text = latest.state
  end
  if not automatic then
    text = text .. ", off"
  end
  return "spark: " .. text
end

return M
