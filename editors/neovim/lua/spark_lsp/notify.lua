-- Messages to the user, always through vim.notify and prefixed, never as a Lua error.
local M = {}

local PREFIX = "spark-lsp: "

-- LSP error codes the server uses, with what the user should read.
local REQUEST_CANCELLED = -32800
local SERVER_CANCELLED = -32802
local CONTENT_MODIFIED = -32801
local REQUEST_FAILED = -32803

local shown_once = {}

-- Scheduled: an error message written while a command runs (say, the :edit that fired FileType)
-- would otherwise abort that command.
local function show(message, level)
  vim.schedule(function()
    vim.notify(PREFIX .. message, level)
  end)
end

function M.info(message)
  show(message, vim.log.levels.INFO)
end

function M.warn(message)
  show(message, vim.log.levels.WARN)
end

function M.error(message)
  show(message, vim.log.levels.ERROR)
end

--- Like warn/error, but only the first time for `key` in this Neovim session.
function M.once(key, message, level)
  if shown_once[key] then
    return
  end
  shown_once[key] = true
  show(message, level or vim.log.levels.WARN)
end

local function strip_prefix(message)
  if message:sub(1, #PREFIX) == PREFIX then
    return message:sub(#PREFIX + 1)
  end
  return message
end

--- Shows an LSP error answer of `what` (e.g. "explain"); a cancelled request shows nothing.
function M.lsp_error(err, what)
  if type(err) ~= "table" then
    M.error(string.format("%s failed: %s", what, tostring(err)))
    return
  end
  local code, message = err.code, strip_prefix(tostring(err.message or "unknown error"))
  if code == REQUEST_CANCELLED or code == SERVER_CANCELLED then
    return
  elseif code == CONTENT_MODIFIED then
    M.warn(string.format("%s: the document changed meanwhile; ask again (%s)", what, message))
  elseif code == REQUEST_FAILED then
    M.error(string.format("%s: %s", what, message))
  else
    M.error(string.format("%s failed (%s): %s", what, tostring(code), message))
  end
end

return M
