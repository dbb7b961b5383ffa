-- Draws a suggestion as ghost text: one extmark per buffer, its first line at the cursor and the
-- other lines as virtual lines below. Redrawing moves the same extmark, so nothing flickers.
local compat = require("spark_lsp.compat")

local M = {}

M.NAMESPACE = "spark_lsp_ghost"
M.HIGHLIGHT = "SparkLspSuggestion"

local namespace = vim.api.nvim_create_namespace(M.NAMESPACE)
local marks = {} -- bufnr -> extmark id

function M.define_highlight()
  vim.cmd("highlight default link " .. M.HIGHLIGHT .. " Comment")
end

-- Virtual text does not expand tabs.
local function displayed(bufnr, text)
  return (text:gsub("\t", string.rep(" ", vim.bo[bufnr].tabstop)))
end

--- Shows `text` at (row, col) of the buffer (0-based row, byte column).
function M.show(bufnr, row, col, text)
  local lines = vim.split(text, "\n", { plain = true })
  local options = { id = marks[bufnr], hl_mode = "combine" }
  local first = displayed(bufnr, lines[1])
  if first ~= "" then
    options.virt_text = { { first, M.HIGHLIGHT } }
    if compat.has_inline_virt_text then
      options.virt_text_pos = "inline"
    else
      -- Before 0.10 virtual text can only cover the line: draw the suggestion over the text
      -- after the cursor, followed by that text again.
      options.virt_text_pos = "overlay"
      local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
      local after = line:sub(col + 1)
      if after ~= "" then
        table.insert(options.virt_text, { displayed(bufnr, after), "Normal" })
      end
    end
  end
  if #lines > 1 then
    options.virt_lines = {}
    for index = 2, #lines do
      table.insert(options.virt_lines, { { displayed(bufnr, lines[index]), M.HIGHLIGHT } })
    end
  end
  marks[bufnr] = vim.api.nvim_buf_set_extmark(bufnr, namespace, row, col, options)
end

function M.clear(bufnr)
  if marks[bufnr] then
    pcall(vim.api.nvim_buf_del_extmark, bufnr, namespace, marks[bufnr])
    marks[bufnr] = nil
  end
end

function M.is_shown(bufnr)
  return marks[bufnr] ~= nil
end

return M
