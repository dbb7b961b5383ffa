-- Starts the server through vim.lsp, one client per workspace root, and finds the client of a
-- buffer.
local compat = require("spark_lsp.compat")
local notify = require("spark_lsp.notify")
local status = require("spark_lsp.status")

local M = {}

M.NAME = "spark-lsp"
M.INSTALL_HINT = "pip install '/path/to/spark-lsp[model]'"

local attached = {} -- bufnr -> client id
local clients_by_root = {} -- root dir -> client id (0.7 only: vim.lsp.start reuses by itself)

--- The workspace root of a buffer: the nearest parent holding a marker, else its directory.
function M.root_dir(bufnr, markers)
  local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ":p:h")
  local current = dir
  while true do
    for _, marker in ipairs(markers) do
      if compat.uv.fs_stat(current .. "/" .. marker) then
        return current
      end
    end
    local parent = vim.fn.fnamemodify(current, ":h")
    if parent == current then
      return dir
    end
    current = parent
  end
end

--- Neovim's capabilities plus inline completion, which also tells the server not to offer its
--- textDocument/completion fallback.
function M.capabilities(extra)
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  capabilities.textDocument = capabilities.textDocument or {}
  capabilities.textDocument.inlineCompletion = { dynamicRegistration = false }
  if extra then
    capabilities = vim.tbl_deep_extend("force", capabilities, extra)
  end
  return capabilities
end

local function forget_client(client_id)
  for bufnr, id in pairs(attached) do
    if id == client_id then
      attached[bufnr] = nil
    end
  end
  for root, id in pairs(clients_by_root) do
    if id == client_id then
      clients_by_root[root] = nil
    end
  end
end

local function lsp_config(options, root_dir, settings, on_attach)
  return {
    name = M.NAME,
    cmd = options.cmd,
    root_dir = root_dir,
    init_options = settings,
    settings = { sparkLsp = settings },
    capabilities = M.capabilities(options.capabilities),
    handlers = {
      ["spark/status"] = status.on_status_notification,
      ["$/progress"] = status.on_progress,
    },
    on_init = function(client)
      status.client_started()
      if not compat.sends_settings_on_init then
        compat.notify(
          client,
          "workspace/didChangeConfiguration",
          { settings = client.config.settings }
        )
      end
    end,
    on_attach = function(client, bufnr)
      attached[bufnr] = client.id
      on_attach(client, bufnr)
    end,
    on_exit = function(_, _, client_id)
      vim.schedule(function()
        forget_client(client_id)
        status.client_exited()
      end)
    end,
  }
end

--- Starts (or reuses) the client for the buffer's root and attaches it; returns the client id,
--- or nil when the server cannot start. `on_attach(client, bufnr)` runs once per buffer.
function M.attach(bufnr, options, settings, on_attach)
  if M.get(bufnr) then
    return attached[bufnr]
  end
  if vim.fn.executable(options.cmd[1]) ~= 1 then
    notify.once(
      "not-executable",
      string.format(
        "cannot start %q: it is not an executable on PATH. Install the server from a clone of "
          .. "the spark-lsp repository with `%s` (in "
          .. "a virtual environment whose bin/ is on PATH, or set cmd = { '/venv/bin/spark-lsp' })",
        options.cmd[1],
        M.INSTALL_HINT
      ),
      vim.log.levels.ERROR
    )
    return nil
  end
  local root = M.root_dir(bufnr, options.root_markers)
  local config = lsp_config(options, root, settings, on_attach)
  if compat.has_lsp_start then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  local client_id = clients_by_root[root]
  local client = client_id and vim.lsp.get_client_by_id(client_id)
  if not client or compat.is_stopped(client) then
    client_id = vim.lsp.start_client(config)
    if not client_id then
      notify.error(
        "the server did not start; see :checkhealth spark_lsp and " .. vim.lsp.get_log_path()
      )
      return nil
    end
    clients_by_root[root] = client_id
  end
  vim.lsp.buf_attach_client(bufnr, client_id)
  return client_id
end

--- The running spark-lsp client attached to the buffer, or nil.
function M.get(bufnr)
  local client_id = attached[bufnr]
  local client = client_id and vim.lsp.get_client_by_id(client_id)
  if client and not compat.is_stopped(client) and vim.lsp.buf_is_attached(bufnr, client_id) then
    return client
  end
  return nil
end

function M.forget_buffer(bufnr)
  attached[bufnr] = nil
end

--- Every running spark-lsp client.
function M.all()
  local clients = {}
  local all = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
  for _, client in pairs(all) do
    if client.name == M.NAME and not compat.is_stopped(client) then
      table.insert(clients, client)
    end
  end
  return clients
end

--- Sends new server options to every client (and answers later workspace/configuration pulls
--- with them).
function M.push_settings(settings)
  for _, client in ipairs(M.all()) do
    for _, table_ in ipairs(compat.settings_tables(client)) do
      table_.sparkLsp = settings
    end
    compat.notify(
      client,
      "workspace/didChangeConfiguration",
      { settings = { sparkLsp = settings } }
    )
  end
end

--- Stops every client; `on_stopped` runs once they all exited (or after 3 s).
function M.stop_all(on_stopped)
  local clients = M.all()
  for _, client in ipairs(clients) do
    compat.stop_client(client)
  end
  local waited = 0
  local function check()
    for _, client in ipairs(clients) do
      if not compat.is_stopped(client) and waited < 3000 then
        waited = waited + 100
        vim.defer_fn(check, 100)
        return
      end
    end
    attached, clients_by_root = {}, {}
    on_stopped()
  end
  check()
end

return M
