-- luacheck editors/neovim tests/editors (Debian: apt-get install lua-check)
std = "luajit"
globals = { "vim" }
max_line_length = 100
