"""A real VS Code for the extension's end-to-end test: code-server from npm, and puppeteer-core
to drive Debian's Chromium. Installed once per version into the user cache.

code-server's own install script downloads ripgrep and prebuilt modules from GitHub, which
these machines cannot reach, so the packages come in with `--ignore-scripts` and the native
modules VS Code's server loads are compiled here with npm's node-gyp (gcc and Node's headers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CODE_SERVER_VERSION = "4.100.3"  # VS Code 1.100.3
PUPPETEER_VERSION = "24.43.1"
CHROMIUM = "/usr/bin/chromium"
# Native modules of VS Code's server that it needs on Linux (logging, the terminal, the
# extension host's watchdog); kerberos (proxy authentication) is left out.
VSCODE_NATIVE_MODULES = ("@vscode/spdlog", "native-watchdog", "node-pty")
STAMP = ".spark-lsp-installed"


def cache_directory() -> Path:
    base = os.environ.get("SPARK_LSP_CACHE_DIR") or os.path.join(Path.home(), ".cache", "spark-lsp")
    return Path(base) / f"code-server-{CODE_SERVER_VERSION}-puppeteer-{PUPPETEER_VERSION}"


def _run(arguments: list[str], cwd: Path) -> None:
    environment = {**os.environ, "npm_config_audit": "false", "npm_config_fund": "false"}
    prefix = Path(shutil.which("node") or "/usr/bin/node").resolve().parent.parent
    if (prefix / "include" / "node" / "node.h").is_file():  # not nodejs.org's headers download
        environment["npm_config_nodedir"] = str(prefix)
    result = subprocess.run(
        arguments,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-6000:]
        raise RuntimeError(f"{' '.join(arguments)} failed in {cwd}:\n{output}")


def _node_gyp() -> list[str]:
    npm = shutil.which("npm")
    assert npm is not None
    bundled = (
        Path(npm).resolve().parent.parent / "node_modules" / "node-gyp" / "bin" / "node-gyp.js"
    )
    if bundled.is_file():
        return ["node", str(bundled)]
    return ["npx", "--yes", "node-gyp"]


def _link(target: str, link: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def install(directory: Path | None = None) -> Path:
    """code-server and puppeteer-core in `directory` (default: the cache); returns it."""
    directory = directory or cache_directory()
    if (directory / STAMP).is_file():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "package.json").write_text('{"private": true}\n', encoding="utf-8")
    _run(
        [
            "npm",
            "install",
            "--ignore-scripts",
            "--no-save",
            f"code-server@{CODE_SERVER_VERSION}",
            f"puppeteer-core@{PUPPETEER_VERSION}",
        ],
        directory,
    )
    package = directory / "node_modules" / "code-server"
    gyp = _node_gyp()
    pre_gyp = directory / "node_modules" / "@mapbox" / "node-pre-gyp" / "bin" / "node-pre-gyp"
    argon2 = directory / "node_modules" / "argon2"  # code-server's password hashing
    _run(["node", str(pre_gyp), "rebuild", "--build-from-source"], argon2)
    vscode = package / "lib" / "vscode"
    _run(["npm", "install", "--omit=dev", "--ignore-scripts"], vscode)
    for module in VSCODE_NATIVE_MODULES:
        _run([*gyp, "rebuild"], vscode / "node_modules" / module)
    # What code-server's postinstall.sh links besides installing.
    _link("node_modules", vscode / "node_modules.asar")
    _link("code-linux.sh", vscode / "bin" / "remote-cli" / "code-server")
    _link("browser-linux.sh", vscode / "bin" / "helpers" / "browser.sh")
    (directory / STAMP).write_text(CODE_SERVER_VERSION, encoding="utf-8")
    return directory


def executable(directory: Path) -> Path:
    return directory / "node_modules" / ".bin" / "code-server"
