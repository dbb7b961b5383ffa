-- What tests/test_editor_neovim.py asks Neovim to do, one function per scenario. Each records
-- what it saw in harness.results.<scenario>; assertions live on the pytest side.
local M = {}

local GHOST_NAMESPACE = "spark_lsp_ghost"
local WAIT_MODEL_MS = 120000
local WAIT_SUGGESTION_MS = 60000
local WAIT_EDIT_MS = 150000
local WAIT_BLOCK_MS = 20000

local function json_list(value)
  -- Lua tables holding nothing encode as {} in JSON; the pytest side expects lists.
  return #value > 0 and value or vim.NIL
end

local function buffer_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
end

-- The ghost text as drawn: the suggestion chunk of the extmark's virtual text, then its virtual
-- lines. nil when none is drawn.
local function ghost(bufnr)
  local namespace = vim.api.nvim_create_namespace(GHOST_NAMESPACE)
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, namespace, 0, -1, { details = true })
  if #marks == 0 then
    return nil
  end
  local details = marks[1][4]
  local lines = { details.virt_text and details.virt_text[1][1] or "" }
  for _, virtual_line in ipairs(details.virt_lines or {}) do
    local parts = {}
    for _, chunk in ipairs(virtual_line) do
      table.insert(parts, chunk[1])
    end
    table.insert(lines, table.concat(parts))
  end
  return {
    text = table.concat(lines, "\n"),
    row = marks[1][2],
    col = marks[1][3],
    position = details.virt_text_pos or vim.NIL,
  }
end

local function spark_client(bufnr)
  return require("spark_lsp.client").get(bufnr)
end

-- Sends a request; returns a function that gives {err, result} once the answer came.
local function send_request(client, method, params, bufnr)
  local answer = nil
  require("spark_lsp.compat").request(client, method, params, function(err, result)
    answer = { err = err, result = result }
  end, bufnr)
  return function()
    return answer
  end
end

function M.setup(harness)
  local settings = vim.fn.json_decode(vim.env.SPARK_NVIM_SETTINGS or "{}")
  require("spark_lsp").setup({
    cmd = vim.fn.json_decode(vim.env.SPARK_NVIM_SERVER_CMD),
    settings = settings,
    explain_window = "float",
  })
  -- Count the inline completion requests the plugin sends.
  local compat = require("spark_lsp.compat")
  local request = compat.request
  harness.inline_requests = 0
  compat.request = function(client, method, ...)
    if method == "textDocument/inlineCompletion" then
      harness.inline_requests = harness.inline_requests + 1
    end
    return request(client, method, ...)
  end
end

local function open_and_wait(harness, path)
  local bufnr = harness.edit(path)
  harness.wait_until(function()
    return spark_client(bufnr)
  end, 30000, "spark-lsp to attach to " .. path)
  return bufnr
end

local function counters(harness, client, bufnr)
  return harness.wait_until(
    send_request(client, "spark/debug/counters", {}, bufnr),
    10000,
    "counters"
  ).result
end

--- Types a function header and waits for ghost text (automatic; an invoked request as a second
--- chance); types its first character through; accepts what is shown then with Tab.
function M.completion(harness)
  local results = {}
  harness.results.completion = results
  local bufnr = open_and_wait(harness, vim.env.SPARK_NVIM_WORKSPACE .. "/fib.py")
  local client = spark_client(bufnr)
  harness.wait_until(function()
    return require("spark_lsp").status():match("ready")
  end, WAIT_MODEL_MS, "the model to load (status: " .. require("spark_lsp").status() .. ")")
  results.status_when_ready = require("spark_lsp").status()
  harness.step("model ready")

  harness.type("i")
  harness.type("def fibonacci(n):<CR>")
  harness.step("typed")
  local shown = pcall(harness.wait_until, function()
    return ghost(bufnr)
  end, WAIT_SUGGESTION_MS, "automatic ghost text")
  results.automatic = shown
  if not shown then
    harness.type("<M-\\>")
    harness.wait_until(function()
      return ghost(bufnr)
    end, WAIT_SUGGESTION_MS, "ghost text after the trigger key")
  end
  harness.step("ghost text shown")
  local cursor = vim.api.nvim_win_get_cursor(0)
  results.first = {
    item = require("spark_lsp.suggest").current(bufnr).item,
    ghost = ghost(bufnr),
    lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false),
    cursor = { cursor[1] - 1, cursor[2] },
  }
  results.requests = harness.inline_requests

  -- Next, then previous: an invoked answer brings up to three items; past the known ones the
  -- plugin asks again. Either another suggestion is drawn, or a message says there is none.
  local spark = require("spark_lsp")
  local suggest = require("spark_lsp.suggest")
  local first_text = results.first.item.insertText
  local notified = #harness.report.notifications
  spark.next(bufnr)
  pcall(harness.wait_until, function()
    local current = suggest.current(bufnr)
    return (current and current.item.insertText ~= first_text)
      or #harness.report.notifications > notified
  end, WAIT_SUGGESTION_MS, "another suggestion or a message")
  local function drawn()
    local current = suggest.current(bufnr)
    return {
      item = current and current.item.insertText or vim.NIL,
      ghost = (ghost(bufnr) or { text = vim.NIL }).text,
    }
  end
  results.cycled = { next = drawn(), messages = {} }
  for index = notified + 1, #harness.report.notifications do
    table.insert(results.cycled.messages, harness.report.notifications[index].message)
  end
  results.cycled.messages = json_list(results.cycled.messages)
  spark.prev(bufnr)
  harness.sleep(50)
  results.cycled.previous = drawn()

  -- Type-through: the first character of the suggestion, when it is a plain one. What is drawn
  -- right after the keystroke comes from the plugin alone (the next request waits for the
  -- debounce); the server then answers from its cache, without a model call.
  local first = results.first.ghost.text:sub(1, 1)
  if first:match("[%w_]") then
    local before = counters(harness, client, bufnr)
    harness.type(first, 5)
    results.typed_through = first
    results.ghost_right_after_typing = ghost(bufnr) or vim.NIL
    -- A block's first line comes first; the rest lands in the server's cache, and the answer to
    -- the request after the keystroke brings it: then the ghost text has virtual lines.
    results.block = pcall(harness.wait_until, function()
      local drawn = ghost(bufnr)
      return drawn and drawn.text:find("\n")
    end, WAIT_BLOCK_MS, "the rest of the block")
    results.model_calls_while_typing_through = counters(harness, client, bufnr).modelCalls
      - before.modelCalls
  end

  cursor = vim.api.nvim_win_get_cursor(0)
  results.accepted = {
    item = require("spark_lsp.suggest").current(bufnr).item,
    ghost = ghost(bufnr),
    lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false),
    cursor = { cursor[1] - 1, cursor[2] },
  }
  -- Partial accepts: a word, then a line; each inserts a piece and leaves the rest drawn.
  results.partial = {}
  for _, key in ipairs({ "<M-Right>", "<M-C-Right>" }) do
    local drawn = ghost(bufnr)
    if not drawn or not drawn.text:find("\n") then
      break -- keep something for Tab to accept whole
    end
    local line_before = vim.api.nvim_get_current_line()
    harness.type(key)
    harness.sleep(50)
    table.insert(results.partial, {
      key = key,
      ghost_before = drawn.text,
      ghost_after = (ghost(bufnr) or { text = vim.NIL }).text,
      line_before = line_before,
      lines_after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false),
      cursor_after = vim.api.nvim_win_get_cursor(0),
    })
  end
  results.partial = json_list(results.partial)

  harness.type("<Tab>")
  harness.sleep(200)
  results.after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  harness.type("<Esc>")
  harness.step("accepted")
  vim.cmd("silent write")

  local statistics = { command = "spark-lsp.showStatistics" }
  results.statistics = harness.wait_until(
    send_request(client, "workspace/executeCommand", statistics, bufnr),
    10000,
    "statistics"
  ).result
end

-- Makes vim.ui.select pick the item titled `wanted` (recording every title in `titles`).
local function pick_code_action(wanted, record)
  record.titles = {}
  vim.ui.select = function(items, opts, on_choice)
    local picked = nil
    for index, item in ipairs(items) do
      local action = item.action or item[2] -- 0.10+: {action, ctx}; before: {client_id, action}
      table.insert(record.titles, action.title)
      if action.title == wanted and not picked then
        picked = index
        record.picked = opts.format_item and opts.format_item(item) or action.title
      end
    end
    on_choice(picked and items[picked] or nil, picked)
  end
end

--- Picks "spark-lsp: Add docstring" in vim.lsp.buf.code_action()'s menu.
function M.code_action(harness)
  local results = {}
  harness.results.code_action = results
  local bufnr = open_and_wait(harness, vim.env.SPARK_NVIM_WORKSPACE .. "/util.py")
  vim.api.nvim_win_set_cursor(0, { 2, 4 })
  results.before = buffer_text(bufnr)
  pick_code_action("spark-lsp: Add docstring", results)
  local notified = #harness.report.notifications
  vim.lsp.buf.code_action()
  harness.wait_until(function()
    return buffer_text(bufnr) ~= results.before or #harness.report.notifications > notified
  end, WAIT_EDIT_MS, "the docstring edit")
  harness.sleep(100)
  results.titles = json_list(results.titles)
  results.after = buffer_text(bufnr)
  harness.step("code action applied")
end

--- "spark-lsp: Explain" in vim.lsp.buf.code_action()'s menu runs the spark-lsp.explain command
--- the plugin registered in vim.lsp.commands, which shows the server's markdown in a float.
function M.explain(harness)
  local results = {}
  harness.results.explain = results
  open_and_wait(harness, vim.env.SPARK_NVIM_WORKSPACE .. "/util.py")
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  pick_code_action("spark-lsp: Explain", results)
  vim.lsp.buf.code_action()
  local float = harness.wait_until(function()
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_win_get_config(win).relative ~= "" then
        return win
      end
    end
  end, WAIT_EDIT_MS, "the explanation window")
  results.titles = json_list(results.titles)
  results.markdown = buffer_text(vim.api.nvim_win_get_buf(float))
  harness.step("explained")
end

--- :SparkEdit with an instruction rewrites the function around the cursor through
--- workspace/applyEdit.
function M.edit(harness)
  local results = {}
  harness.results.edit = results
  local bufnr = open_and_wait(harness, vim.env.SPARK_NVIM_WORKSPACE .. "/edit.py")
  vim.api.nvim_win_set_cursor(0, { 2, 0 })
  results.before = buffer_text(bufnr)
  local notified = #harness.report.notifications
  vim.cmd("SparkEdit rename the function to total_price")
  harness.wait_until(function()
    -- Changed, or a second notification (the first says the edit started): a problem.
    return buffer_text(bufnr) ~= results.before or #harness.report.notifications > notified + 1
  end, WAIT_EDIT_MS, "the edit")
  harness.sleep(100)
  results.after = buffer_text(bufnr)
  harness.step("edited")
end

--- No model (the server runs with --no-preload and is asked nothing that needs it): settings,
--- :SparkToggle, :SparkStats, :SparkRestart and :checkhealth with a server attached.
function M.server(harness)
  local results = {}
  harness.results.server = results
  local bufnr = open_and_wait(harness, vim.env.SPARK_NVIM_WORKSPACE .. "/util.py")
  local client = spark_client(bufnr)
  results.client_id = client.id
  results.offset_encoding = client.offset_encoding
  local function options()
    return harness.wait_until(
      send_request(client, "spark/debug/options", {}, bufnr),
      10000,
      "options"
    ).result
  end
  results.options_at_start = options()

  vim.cmd("SparkToggle")
  harness.sleep(300)
  results.status_after_toggle = require("spark_lsp").status()
  results.options_after_toggle = options()
  vim.cmd("SparkToggle")
  harness.sleep(300)
  results.options_after_second_toggle = options()

  local notified = #harness.report.notifications
  vim.cmd("SparkStats")
  harness.wait_until(function()
    return #harness.report.notifications > notified
  end, 10000, ":SparkStats")
  results.stats_message = harness.report.notifications[#harness.report.notifications].message

  local tabs = #vim.api.nvim_list_tabpages()
  vim.cmd("checkhealth spark_lsp")
  results.health = buffer_text(vim.api.nvim_get_current_buf())
  if #vim.api.nvim_list_tabpages() > tabs then
    vim.cmd("tabclose")
  end
  vim.api.nvim_set_current_buf(bufnr)

  vim.cmd("SparkRestart")
  local restarted = harness.wait_until(function()
    local now = spark_client(bufnr)
    return now and now.id ~= results.client_id and now
  end, 20000, "a new client after :SparkRestart")
  results.client_id_after_restart = restarted.id
  results.old_client_stopped = vim.lsp.get_client_by_id(results.client_id) == nil
    or require("spark_lsp.compat").is_stopped(vim.lsp.get_client_by_id(results.client_id))
end

-- The next-edit suggestion as drawn: the highlighted rows and the virtual lines' text.
local function next_edit_marks(bufnr)
  local namespace = vim.api.nvim_create_namespace("spark_lsp_next_edit")
  local drawn = { rows = {}, lines = {}, hint = vim.NIL }
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, namespace, 0, -1, { details = true })
  for _, mark in ipairs(marks) do
    local details = mark[4]
    if details.hl_group then
      table.insert(drawn.rows, { mark[2], details.end_row })
      if details.virt_text then
        drawn.hint = details.virt_text[1][1]
      end
    end
    for _, virtual_line in ipairs(details.virt_lines or {}) do
      table.insert(drawn.lines, virtual_line[1][1])
    end
  end
  return #drawn.lines > 0 and drawn or nil
end

local function next_edit_step(bufnr)
  local cursor = vim.api.nvim_win_get_cursor(0)
  return {
    lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false),
    cursor = { cursor[1] - 1, cursor[2] },
    drawn = next_edit_marks(bufnr) or vim.NIL,
  }
end

--- Next edits, which need no model for a rename (the server's substitution answers): rename a
--- parameter in normal mode, see the other use suggested, <Tab> to it, <Tab> to accept; rename
--- again in insert mode and accept there; one more and <Esc> dismisses it.
function M.next_edit(harness)
  local results = {}
  harness.results.next_edit = results
  local bufnr = open_and_wait(harness, vim.env.SPARK_NVIM_WORKSPACE .. "/edit.py")
  local wait_shown = function(what)
    return harness.wait_until(function()
      return next_edit_marks(bufnr)
    end, 20000, what)
  end
  local nothing_shown = function()
    return next_edit_marks(bufnr) == nil
  end
  -- A normal-mode command in one go: Neovim runs no timers while a command is pending, so
  -- the keys cannot come one per timer tick as harness.type sends them.
  local command = function(keys)
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "mt", false)
    harness.sleep(50)
  end
  -- No ghost text in the way of <Tab> (nor a model load: next edits never start one).
  require("spark_lsp").toggle(false)
  harness.sleep(300) -- the server has the buffer (didOpen) before the first edit
  -- Normal mode: `amount` -> `total` in the signature.
  command("gg0f(lcw")
  harness.type("total<Esc>")
  wait_shown("a next edit after the rename")
  results.shown = next_edit_step(bufnr)
  harness.type("<Tab>")
  results.jumped = next_edit_step(bufnr)
  harness.type("<Tab>")
  harness.wait_until(nothing_shown, 2000, "the suggestion to go after accepting")
  results.accepted = next_edit_step(bufnr)
  harness.step("next edit accepted in normal mode")

  -- Insert mode: `rate` -> `tax`, then <Tab> twice without leaving insert mode.
  harness.sleep(1200) -- the request after the accept (nothing more to suggest) comes and goes
  command("gg0f,wcw")
  harness.type("tax")
  wait_shown("a next edit in insert mode")
  results.insert_mode = vim.api.nvim_get_mode().mode
  harness.type("<Tab>")
  harness.type("<Tab>")
  harness.wait_until(nothing_shown, 2000, "the suggestion to go after accepting in insert mode")
  harness.type("<Esc>")
  results.accepted_in_insert = next_edit_step(bufnr)

  -- <Esc> dismisses: `total` -> `amount` again; the second line keeps `total`.
  harness.sleep(1200)
  command("gg0f(lcw")
  harness.type("amount<Esc>")
  wait_shown("a next edit to dismiss")
  harness.type("<Esc>")
  harness.wait_until(nothing_shown, 2000, "the suggestion to go on <Esc>")
  harness.sleep(300)
  results.dismissed = next_edit_step(bufnr)
end

--- No model: what the plugin does without a server, its helpers, and :checkhealth.
function M.offline(harness)
  local results = {}
  harness.results.offline = results
  local compat = require("spark_lsp.compat")
  local accept = require("spark_lsp.accept")
  local text = "a\195\169\240\159\152\128b" -- "aé😀b": 1, 2 and 4 bytes, then 1
  results.units = {
    ["utf-8"] = compat.units(text, "utf-8"),
    ["utf-16"] = compat.units(text, "utf-16"),
    ["utf-32"] = compat.units(text, "utf-32"),
  }
  results.byte_index = {
    utf16_2 = compat.byte_index(text, 2, "utf-16"),
    utf16_4 = compat.byte_index(text, 4, "utf-16"),
    utf16_past_end = compat.byte_index(text, 99, "utf-16"),
    utf32_3 = compat.byte_index(text, 3, "utf-32"),
  }
  results.pieces = {
    word = accept.next_piece("  total = a + b\n    return total", "word"),
    word_punctuation = accept.next_piece("(a, b)", "word"),
    word_newline = accept.next_piece("\n    return total", "word"),
    line = accept.next_piece("total = a + b\n    return total", "line"),
    next_line = accept.next_piece("\n    return total\n", "line"),
  }
  local tabs = #vim.api.nvim_list_tabpages()
  vim.cmd("checkhealth spark_lsp")
  results.health = buffer_text(vim.api.nvim_get_current_buf())
  if #vim.api.nvim_list_tabpages() > tabs then
    vim.cmd("tabclose")
  elseif #vim.api.nvim_list_wins() > 1 then
    vim.cmd("close")
  end

  -- Where code and keys go moves from settings to the command line.
  local resolved = require("spark_lsp.config").resolve({
    cmd = { "spark-lsp" },
    settings = { engine = { endpoint = "https://gpu:8080", apiKeyEnv = "KEY", nCtx = 4096 } },
  })
  results.command_line = resolved.cmd
  results.engine_settings = resolved.settings.engine

  -- Server errors become messages.
  local notify = require("spark_lsp.notify")
  local before = #harness.report.notifications
  notify.lsp_error({ code = -32801, message = "file:///x.py changed (version 3 -> 4)" }, "explain")
  notify.lsp_error({ code = -32803, message = "spark-lsp: the model is not loaded" }, "rewrite")
  notify.lsp_error({ code = -32800, message = "cancelled" }, "inline completion")
  harness.sleep(50)
  results.error_messages = {}
  for index = before + 1, #harness.report.notifications do
    table.insert(results.error_messages, harness.report.notifications[index].message)
  end

  -- A missing server: one message, however many buffers open.
  require("spark_lsp").setup({ cmd = { "spark-lsp-missing-for-this-test" } })
  harness.edit(vim.env.SPARK_NVIM_WORKSPACE .. "/one.py")
  harness.edit(vim.env.SPARK_NVIM_WORKSPACE .. "/two.py")
  harness.sleep(100)
  -- Keys whose action finds nothing to do do what they did before: the key itself (Tab, with
  -- expandtab off a literal tab), a mapping, or an expression mapping in Lua.
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].expandtab = false
  vim.keymap.set("i", "<C-l>", "XY", { buffer = bufnr })
  vim.keymap.set("i", "<C-k>", function()
    return "<Left>K"
  end, { buffer = bufnr, expr = true })
  local nothing_shown = function()
    return false
  end
  require("spark_lsp.keymaps").set(
    bufnr,
    { accept = "<Tab>", next = "<C-l>", prev = "<C-k>" },
    { accept = nothing_shown, next = nothing_shown, prev = nothing_shown }
  )
  harness.type("ia<Tab>b<C-l>c<C-k><Esc>")
  results.fallback_line = vim.api.nvim_get_current_line()
  results.tab_mapping = vim.fn.maparg("<Tab>", "i", false, true).desc or vim.NIL
end

return M
