-- Accepting the shown suggestion, whole or in part, and telling the server: the item's command
-- after a whole accept, textDocument/didPartiallyAcceptCompletion after a partial one.
local compat = require("spark_lsp.compat")
local notify = require("spark_lsp.notify")
local position = require("spark_lsp.position")
local suggest = require("spark_lsp.suggest")

local M = {}

local DID_PARTIALLY_ACCEPT = "textDocument/didPartiallyAcceptCompletion"

--- The next piece of `text` to accept: "word" (a newline and the next line's indentation, or
--- blanks and then a word or a run of punctuation) or "line" (the rest of this line, or the
--- next line with its newline).
function M.next_piece(text, how)
  if how == "line" then
    return text:match("^\n?[^\n]*")
  end
  -- Bytes from 128 up are parts of non-ASCII characters: treated as word characters.
  return text:match("^\n[ \t]*")
    or text:match("^[ \t]*[%w_\128-\255]+")
    or text:match("^[ \t]*[^%w_\128-\255%s]+")
    or text
end

-- Replaces the text from (row, col) to (end_row, end_col) and puts the cursor after it.
local function replace(bufnr, row, col, end_row, end_col, text)
  local lines = vim.split(text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, end_row, end_col, lines)
  local last_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + #lines, last_col })
end

--- Runs the item's command on the server (spark-lsp.didAcceptCompletionItem).
function M.run_command(client, command, bufnr)
  if type(command) ~= "table" or not command.command then
    return
  end
  local params = { command = command.command, arguments = command.arguments }
  compat.request(client, "workspace/executeCommand", params, function(err)
    if err then
      notify.lsp_error(err, command.command)
    end
  end, bufnr)
end

--- Accepts the shown suggestion: how = "all", "word" or "line". Returns false when none is shown.
function M.accept(bufnr, how)
  local remainder, typed, candidate = suggest.remainder(bufnr)
  if not remainder or remainder == "" then
    return false
  end
  local client = vim.lsp.get_client_by_id(candidate.client_id)
  local piece = how == "all" and remainder or M.next_piece(remainder, how)
  local row, col = position.cursor(0)
  if #piece == #remainder then
    -- The item replaces its range (its start up to the cursor) with its whole text.
    suggest.clear(bufnr)
    replace(bufnr, candidate.row, candidate.col, row, col, candidate.text)
    if client then
      M.run_command(client, candidate.item.command, bufnr)
    end
  else
    replace(bufnr, row, col, row, col, piece)
    if client then
      compat.notify(client, DID_PARTIALLY_ACCEPT, {
        item = candidate.item,
        acceptedLength = compat.units(typed .. piece, "utf-16"),
      })
    end
    suggest.refresh(bufnr)
  end
  return true
end

return M
