-- spark-lsp for Neovim: require("spark_lsp").setup({...}) starts the server for the configured
-- filetypes and shows its inline completions as ghost text (Neovim 0.12's own
-- vim.lsp.inline_completion when available, the plugin's extmarks before).
local accept = require("spark_lsp.accept")
local actions = require("spark_lsp.actions")
local client_module = require("spark_lsp.client")
local compat = require("spark_lsp.compat")
local config = require("spark_lsp.config")
local ghost = require("spark_lsp.ghost")
local keymaps = require("spark_lsp.keymaps")
local native = require("spark_lsp.native")
local nextedit = require("spark_lsp.nextedit")
local notify = require("spark_lsp.notify")
local status = require("spark_lsp.status")
local suggest = require("spark_lsp.suggest")

local M = {}

local options = nil -- set by setup()
local automatic = true
local native_buffers = {} -- bufnr -> true where vim.lsp.inline_completion draws

local function current(bufnr)
  return (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
end

--- Whether the plugin uses Neovim's native inline completion (0.12+ and `native = true`).
function M.uses_native()
  return compat.has_native_inline_completion and (options == nil or options.native)
end

--- An accept function for one part of the suggestion: "all", "word" or "line".
local function accepter(part)
  return function(bufnr)
    bufnr = current(bufnr)
    if native_buffers[bufnr] then
      if part == "all" then
        return native.accept(bufnr)
      end
      return native.accept_part(bufnr, part)
    end
    return accept.accept(bufnr, part)
  end
end

--- Each of these returns whether it did something, so a key can fall back when not.
M.accept = accepter("all")
M.accept_word = accepter("word")
M.accept_line = accepter("line")

function M.next(bufnr)
  bufnr = current(bufnr)
  if native_buffers[bufnr] then
    return native.cycle(bufnr, 1)
  end
  return suggest.cycle(bufnr, 1)
end

function M.prev(bufnr)
  bufnr = current(bufnr)
  if native_buffers[bufnr] then
    return native.cycle(bufnr, -1)
  end
  return suggest.cycle(bufnr, -1)
end

--- Asks for a suggestion now (an invoked request, which also waits for the model to load).
function M.trigger(bufnr)
  bufnr = current(bufnr)
  if native_buffers[bufnr] then
    return false -- the native feature requests by itself and has no invoked trigger
  end
  return suggest.request(bufnr, suggest.INVOKED)
end

--- The next-edit suggestion: jump to it, or accept it when the cursor is on it; dismiss it.
function M.next_edit_accept(bufnr)
  return nextedit.jump_or_accept(current(bufnr))
end

function M.next_edit_dismiss(bufnr)
  return nextedit.dismiss(current(bufnr))
end

--- Asks for a next-edit suggestion now (they come by themselves after a pause in editing).
function M.next_edit_request(bufnr)
  return nextedit.request(current(bufnr))
end

function M.dismiss(bufnr)
  bufnr = current(bufnr)
  if native_buffers[bufnr] then
    return native.dismiss(bufnr)
  end
  if not suggest.current(bufnr) then
    return false
  end
  suggest.cancel(bufnr)
  suggest.clear(bufnr)
  return true
end

function M.is_visible(bufnr)
  bufnr = current(bufnr)
  if native_buffers[bufnr] then
    return native.is_shown(bufnr)
  end
  return ghost.is_shown(bufnr)
end

--- A short state for statuslines ("spark: ready", "spark: loading 40%", ...); "" with no server.
function M.status()
  return status.text()
end

local key_actions = {
  -- Insert mode: the ghost text first, else the next edit.
  accept = function(bufnr)
    return M.accept(bufnr) or M.next_edit_accept(bufnr)
  end,
  accept_word = M.accept_word,
  accept_line = M.accept_line,
  next = M.next,
  prev = M.prev,
  trigger = M.trigger,
  dismiss = function(bufnr)
    return M.dismiss(bufnr) or M.next_edit_dismiss(bufnr)
  end,
}

local next_edit_key_actions = { accept = M.next_edit_accept, dismiss = M.next_edit_dismiss }

local function on_attach(client, bufnr)
  if M.uses_native() then
    native_buffers[bufnr] = true
    native.enable(bufnr, automatic)
  else
    suggest.attach(bufnr)
  end
  nextedit.attach(bufnr)
  keymaps.set(bufnr, options.keymaps, key_actions)
  keymaps.set(bufnr, options.next_edit.keymaps, next_edit_key_actions, "n")
  if options.on_attach then
    options.on_attach(client, bufnr)
  end
end

local function wanted(bufnr)
  if not vim.api.nvim_buf_is_loaded(bufnr) or vim.bo[bufnr].buftype ~= "" then
    return false
  end
  local filetype = vim.bo[bufnr].filetype
  if filetype == "" or vim.api.nvim_buf_get_name(bufnr) == "" then
    return false
  end
  if vim.tbl_contains(options.exclude_filetypes, filetype) then
    return false
  end
  return options.filetypes == nil or vim.tbl_contains(options.filetypes, filetype)
end

--- Starts or reuses the server for the buffer when its filetype is configured.
function M.attach(bufnr)
  bufnr = current(bufnr)
  if options and wanted(bufnr) then
    client_module.attach(bufnr, options, config.server_settings(options, automatic), on_attach)
  end
end

--- Switches automatic suggestions on or off (no argument: flips them), here and on the server
--- (completion.automatic); invoked suggestions keep working.
function M.toggle(on)
  if on == nil then
    on = not automatic
  end
  automatic = on
  status.set_automatic(on)
  suggest.set_automatic(on)
  for bufnr in pairs(native_buffers) do
    if vim.api.nvim_buf_is_valid(bufnr) then
      native.enable(bufnr, on)
    end
  end
  if options then
    client_module.push_settings(config.server_settings(options, on))
  end
  notify.info("automatic suggestions " .. (on and "on" or "off"))
end

function M.is_automatic()
  return automatic
end

--- Stops the servers and starts them again for the open buffers.
function M.restart()
  client_module.stop_all(function()
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      native_buffers[bufnr] = nil
      M.attach(bufnr)
    end
  end)
end

--- The options in effect (after setup), for :checkhealth.
function M.options()
  return options and vim.deepcopy(options) or nil
end

function M.setup(user_options)
  local problems
  options, problems = config.resolve(user_options)
  for _, problem in ipairs(problems) do
    notify.warn("setup: " .. problem)
  end
  automatic = config.initially_automatic(options)
  status.set_automatic(automatic)
  suggest.configure(options)
  suggest.set_automatic(automatic)
  actions.configure(options)
  actions.register_commands()
  ghost.define_highlight()
  nextedit.configure(options)
  nextedit.define_highlights()

  local group = vim.api.nvim_create_augroup("spark_lsp", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd("ColorScheme", {
    group = group,
    callback = function()
      ghost.define_highlight()
      nextedit.define_highlights()
    end,
  })
  vim.api.nvim_create_autocmd("BufUnload", {
    group = group,
    callback = function(args)
      client_module.forget_buffer(args.buf)
      keymaps.forget(args.buf)
      native_buffers[args.buf] = nil
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    M.attach(bufnr)
  end
end

return M
