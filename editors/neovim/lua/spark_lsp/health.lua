-- :checkhealth spark_lsp
local client_module = require("spark_lsp.client")
local compat = require("spark_lsp.compat")
local config = require("spark_lsp.config")
local status = require("spark_lsp.status")

local M = {}

-- The command that prints the server's version: the configured command up to the program
-- (`spark-lsp`, or `python -m spark_lsp`), then --version.
local function version_command(cmd)
  local command = {}
  for _, part in ipairs(cmd) do
    table.insert(command, part)
    if part:match("spark[-_]lsp$") then
      break
    end
  end
  table.insert(command, "--version")
  return command
end

local function check_neovim(health, spark)
  local version = compat.version_string()
  if spark.uses_native() then
    health.ok(
      string.format("Neovim %s: suggestions drawn by vim.lsp.inline_completion (native)", version)
    )
  elseif compat.has_native_inline_completion then
    health.ok(string.format("Neovim %s: the plugin's ghost text (native = false)", version))
  else
    local how = compat.has_inline_virt_text and "inline virtual text" or "overlay virtual text"
    health.ok(
      string.format(
        "Neovim %s: the plugin's ghost text (extmarks, %s); 0.12+ draws them natively",
        version,
        how
      )
    )
  end
end

local function check_server(health, cmd)
  if vim.fn.executable(cmd[1]) ~= 1 then
    health.error(string.format("%q is not an executable on PATH", cmd[1]), {
      "Install the server: " .. client_module.INSTALL_HINT,
      "or set cmd = { '/path/to/venv/bin/spark-lsp' }",
    })
    return
  end
  health.ok("executable: " .. vim.fn.exepath(cmd[1]))
  local command = version_command(cmd)
  local output = vim.trim(vim.fn.system(command))
  if vim.v.shell_error == 0 then
    health.ok("version: " .. output)
  else
    health.error(string.format("`%s` failed: %s", table.concat(command, " "), output))
  end
end

local function check_clients(health)
  local clients = client_module.all()
  if #clients == 0 then
    health.info("no spark-lsp server is running (it starts when a configured file is opened)")
    return
  end
  for _, client in ipairs(clients) do
    local names = {}
    for bufnr in pairs(client.attached_buffers or {}) do
      table.insert(names, vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ":~:."))
    end
    health.ok(
      string.format(
        "client %d (root %s, %s positions) attached to: %s",
        client.id,
        client.config.root_dir or "-",
        client.offset_encoding or "utf-16",
        #names > 0 and table.concat(names, ", ") or "no buffer"
      )
    )
  end
  local text = status.text()
  health.info("server state: " .. (text ~= "" and text or "unknown"))
end

function M.check()
  local health = compat.health()
  local spark = require("spark_lsp")
  local options = spark.options()
  health.start("spark-lsp")
  check_neovim(health, spark)
  if options then
    health.ok("setup() was called")
  else
    health.warn(
      "setup() has not been called",
      { 'Add require("spark_lsp").setup({}) to your config' }
    )
  end
  check_server(health, (options or config.defaults).cmd)
  check_clients(health)
  if options then
    local keys = {}
    for name, lhs in pairs(options.keymaps) do
      table.insert(keys, string.format("%s=%s", name, lhs or "off"))
    end
    table.sort(keys)
    health.info("insert-mode keys: " .. table.concat(keys, ", "))
    health.info("automatic suggestions: " .. (spark.is_automatic() and "on" or "off"))
  end
end

return M
