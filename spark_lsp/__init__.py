"""spark-lsp: a language server that runs a local code model in-process."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spark-lsp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
