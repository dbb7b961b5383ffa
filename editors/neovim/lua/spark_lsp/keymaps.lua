-- Buffer-local keys (insert mode, or normal mode for next edits). A key whose action finds
-- nothing to do (no suggestion shown) does what it did before: the mapping it had, or the key
-- itself, so Tab still inserts a tab.
local M = {}

local DESCRIPTION_PREFIX = "spark-lsp: "

local mapped = {} -- mode .. bufnr -> true once mapped

local function termcodes(keys)
  return vim.api.nvim_replace_termcodes(keys, true, false, true)
end

local function is_ours(mapping)
  return (mapping.desc or ""):sub(1, #DESCRIPTION_PREFIX) == DESCRIPTION_PREFIX
end

-- The `mode` mapping of `lhs` in the buffer (its own, else the global one) that is not ours (a
-- buffer loaded again keeps them), or nil. The keymap API rather than maparg(): on 0.7 maparg()
-- gives a Lua callback as a number.
local function mapping_of(bufnr, lhs, mode)
  local wanted = termcodes(lhs)
  for _, mappings in ipairs({
    vim.api.nvim_buf_get_keymap(bufnr, mode),
    vim.api.nvim_get_keymap(mode),
  }) do
    for _, mapping in ipairs(mappings) do
      if termcodes(mapping.lhs) == wanted and not is_ours(mapping) then
        return mapping
      end
    end
  end
  return nil
end

-- What `lhs` did in `mode` before we mapped it, as a function.
local function fallback_for(bufnr, lhs, mode)
  local original = mapping_of(bufnr, lhs, mode)
  if not original then
    return function()
      vim.api.nvim_feedkeys(termcodes(lhs), "n", false)
    end
  end
  local mode = original.noremap == 1 and "n" or "m"
  return function()
    local keys
    if original.callback then
      local result = original.callback()
      if original.expr ~= 1 or type(result) ~= "string" then
        return
      end
      keys = original.replace_keycodes == 1 and termcodes(result) or result
    else
      local rhs = (original.rhs or ""):gsub(
        "<[Ss][Ii][Dd]>",
        "<SNR>" .. tostring(original.sid) .. "_"
      )
      keys = original.expr == 1 and vim.api.nvim_eval(rhs) or termcodes(rhs)
    end
    vim.api.nvim_feedkeys(keys, mode, false)
  end
end

--- Maps `keys` ({accept = "<Tab>", ...}; false skips one) to `actions` ({accept = function() ->
--- handled?}) in the buffer, in `mode` (default "i").
function M.set(bufnr, keys, actions, mode)
  mode = mode or "i"
  if mapped[mode .. bufnr] then
    return
  end
  mapped[mode .. bufnr] = true
  for name, lhs in pairs(keys) do
    if lhs and actions[name] then
      local fallback = fallback_for(bufnr, lhs, mode)
      vim.keymap.set(mode, lhs, function()
        if not actions[name](bufnr) then
          fallback()
        end
      end, { buffer = bufnr, silent = true, desc = DESCRIPTION_PREFIX .. name:gsub("_", " ") })
    end
  end
end

function M.forget(bufnr)
  mapped["i" .. bufnr] = nil
  mapped["n" .. bufnr] = nil
end

return M
