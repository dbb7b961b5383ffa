-- LSP positions (line, character in the negotiated encoding) to and from buffer positions
-- (0-based row, byte column).
local compat = require("spark_lsp.compat")

local M = {}

local function line_text(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
end

function M.to_lsp(bufnr, row, col, encoding)
  return { line = row, character = compat.units(line_text(bufnr, row):sub(1, col), encoding) }
end

--- The byte column of an LSP position on its line.
function M.to_byte_col(bufnr, position, encoding)
  return compat.byte_index(line_text(bufnr, position.line), position.character, encoding)
end

--- The window's cursor as {row, col}: 0-based row, byte column.
function M.cursor(winid)
  local cursor = vim.api.nvim_win_get_cursor(winid or 0)
  return cursor[1] - 1, cursor[2]
end

function M.cursor_params(bufnr, encoding)
  local row, col = M.cursor(0)
  return {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = M.to_lsp(bufnr, row, col, encoding),
  }
end

--- Whole lines first..last (1-based, inclusive) as an LSP range.
function M.lines_range(bufnr, first, last, encoding)
  return {
    start = { line = first - 1, character = 0 },
    ["end"] = { line = last - 1, character = compat.units(line_text(bufnr, last - 1), encoding) },
  }
end

--- Text of the buffer from (row, col) to (end_row, end_col), lines joined with "\n".
function M.text_between(bufnr, row, col, end_row, end_col)
  if end_row < row or (end_row == row and end_col < col) then
    return nil
  end
  local lines = vim.api.nvim_buf_get_lines(bufnr, row, end_row + 1, false)
  if #lines ~= end_row - row + 1 then
    return nil
  end
  lines[#lines] = lines[#lines]:sub(1, end_col)
  lines[1] = lines[1]:sub(col + 1)
  return table.concat(lines, "\n")
end

return M
