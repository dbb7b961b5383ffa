-- The differences between Neovim 0.7 and 0.12 that the plugin meets, in one place.
-- Every other module calls these instead of testing versions itself.
local M = {}

local function has(feature)
  return vim.fn.has(feature) == 1
end

M.uv = vim.uv or vim.loop

-- Neovim 0.12 draws LSP inline completions itself.
M.has_native_inline_completion = has("nvim-0.12") and vim.lsp.inline_completion ~= nil
-- `virt_text_pos = "inline"` shifts the text after it instead of covering it.
M.has_inline_virt_text = has("nvim-0.10")
-- vim.lsp.start() reuses a client per name and root (0.8+); 0.7 has start_client only.
M.has_lsp_start = has("nvim-0.8")
-- 0.8+ sends `settings` with workspace/didChangeConfiguration after initialize by itself.
M.sends_settings_on_init = has("nvim-0.8")
-- 0.11 turned client functions into methods (client:request) and deprecated the old calls.
local has_client_methods = has("nvim-0.11")
-- 0.11 gave vim.str_utfindex/str_byteindex an encoding argument and deprecated the old form.
local has_encoding_indexes = has("nvim-0.11")

function M.version_string()
  local v = vim.version()
  return string.format("%d.%d.%d", v.major, v.minor, v.patch)
end

--- Sends a request; returns the request id, or nil when the client refused (stopped).
function M.request(client, method, params, handler, bufnr)
  local ok, request_id
  if has_client_methods then
    ok, request_id = client:request(method, params, handler, bufnr)
  else
    ok, request_id = client.request(method, params, handler, bufnr)
  end
  return ok and request_id or nil
end

function M.notify(client, method, params)
  if has_client_methods then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M.cancel_request(client, request_id)
  if has_client_methods then
    return client:cancel_request(request_id)
  end
  return client.cancel_request(request_id)
end

function M.stop_client(client)
  if has_client_methods then
    return client:stop()
  end
  return client.stop()
end

function M.is_stopped(client)
  if has_client_methods then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- The client's settings table, which answers workspace/configuration (0.11 keeps its own copy).
function M.settings_tables(client)
  local tables = { client.config.settings }
  if client.settings and client.settings ~= client.config.settings then
    table.insert(tables, client.settings)
  end
  return tables
end

--- Length of `text` in units of `encoding` ("utf-8", "utf-16" or "utf-32").
function M.units(text, encoding)
  if encoding == "utf-8" then
    return #text
  end
  if has_encoding_indexes then
    return vim.str_utfindex(text, encoding, nil, false)
  end
  local utf32, utf16 = vim.str_utfindex(text)
  return encoding == "utf-16" and utf16 or utf32
end

--- Byte offset in `text` of a position `units` units in (clamped to the end, as LSP asks).
function M.byte_index(text, units, encoding)
  if units <= 0 then
    return 0
  end
  if encoding == "utf-8" then
    return math.min(units, #text)
  end
  if units >= M.units(text, encoding) then
    return #text
  end
  if has_encoding_indexes then
    return vim.str_byteindex(text, encoding, units, false)
  end
  return vim.str_byteindex(text, units, encoding == "utf-16")
end

--- The :checkhealth reporters: vim.health (0.10+), vim.health.report_* (0.8-0.9) or
--- require("health") (0.7).
function M.health()
  local health = vim.health or require("health")
  if health.start then
    return {
      start = health.start,
      ok = health.ok,
      warn = health.warn,
      error = health.error,
      info = health.info,
    }
  end
  return {
    start = health.report_start,
    ok = health.report_ok,
    warn = health.report_warn,
    error = health.report_error,
    info = health.report_info,
  }
end

return M
