-- Neovim 0.12+: vim.lsp.inline_completion requests, draws and accepts the suggestions itself
-- (with the item's command). This module maps the plugin's keys onto its documented API.
local accept = require("spark_lsp.accept")
local compat = require("spark_lsp.compat")
local position = require("spark_lsp.position")

local M = {}

-- The namespace vim.lsp.inline_completion draws in (nvim_create_namespace returns the existing
-- one): the only way to tell whether it shows something.
local NATIVE_NAMESPACE = "nvim.lsp.inline_completion"

function M.enable(bufnr, on)
  vim.lsp.inline_completion.enable(on, { bufnr = bufnr })
end

function M.is_shown(bufnr)
  local namespace = vim.api.nvim_create_namespace(NATIVE_NAMESPACE)
  return #vim.api.nvim_buf_get_extmarks(bufnr, namespace, 0, -1, { limit = 1 }) > 0
end

--- Accepts the whole suggestion; false when none is shown.
function M.accept(bufnr)
  return vim.lsp.inline_completion.get({ bufnr = bufnr })
end

-- Inserts the next word or line of the accepted item at the cursor. The native feature forgets
-- the item once accepted; the next keystroke's request is served from the server's type-through
-- cache, so the rest shows again at once.
local function accept_piece(bufnr, item, how)
  local text = type(item.insert_text) == "table" and item.insert_text.value or item.insert_text
  local row, col = position.cursor(0)
  local typed = ""
  if item.range and item.range.start then
    typed = position.text_between(bufnr, item.range.start.row, item.range.start.col, row, col) or ""
  end
  if text:sub(1, #typed) ~= typed then
    return
  end
  local remainder = text:sub(#typed + 1)
  local piece = accept.next_piece(remainder, how)
  local lines = vim.split(piece, "\n", { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
  vim.api.nvim_win_set_cursor(0, { row + #lines, (#lines == 1 and col or 0) + #lines[#lines] })
  local client = vim.lsp.get_client_by_id(item.client_id)
  if not client then
    return
  end
  if #piece == #remainder then
    accept.run_command(client, item.command, bufnr)
  else
    compat.notify(client, "textDocument/didPartiallyAcceptCompletion", {
      item = { insertText = text, command = item.command },
      acceptedLength = compat.units(typed .. piece, "utf-16"),
    })
  end
end

--- Accepts the next word or line ("word", "line"); false when nothing is shown.
function M.accept_part(bufnr, how)
  return vim.lsp.inline_completion.get({
    bufnr = bufnr,
    on_accept = function(item)
      accept_piece(bufnr, item, how)
    end,
  })
end

function M.cycle(bufnr, step)
  if not M.is_shown(bufnr) then
    return false
  end
  vim.lsp.inline_completion.select({ bufnr = bufnr, count = step })
  return true
end

--- Hides the suggestion: the API has no dismiss, but disabling drops the shown item and
--- enabling again resumes suggestions.
function M.dismiss(bufnr)
  if not M.is_shown(bufnr) then
    return false
  end
  M.enable(bufnr, false)
  M.enable(bufnr, true)
  return true
end

return M
