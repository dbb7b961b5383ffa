-- Next-edit suggestions: after a pause following an edit, ask the server (`spark/nextEdit`) for
-- the edit that naturally follows (the other uses of a renamed name, the next line of a repeated
-- change). The lines it would replace are highlighted and the new text is drawn as virtual lines
-- below them; <Tab> jumps to it, <Tab> again accepts it (one undo step), <Esc> dismisses it.
-- A suggestion belongs to the buffer's text it was computed for: any change takes it away.
local client_module = require("spark_lsp.client")
local compat = require("spark_lsp.compat")

local M = {}

M.NAMESPACE = "spark_lsp_next_edit"
M.METHOD = "spark/nextEdit"
M.OLD_HIGHLIGHT = "SparkLspNextEditOld"
M.NEW_HIGHLIGHT = "SparkLspNextEdit"
M.HINT_HIGHLIGHT = "SparkLspNextEditHint"

local namespace = vim.api.nvim_create_namespace(M.NAMESPACE)
local enabled = true
local debounce_ms = 750

-- Per buffer: {timer, pending = {client, id}, seq, shown}; shown: {tick, version, parts,
-- accept, client_id}, a part: {range (LSP, as the server sent it), text}.
local states = {}

local function state_of(bufnr)
  states[bufnr] = states[bufnr] or { seq = 0 }
  return states[bufnr]
end

function M.define_highlights()
  vim.cmd("highlight default link " .. M.OLD_HIGHLIGHT .. " DiffDelete")
  vim.cmd("highlight default link " .. M.NEW_HIGHLIGHT .. " DiffAdd")
  vim.cmd("highlight default link " .. M.HINT_HIGHLIGHT .. " Comment")
end

function M.configure(options)
  enabled = options.next_edit.enabled
  debounce_ms = options.next_edit.debounce_ms
end

local function is_count(value)
  return type(value) == "number" and value >= 0 and value == math.floor(value)
end

local function position_of(value)
  if type(value) ~= "table" or not is_count(value.line) or not is_count(value.character) then
    return nil
  end
  return value
end

-- One edit of the answer, checked; nil when malformed or for another document or version.
local function part_of(edit, uri, version)
  if type(edit) ~= "table" or type(edit.text) ~= "string" or type(edit.range) ~= "table" then
    return nil
  end
  local start, finish = position_of(edit.range.start), position_of(edit.range["end"])
  local document = type(edit.textDocument) == "table" and edit.textDocument or {}
  if not start or not finish or document.uri ~= uri then
    return nil
  end
  if version ~= nil and document.version ~= version then
    return nil
  end
  if
    finish.line < start.line or (finish.line == start.line and finish.character < start.character)
  then
    return nil
  end
  return { range = { start = start, ["end"] = finish }, text = edit.text }
end

--- The answer's edits for `uri` (at `version`, when known), sorted, or nil when there are none
--- or any is malformed, stale or overlapping: half a suggestion is never shown.
function M.parse(result, uri, version)
  if type(result) ~= "table" or type(result.edits) ~= "table" or #result.edits == 0 then
    return nil
  end
  local parts = {}
  for _, edit in ipairs(result.edits) do
    local part = part_of(edit, uri, version)
    if not part then
      return nil
    end
    table.insert(parts, part)
  end
  table.sort(parts, function(a, b)
    return a.range.start.line < b.range.start.line
  end)
  for index = 2, #parts do
    local previous, current = parts[index - 1].range["end"], parts[index].range.start
    if
      previous.line > current.line
      or (previous.line == current.line and previous.character > current.character)
    then
      return nil
    end
  end
  local command = type(result.edits[1].command) == "table" and result.edits[1].command or nil
  if command and type(command.command) ~= "string" then
    command = nil
  end
  return { parts = parts, accept = command, source = result.source }
end

-- The rows a part replaces: first..last, inclusive; last < first for an insertion.
local function rows_of(part)
  local start, finish = part.range.start, part.range["end"]
  local last = finish.line
  if finish.character == 0 and finish.line > start.line then
    last = last - 1
  end
  return start.line, last
end

local function new_lines(text)
  local lines = vim.split(text, "\n", { plain = true })
  if lines[#lines] == "" then
    table.remove(lines)
  end
  return lines
end

--- The suggestion shown in the buffer, or nil.
function M.current(bufnr)
  local state = states[bufnr]
  return state and state.shown or nil
end

function M.is_shown(bufnr)
  return M.current(bufnr) ~= nil
end

function M.clear(bufnr)
  local state = states[bufnr]
  if state then
    state.shown = nil
  end
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, namespace, 0, -1)
  end
end

local function draw(bufnr, shown)
  local line_count = vim.api.nvim_buf_line_count(bufnr)
  for index, part in ipairs(shown.parts) do
    local first, last = rows_of(part)
    local virtual = {}
    for _, line in ipairs(new_lines(part.text)) do
      table.insert(virtual, { { line, M.NEW_HIGHLIGHT } })
    end
    if #virtual == 0 then
      virtual = { { { "(delete)", M.HINT_HIGHLIGHT } } }
    end
    local hint = index == 1 and "  <Tab> next edit" or nil
    if last >= first then
      vim.api.nvim_buf_set_extmark(bufnr, namespace, first, 0, {
        end_row = last,
        end_col = #(vim.api.nvim_buf_get_lines(bufnr, last, last + 1, false)[1] or ""),
        hl_group = M.OLD_HIGHLIGHT,
        hl_eol = true,
        virt_text = hint and { { hint, M.HINT_HIGHLIGHT } } or nil,
        virt_text_pos = hint and "eol" or nil,
      })
      vim.api.nvim_buf_set_extmark(bufnr, namespace, last, 0, { virt_lines = virtual })
    else
      -- An insertion before row `first`: drawn above it (or below the last line).
      local row = math.min(first, line_count - 1)
      vim.api.nvim_buf_set_extmark(bufnr, namespace, row, 0, {
        virt_lines = virtual,
        virt_lines_above = first < line_count,
      })
    end
  end
end

local function version_of(bufnr)
  local versions = vim.lsp.util.buf_versions
  local version = versions and versions[bufnr]
  return type(version) == "number" and version or nil
end

local function cancel(bufnr)
  local state = states[bufnr]
  if not state then
    return
  end
  state.seq = state.seq + 1
  if state.timer then
    state.timer:stop()
    state.timer:close()
    state.timer = nil
  end
  if state.pending then
    compat.cancel_request(state.pending.client, state.pending.id)
    state.pending = nil
  end
end

--- Asks the server now about the buffer and shows its answer, if it is still for this text.
function M.request(bufnr)
  local client = client_module.get(bufnr)
  if not client then
    return false
  end
  cancel(bufnr)
  local state = state_of(bufnr)
  local seq, tick, version = state.seq, vim.api.nvim_buf_get_changedtick(bufnr), version_of(bufnr)
  local uri = vim.uri_from_bufnr(bufnr)
  local cursor = vim.api.nvim_win_get_cursor(0)
  local params = {
    textDocument = { uri = uri, version = version },
    -- The position only says where the user is; the server works from its edit history.
    position = { line = cursor[1] - 1, character = 0 },
  }
  local request_id
  request_id = compat.request(client, M.METHOD, params, function(err, result)
    if state.pending and state.pending.id == request_id then
      state.pending = nil
    end
    if err or seq ~= state.seq or not vim.api.nvim_buf_is_valid(bufnr) then
      return -- ContentModified and cancellations are expected; the next pause asks again
    end
    if vim.api.nvim_buf_get_changedtick(bufnr) ~= tick then
      return
    end
    local suggestion = M.parse(result, uri, version)
    if not suggestion then
      return
    end
    for _, part in ipairs(suggestion.parts) do
      if part.range["end"].line > vim.api.nvim_buf_line_count(bufnr) then
        return
      end
    end
    M.clear(bufnr)
    suggestion.tick, suggestion.version, suggestion.client_id = tick, version, client.id
    state.shown = suggestion
    draw(bufnr, suggestion)
  end, bufnr)
  if request_id then
    state.pending = { client = client, id = request_id }
  end
  return true
end

local function on_change(bufnr)
  M.clear(bufnr)
  cancel(bufnr)
  if not enabled then
    return
  end
  local state = state_of(bufnr)
  local timer = vim.loop.new_timer()
  state.timer = timer
  timer:start(
    debounce_ms,
    0,
    vim.schedule_wrap(function()
      if state.timer == timer then
        state.timer = nil
        timer:close()
        if vim.api.nvim_get_current_buf() == bufnr then
          M.request(bufnr)
        end
      end
    end)
  )
end

local function cursor_on(part, row)
  local first, last = rows_of(part)
  return first <= row and row <= math.max(first, last)
end

--- <Tab>: moves the cursor to the suggestion when it is elsewhere, else accepts it. Returns
--- whether there was a suggestion.
function M.jump_or_accept(bufnr)
  local shown = M.current(bufnr)
  if not shown or vim.api.nvim_get_current_buf() ~= bufnr then
    return false
  end
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  for _, part in ipairs(shown.parts) do
    if cursor_on(part, row) then
      return M.accept(bufnr)
    end
  end
  local target = shown.parts[1]
  for _, part in ipairs(shown.parts) do
    if part.range.start.line > row then
      target = part
      break
    end
  end
  local line = math.min(target.range.start.line, vim.api.nvim_buf_line_count(bufnr) - 1)
  local text = vim.api.nvim_buf_get_lines(bufnr, line, line + 1, false)[1] or ""
  vim.api.nvim_win_set_cursor(0, { line + 1, (#text:match("^%s*")) })
  return true
end

--- Applies every edit of the suggestion, if the buffer is unchanged since it was computed.
function M.accept(bufnr)
  local shown = M.current(bufnr)
  if not shown then
    return false
  end
  M.clear(bufnr)
  local client = vim.lsp.get_client_by_id(shown.client_id)
  if vim.api.nvim_buf_get_changedtick(bufnr) ~= shown.tick or not client then
    return true
  end
  local edits = {}
  for _, part in ipairs(shown.parts) do
    table.insert(edits, { range = part.range, newText = part.text })
  end
  vim.lsp.util.apply_text_edits(edits, bufnr, client.offset_encoding)
  if shown.accept then
    local command = { command = shown.accept.command, arguments = shown.accept.arguments }
    compat.request(client, "workspace/executeCommand", command, function() end, bufnr)
  end
  return true
end

--- <Esc>: takes the suggestion away; returns whether one was shown.
function M.dismiss(bufnr)
  if not M.is_shown(bufnr) then
    return false
  end
  cancel(bufnr)
  M.clear(bufnr)
  return true
end

function M.attach(bufnr)
  local group = vim.api.nvim_create_augroup("spark_lsp_next_edit_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ "TextChanged", "TextChangedI" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_change(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ "BufLeave", "BufUnload" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      cancel(bufnr)
      M.clear(bufnr)
    end,
  })
end

return M
