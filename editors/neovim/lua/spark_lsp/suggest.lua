-- Asks the server for inline completions while the user types (Neovim before 0.12, or with
-- native = false): debounced automatic requests, invoked ones, cancellation of the request in
-- flight, and type-through (text typed that continues the suggestion keeps its rest shown,
-- redrawn in place, until the next answer replaces it).
local client_module = require("spark_lsp.client")
local compat = require("spark_lsp.compat")
local ghost = require("spark_lsp.ghost")
local notify = require("spark_lsp.notify")
local position = require("spark_lsp.position")

local M = {}

M.INVOKED = 1
M.AUTOMATIC = 2

local METHOD = "textDocument/inlineCompletion"
local DID_SHOW = "textDocument/didShowCompletion"

local debounce_ms = 30
local automatic = true

-- Per buffer: {seq, timer, pending = {client, id}, candidates = {...}, index}.
-- A candidate: {client_id, item (as the server sent it), text, row, col (its range's start)}.
local states = {}

local function state_of(bufnr)
  local state = states[bufnr]
  if not state then
    state = { seq = 0, candidates = {}, index = 0 }
    states[bufnr] = state
  end
  return state
end

function M.configure(options)
  debounce_ms = options.debounce_ms
end

function M.set_automatic(on)
  automatic = on
  if not on then
    for bufnr in pairs(states) do
      M.cancel(bufnr)
      M.clear(bufnr)
    end
  end
end

local function in_insert_mode()
  return vim.api.nvim_get_mode().mode:sub(1, 1) == "i"
end

--- The suggestion shown in the buffer, or nil.
function M.current(bufnr)
  local state = states[bufnr]
  return state and state.candidates[state.index] or nil
end

-- The part of `candidate` after the cursor and the part typed already; nil when the text since
-- its start does not continue it.
local function split_at_cursor(bufnr, candidate)
  local row, col = position.cursor(0)
  local typed = position.text_between(bufnr, candidate.row, candidate.col, row, col)
  if not typed or candidate.text:sub(1, #typed) ~= typed then
    return nil
  end
  return candidate.text:sub(#typed + 1), typed
end

--- The part of the current suggestion after the cursor, the part typed already, and the
--- candidate; nil when nothing is shown or the text typed does not continue it.
function M.remainder(bufnr)
  local candidate = M.current(bufnr)
  if not candidate or vim.api.nvim_get_current_buf() ~= bufnr then
    return nil
  end
  local remainder, typed = split_at_cursor(bufnr, candidate)
  if not remainder then
    return nil
  end
  return remainder, typed, candidate
end

function M.clear(bufnr)
  ghost.clear(bufnr)
  local state = states[bufnr]
  if state then
    state.candidates, state.index = {}, 0
  end
end

local function signal_shown(candidate)
  if candidate.shown then
    return
  end
  candidate.shown = true
  local client = vim.lsp.get_client_by_id(candidate.client_id)
  if client then
    compat.notify(client, DID_SHOW, { item = candidate.item })
  end
end

--- Redraws the current suggestion at the cursor; clears it and returns false when the text
--- typed no longer continues it.
function M.refresh(bufnr)
  local remainder, _, candidate = M.remainder(bufnr)
  if not remainder or remainder == "" then
    M.clear(bufnr)
    return false
  end
  local row, col = position.cursor(0)
  ghost.show(bufnr, row, col, remainder)
  signal_shown(candidate)
  return true
end

--- Stops the debounce timer and cancels the request in flight; an answer already on its way is
--- dropped.
function M.cancel(bufnr)
  local state = states[bufnr]
  if not state then
    return
  end
  if state.timer then
    state.timer:stop()
  end
  if state.pending then
    pcall(compat.cancel_request, state.pending.client, state.pending.id)
    state.pending = nil
  end
  state.seq = state.seq + 1
end

local function candidate_from(item, client, bufnr)
  if type(item) ~= "table" or item.insertText == nil then
    return nil
  end
  local text = type(item.insertText) == "table" and item.insertText.value or item.insertText
  local row, col = position.cursor(0)
  if item.range then
    row = item.range.start.line
    col = position.to_byte_col(bufnr, item.range.start, client.offset_encoding)
  end
  if type(text) ~= "string" or text == "" then
    return nil
  end
  return { client_id = client.id, item = item, text = text, row = row, col = col }
end

local function report(err, trigger_kind)
  if trigger_kind == M.INVOKED then
    notify.lsp_error(err, "inline completion")
  elseif type(err) == "table" then
    -- Automatic requests run on every pause in typing: show each kind of failure once.
    local key = "automatic:" .. tostring(err.code) .. ":" .. tostring(err.message)
    if err.code ~= -32800 and err.code ~= -32802 then
      notify.once(key, "inline completion: " .. tostring(err.message), vim.log.levels.WARN)
    end
  end
end

--- Sends one request at the cursor; `on_candidates(candidates)` (the answer's items, best
--- first, possibly none) runs when its answer is still current (same text, same cursor, still
--- in insert mode).
local function send(bufnr, trigger_kind, on_candidates)
  local client = client_module.get(bufnr)
  if not client then
    return false
  end
  M.cancel(bufnr)
  local state = state_of(bufnr)
  local seq = state.seq
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local row, col = position.cursor(0)
  local params = position.cursor_params(bufnr, client.offset_encoding)
  params.context = { triggerKind = trigger_kind }
  local request_id
  request_id = compat.request(client, METHOD, params, function(err, result)
    if state.pending and state.pending.id == request_id then
      state.pending = nil
    end
    if seq ~= state.seq then
      return -- superseded or cancelled
    end
    if err then
      report(err, trigger_kind)
      return
    end
    local cursor_row, cursor_col = position.cursor(0)
    if
      vim.api.nvim_get_current_buf() ~= bufnr
      or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick
      or cursor_row ~= row
      or cursor_col ~= col
      or not in_insert_mode()
    then
      return
    end
    local items = type(result) == "table" and (result.items or result) or {}
    local candidates = {}
    for _, item in ipairs(items) do
      local candidate = candidate_from(item, client, bufnr)
      if candidate then
        table.insert(candidates, candidate)
      end
    end
    on_candidates(candidates)
  end, bufnr)
  if request_id then
    state.pending = { client = client, id = request_id }
  end
  return true
end

--- Asks for a suggestion at the cursor and shows it.
function M.request(bufnr, trigger_kind)
  return send(bufnr, trigger_kind, function(candidates)
    local candidate = candidates[1]
    if not candidate then
      if trigger_kind == M.INVOKED then
        notify.info("no suggestion here")
      end
      return
    end
    local shown = M.current(bufnr)
    if shown and split_at_cursor(bufnr, shown) == split_at_cursor(bufnr, candidate) then
      return -- the same text again (from the type-through cache): keep the item already shown
    end
    local state = state_of(bufnr)
    state.candidates, state.index = candidates, 1
    M.refresh(bufnr)
  end)
end

--- Shows the next (step 1) or previous (-1) suggestion. An invoked answer brings up to three;
--- going past the known ones asks again (invoked) and keeps what is new.
function M.cycle(bufnr, step)
  local state = states[bufnr]
  if not state or state.index == 0 then
    return M.request(bufnr, M.INVOKED)
  end
  local function show(index)
    state.index = index
    M.refresh(bufnr)
  end
  local target = state.index + step
  if target >= 1 and target <= #state.candidates then
    show(target)
    return true
  end
  return send(bufnr, M.INVOKED, function(candidates)
    local new = {}
    for _, candidate in ipairs(candidates) do
      local is_new = true
      for _, known in ipairs(state.candidates) do
        if split_at_cursor(bufnr, known) == split_at_cursor(bufnr, candidate) then
          is_new = false
        end
      end
      if is_new then
        table.insert(new, candidate)
      end
    end
    if #new > 0 and step < 0 then
      for index, candidate in ipairs(new) do
        table.insert(state.candidates, index, candidate)
      end
      show(1)
    elseif #new > 0 then
      local first = #state.candidates + 1
      for _, candidate in ipairs(new) do
        table.insert(state.candidates, candidate)
      end
      show(first)
    elseif #state.candidates > 1 then
      show(step < 0 and #state.candidates or 1) -- wrap around the known ones
    else
      notify.info("no other suggestion here")
    end
  end)
end

--- Debounced automatic request.
function M.schedule(bufnr)
  if not automatic then
    return
  end
  M.cancel(bufnr)
  local state = state_of(bufnr)
  state.timer = state.timer or compat.uv.new_timer()
  state.timer:start(
    debounce_ms,
    0,
    vim.schedule_wrap(function()
      if
        vim.api.nvim_get_current_buf() == bufnr
        and in_insert_mode()
        and vim.fn.pumvisible() == 0
      then
        M.request(bufnr, M.AUTOMATIC)
      end
    end)
  )
end

-- Each keystroke cancels the request in flight and schedules a new one. Text that continues
-- the suggestion keeps its rest shown meanwhile; the server answers such a request from its
-- type-through cache, often with more (the rest of a block that was still generating).
local function on_text_changed(bufnr)
  M.refresh(bufnr)
  M.schedule(bufnr)
end

--- Starts suggesting in the buffer.
function M.attach(bufnr)
  local group = vim.api.nvim_create_augroup("spark_lsp_suggest_" .. bufnr, { clear = true })
  local function on(events, callback)
    vim.api.nvim_create_autocmd(events, { group = group, buffer = bufnr, callback = callback })
  end
  on("InsertEnter", function()
    M.schedule(bufnr)
  end)
  on("TextChangedI", function()
    on_text_changed(bufnr)
  end)
  on({ "TextChangedP", "CursorMovedI" }, function()
    if M.current(bufnr) then
      M.refresh(bufnr)
    end
  end)
  on({ "InsertLeave", "BufLeave" }, function()
    M.cancel(bufnr)
    M.clear(bufnr)
  end)
  on("BufUnload", function()
    M.detach(bufnr)
  end)
end

function M.detach(bufnr)
  M.cancel(bufnr)
  M.clear(bufnr)
  local state = states[bufnr]
  if state and state.timer then
    state.timer:close()
  end
  states[bufnr] = nil
  pcall(vim.api.nvim_del_augroup_by_name, "spark_lsp_suggest_" .. bufnr)
end

return M
