-- The server commands that need the editor: explain (show its markdown), edit with instruction
-- (ask for the instruction), statistics; and :SparkEdit / :SparkExplain, which find their target
-- through textDocument/codeAction so it carries the document version the server checks.
local client_module = require("spark_lsp.client")
local compat = require("spark_lsp.compat")
local notify = require("spark_lsp.notify")
local position = require("spark_lsp.position")

local M = {}

M.EXPLAIN_COMMAND = "spark-lsp.explain"
M.EDIT_COMMAND = "spark-lsp.editWithInstruction"
M.STATISTICS_COMMAND = "spark-lsp.showStatistics"

local explain_window = "float"

function M.configure(options)
  explain_window = options.explain_window
end

local function execute(client, bufnr, command, arguments, on_result)
  local params = { command = command, arguments = arguments }
  local request_id = compat.request(
    client,
    "workspace/executeCommand",
    params,
    function(err, result)
      if err then
        notify.lsp_error(err, command)
      else
        on_result(result)
      end
    end,
    bufnr
  )
  if not request_id then
    notify.error("the server is not running; try :SparkRestart")
  end
end

local function client_for(bufnr, client_id)
  local client = client_id and vim.lsp.get_client_by_id(client_id) or client_module.get(bufnr)
  if not client then
    notify.warn("no spark-lsp server is attached to this buffer")
  end
  return client
end

local function show_in_split(lines)
  vim.cmd("botright new")
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].buftype = "nofile"
  vim.bo[bufnr].bufhidden = "wipe"
  vim.bo[bufnr].swapfile = false
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].filetype = "markdown"
  vim.bo[bufnr].modifiable = false
  pcall(vim.api.nvim_buf_set_name, bufnr, "spark-lsp://explanation")
end

function M.show_markdown(markdown)
  local lines = vim.split(markdown, "\n", { plain = true })
  if explain_window == "split" then
    show_in_split(lines)
    return
  end
  vim.lsp.util.open_floating_preview(lines, "markdown", {
    border = "rounded",
    max_width = math.max(40, math.min(100, vim.o.columns - 8)),
    max_height = math.max(10, vim.o.lines - 8),
    focus_id = "spark_lsp_explanation",
  })
end

--- The handler of spark-lsp.explain: target = {uri, version, first, last, action, message}.
function M.explain(bufnr, target, client_id)
  local client = client_for(bufnr, client_id)
  if not client then
    return
  end
  notify.info(string.format("explaining lines %d-%d...", target.first + 1, target.last))
  execute(client, bufnr, M.EXPLAIN_COMMAND, { target }, function(result)
    if type(result) == "table" and type(result.markdown) == "string" and result.markdown ~= "" then
      M.show_markdown(result.markdown)
    else
      notify.warn("the server sent no explanation")
    end
  end)
end

local function run_edit(client, bufnr, target, instruction)
  notify.info(string.format("editing lines %d-%d: %s", target.first + 1, target.last, instruction))
  execute(client, bufnr, M.EDIT_COMMAND, { target, instruction }, function(result)
    if type(result) == "table" and result.applied == false then
      notify.warn("the edit was not applied (did the buffer change meanwhile?)")
    end
  end)
end

--- The handler of spark-lsp.editWithInstruction: asks for the instruction unless given.
function M.edit_with_instruction(bufnr, target, client_id, instruction)
  local client = client_for(bufnr, client_id)
  if not client then
    return
  end
  if instruction and instruction ~= "" then
    run_edit(client, bufnr, target, instruction)
    return
  end
  vim.ui.input({ prompt = "spark-lsp instruction: " }, function(input)
    if input and vim.trim(input) ~= "" then
      run_edit(client, bufnr, target, vim.trim(input))
    end
  end)
end

--- Makes Neovim's code-action menu run these commands here instead of sending them as they are.
function M.register_commands()
  vim.lsp.commands[M.EXPLAIN_COMMAND] = function(command, ctx)
    M.explain(ctx.bufnr, command.arguments[1], ctx.client_id)
  end
  vim.lsp.commands[M.EDIT_COMMAND] = function(command, ctx)
    M.edit_with_instruction(ctx.bufnr, command.arguments[1], ctx.client_id)
  end
end

local function command_of(action)
  if type(action.command) == "table" then
    return action.command
  elseif type(action.command) == "string" then
    return action -- a bare Command
  end
  return nil
end

-- Asks the server's code actions for `lines` ({first, last}, 1-based; nil: the function around
-- the cursor) and passes the target of the one whose command is `command` to `on_target`.
local function find_target(client, bufnr, lines, command, on_target)
  local range
  if lines then
    range = position.lines_range(bufnr, lines[1], lines[2], client.offset_encoding)
  else
    local row, col = position.cursor(0)
    local here = position.to_lsp(bufnr, row, col, client.offset_encoding)
    range = { start = here, ["end"] = here }
  end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = range,
    context = { diagnostics = {} },
  }
  compat.request(client, "textDocument/codeAction", params, function(err, result)
    if err then
      notify.lsp_error(err, "code actions")
      return
    end
    for _, action in ipairs(result or {}) do
      local found = command_of(action)
      if found and found.command == command and found.arguments then
        on_target(found.arguments[1])
        return
      end
    end
    notify.warn("nothing to work on here: select lines, or put the cursor inside a function")
  end, bufnr)
end

--- :SparkEdit [instruction], over a range or the function around the cursor.
function M.edit(bufnr, lines, instruction)
  local client = client_for(bufnr)
  if client then
    find_target(client, bufnr, lines, M.EDIT_COMMAND, function(target)
      M.edit_with_instruction(bufnr, target, client.id, instruction)
    end)
  end
end

--- :SparkExplain, over a range or the function around the cursor.
function M.explain_lines(bufnr, lines)
  local client = client_for(bufnr)
  if client then
    find_target(client, bufnr, lines, M.EXPLAIN_COMMAND, function(target)
      M.explain(bufnr, target, client.id)
    end)
  end
end

--- :SparkStats: the server's local suggestion statistics.
function M.show_statistics(bufnr)
  local client = client_module.get(bufnr) or client_module.all()[1]
  if not client then
    notify.warn("no spark-lsp server is running")
    return
  end
  execute(client, bufnr, M.STATISTICS_COMMAND, {}, function(result)
    local keys = vim.tbl_keys(result or {})
    table.sort(keys)
    local lines = {}
    for _, key in ipairs(keys) do
      local value = result[key] == vim.NIL and "-" or vim.inspect(result[key])
      table.insert(lines, string.format("  %s: %s", key, value))
    end
    notify.info("statistics\n" .. table.concat(lines, "\n"))
  end)
end

return M
