-- User commands of spark-lsp. They do nothing until require("spark_lsp").setup() has run.
if vim.g.loaded_spark_lsp then
  return
end
vim.g.loaded_spark_lsp = true

local function lines_of(command)
  return command.range > 0 and { command.line1, command.line2 } or nil
end

vim.api.nvim_create_user_command("SparkEdit", function(command)
  require("spark_lsp.actions").edit(vim.api.nvim_get_current_buf(), lines_of(command), command.args)
end, {
  range = true,
  nargs = "*",
  desc = "spark-lsp: rewrite the selected lines (or the function around the cursor) as instructed",
})

vim.api.nvim_create_user_command("SparkExplain", function(command)
  require("spark_lsp.actions").explain_lines(vim.api.nvim_get_current_buf(), lines_of(command))
end, {
  range = true,
  desc = "spark-lsp: explain the selected lines (or the function around the cursor)",
})

vim.api.nvim_create_user_command("SparkToggle", function()
  require("spark_lsp").toggle()
end, { desc = "spark-lsp: automatic suggestions on/off" })

vim.api.nvim_create_user_command("SparkStats", function()
  require("spark_lsp.actions").show_statistics(vim.api.nvim_get_current_buf())
end, { desc = "spark-lsp: local suggestion statistics" })

vim.api.nvim_create_user_command("SparkRestart", function()
  require("spark_lsp").restart()
end, { desc = "spark-lsp: restart the server" })
