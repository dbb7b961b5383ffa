-- The options of setup(), their defaults, and the server options derived from them.
local M = {}

M.defaults = {
  -- How to start the server (any argv list; `{ "python3", "-m", "spark_lsp" }` works too).
  cmd = { "spark-lsp" },
  -- Filetypes to attach to; nil attaches to every normal file buffer that has a filetype.
  filetypes = nil,
  -- Never attached to, even when `filetypes` is nil.
  exclude_filetypes = { "help", "gitcommit", "gitrebase", "hgcommit", "svn", "netrw", "qf" },
  -- The first parent directory holding one of these is the workspace root (else the file's
  -- directory); one server runs per root.
  root_markers = {
    ".git",
    ".hg",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "package.json",
    "Cargo.toml",
    "go.mod",
  },
  -- Server options in the server's own shape (README "Configuration"), e.g.
  -- { completion = { maxTokensLine = 48 }, engine = { model = "/models/coder.gguf" } }.
  -- Sent as initializationOptions and as workspace/didChangeConfiguration under `sparkLsp`.
  settings = {},
  -- Suggest while typing; false: only on the trigger key. :SparkToggle flips it at run time.
  auto_trigger = true,
  -- Wait this long after a keystroke before asking (the server adds completion.debounceMs).
  debounce_ms = 30,
  -- On Neovim 0.12+, let vim.lsp.inline_completion draw the suggestions; false keeps the
  -- plugin's own ghost text (with accept-word, accept-line and dismiss) there too.
  native = true,
  -- Insert-mode keys; false disables one. When nothing is shown, a key does what it did before
  -- (its previous mapping, or the key itself), so Tab still indents.
  keymaps = {
    accept = "<Tab>",
    accept_word = "<M-Right>",
    accept_line = "<M-C-Right>",
    next = "<M-]>",
    prev = "<M-[>",
    trigger = "<M-\\>",
    dismiss = "<C-]>",
  },
  -- Next-edit suggestions (|spark_lsp-next-edit|): after a pause of debounce_ms following an
  -- edit, the edit that naturally follows is shown where it would go. In insert mode the
  -- `accept` and `dismiss` keys above handle it too (when no ghost text is shown).
  next_edit = {
    enabled = true,
    debounce_ms = 750,
    -- Normal-mode keys; false disables one. Without a suggestion they do what they did before.
    keymaps = { accept = "<Tab>", dismiss = "<Esc>" },
  },
  -- Where :SparkExplain and the "Explain" action show their answer: "float" or "split".
  explain_window = "float",
  -- Merged into the client capabilities Neovim sends (e.g. from cmp_nvim_lsp).
  capabilities = nil,
  -- Called as on_attach(client, bufnr) after the plugin's own attach work.
  on_attach = nil,
}

local expected_types = {
  cmd = "table",
  filetypes = "table",
  exclude_filetypes = "table",
  root_markers = "table",
  settings = "table",
  auto_trigger = "boolean",
  debounce_ms = "number",
  native = "boolean",
  keymaps = "table",
  next_edit = "table",
  explain_window = "string",
  capabilities = "table",
  on_attach = "function",
}

-- Where code, credentials and model files come from: the server takes these only from its
-- command line (options can be written by a repository in other editors), so they move from
-- `settings.engine` to flags after `cmd`.
M.command_line_settings = {
  apiKeyEnv = "--api-key-env",
  backend = "--backend",
  endpoint = "--endpoint",
  hfFile = "--hf-file",
  hfRepo = "--hf-repo",
  model = "--model",
  nextEditHfFile = "--next-edit-hf-file",
  nextEditHfRepo = "--next-edit-hf-repo",
  nextEditModel = "--next-edit-model",
  remoteModel = "--remote-model",
}

local function move_to_command_line(options)
  local engine = type(options.settings) == "table" and options.settings.engine
  if type(engine) ~= "table" then
    return
  end
  options.settings = vim.deepcopy(options.settings)
  options.cmd = vim.deepcopy(options.cmd)
  engine = options.settings.engine
  local names = vim.tbl_keys(M.command_line_settings)
  table.sort(names)
  for _, name in ipairs(names) do
    local value = engine[name]
    if type(value) == "string" and value ~= "" then
      table.insert(options.cmd, M.command_line_settings[name])
      table.insert(options.cmd, value)
    end
    engine[name] = nil
  end
end

local next_edit_types = { enabled = "boolean", debounce_ms = "number", keymaps = "table" }

-- The next_edit table merged over its defaults; a wrong field keeps its default.
local function merge_next_edit(defaults, value, problems)
  local merged = vim.deepcopy(defaults)
  for key, field in pairs(value) do
    local expected = next_edit_types[key]
    if expected == nil then
      table.insert(problems, string.format("unknown option %q", "next_edit." .. key))
    elseif type(field) ~= expected then
      table.insert(
        problems,
        string.format("option %q must be a %s (got %s)", "next_edit." .. key, expected, type(field))
      )
    elseif key == "keymaps" then
      merged.keymaps = vim.tbl_extend("force", merged.keymaps, field)
    elseif key == "debounce_ms" then
      merged.debounce_ms = math.min(10000, math.max(100, math.floor(field)))
    else
      merged[key] = field
    end
  end
  return merged
end

--- Options merged over the defaults, and the problems found in them (unknown keys, wrong types:
--- such a value falls back to its default).
function M.resolve(user)
  local problems = {}
  local options = vim.deepcopy(M.defaults)
  for key, value in pairs(user or {}) do
    local expected = expected_types[key]
    if expected == nil then
      table.insert(problems, string.format("unknown option %q", key))
    elseif type(value) ~= expected and value ~= nil then
      table.insert(
        problems,
        string.format("option %q must be a %s (got %s)", key, expected, type(value))
      )
    elseif key == "keymaps" then
      options.keymaps = vim.tbl_extend("force", options.keymaps, value)
    elseif key == "next_edit" then
      options.next_edit = merge_next_edit(options.next_edit, value, problems)
    elseif key == "explain_window" and value ~= "float" and value ~= "split" then
      table.insert(problems, 'option "explain_window" must be "float" or "split"')
    else
      options[key] = value
    end
  end
  if #options.cmd == 0 then
    table.insert(problems, 'option "cmd" is empty')
    options.cmd = vim.deepcopy(M.defaults.cmd)
  end
  move_to_command_line(options)
  return options, problems
end

--- The server options to send: the user's `settings`, with completion.automatic following the
--- plugin's on/off state.
function M.server_settings(options, automatic)
  local settings = vim.deepcopy(options.settings)
  settings.completion = settings.completion or {}
  settings.completion.automatic = automatic
  return settings
end

--- Whether suggestions start switched on: auto_trigger, unless the settings say otherwise.
function M.initially_automatic(options)
  local completion = options.settings.completion
  if completion and completion.automatic == false then
    return false
  end
  return options.auto_trigger
end

return M
