-- Test init for `nvim --headless -u tests/editors/neovim_init.lua`: loads the plugin from
-- SPARK_NVIM_PLUGIN, runs the scenarios named in SPARK_NVIM_SCENARIOS (tests/editors/
-- neovim_scenarios.lua) as a coroutine that types like a user (keys go through the main loop,
-- so autocommands, timers and LSP messages run as they would), and writes what happened to
-- SPARK_NVIM_RESULT as JSON. The pytest side (tests/test_editor_neovim.py) asserts on it.
local tests_dir = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h")
package.path = tests_dir .. "/?.lua;" .. package.path

vim.opt.runtimepath:prepend(vim.env.SPARK_NVIM_PLUGIN)
vim.o.swapfile = false
vim.o.hidden = true
vim.o.more = false
vim.lsp.set_log_level("debug")

local report = {
  nvim_version = tostring(vim.version().major)
    .. "."
    .. vim.version().minor
    .. "."
    .. vim.version().patch,
  steps = {},
  notifications = {},
  results = {},
}

-- Every vim.notify, as the user would have seen it.
local original_notify = vim.notify
vim.notify = function(message, level, opts)
  table.insert(
    report.notifications,
    { message = tostring(message), level = level or vim.log.levels.INFO }
  )
  return original_notify(message, level, opts)
end

local harness = { report = report, results = report.results }

function harness.step(name)
  table.insert(
    report.steps,
    string.format("%.1fs %s", vim.fn.reltimefloat(vim.fn.reltime(harness.started)), name)
  )
end

function harness.sleep(ms)
  local co = coroutine.running()
  vim.defer_fn(function()
    local ok, err = coroutine.resume(co)
    if not ok then
      harness.finish(err)
    end
  end, ms)
  coroutine.yield()
end

--- Waits for `condition()` to return a truthy value (returned); fails the run after timeout_ms.
function harness.wait_until(condition, timeout_ms, what)
  local waited = 0
  while true do
    local value = condition()
    if value then
      return value
    end
    if waited >= timeout_ms then
      error(string.format("timed out after %d ms waiting for %s", timeout_ms, what), 0)
    end
    harness.sleep(50)
    waited = waited + 50
  end
end

--- Types keys (in <> notation) one at a time, as typed and with mappings, letting the main loop
--- handle each (and its TextChangedI) before the next.
function harness.type(keys, pause_ms)
  local index = 1
  while index <= #keys do
    local key = keys:match("^<[^>]+>", index) or keys:sub(index, index)
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(key, true, false, true), "mt", false)
    harness.sleep(pause_ms or 25)
    index = index + #key
  end
end

--- Makes `path` the current buffer (the loaded one, with its unsaved changes, if any).
function harness.edit(path)
  local bufnr = vim.fn.bufnr(path)
  if bufnr > 0 and vim.api.nvim_buf_is_loaded(bufnr) then
    vim.api.nvim_set_current_buf(bufnr)
  else
    vim.cmd("edit " .. vim.fn.fnameescape(path))
  end
  return vim.api.nvim_get_current_buf()
end

local finished = false
function harness.finish(err)
  if finished then
    return
  end
  finished = true
  report.ok = err == nil
  report.error = err and tostring(err) or nil
  report.messages = vim.fn.execute("messages")
  report.lsp_log = vim.lsp.get_log_path()
  local file = assert(io.open(vim.env.SPARK_NVIM_RESULT, "w"))
  file:write(vim.fn.json_encode(report))
  file:close()
  vim.cmd("qa!")
end

vim.api.nvim_create_autocmd("VimEnter", {
  once = true,
  callback = function()
    -- Out of the VimEnter autocommand, so that :edit fires FileType (autocommands do not nest).
    vim.schedule(function()
      harness.started = vim.fn.reltime()
      local scenarios = require("neovim_scenarios")
      local co = coroutine.create(function()
        local ok, err = xpcall(function()
          scenarios.setup(harness)
          for _, name in ipairs(vim.split(vim.env.SPARK_NVIM_SCENARIOS, ",", { plain = true })) do
            harness.step("scenario " .. name)
            scenarios[name](harness)
          end
        end, debug.traceback)
        harness.finish(not ok and err or nil)
      end)
      local ok, err = coroutine.resume(co)
      if not ok then
        harness.finish(err)
      end
    end)
  end,
})
