"""The VS Code extension in editors/vscode: its settings against the server's options, then its
own build, tests (jest, with `vscode` mocked and the real vscode-languageclient) and packaging
(one bundled file). The extension in a real VS Code: tests/test_editor_vscode_real.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import typing
import zipfile
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Literal

import pytest

from spark_lsp.lsp.options import ServerOptions, camel, merge_options
from tests.vscode_build import EXTENSION, run_npm

SERVER_GROUPS = ("actions", "completion", "context", "engine")
needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH")
# npm ci fetches a few hundred packages on a machine with a cold cache.
npm_timeout = pytest.mark.timeout(900)

# Loads the packaged extension's entry point with a stand-in for the `vscode` module, so that
# every runtime dependency must come from the .vsix itself.
LOADER = """
const Module = require('module');
const vscode = new Proxy({}, { get: (_target, name) => (name === '__esModule' ? true : class {}) });
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
};
require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: vscode };
const extension = require(process.argv[2]);
if (typeof extension.activate !== 'function' || typeof extension.deactivate !== 'function') {
  throw new Error('the extension exports no activate/deactivate');
}
"""


def declared_properties() -> dict[str, dict[str, Any]]:
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    properties: dict[str, dict[str, Any]] = {}
    for section in manifest["contributes"]["configuration"]:
        properties.update(section["properties"])
    return properties


def expected_schema(hint: Any, metadata: Any) -> dict[str, Any]:
    """The JSON-schema fragment package.json should declare for a settings field."""
    if typing.get_origin(hint) is Literal:
        return {"type": "string", "enum": list(typing.get_args(hint))}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer", "minimum": metadata["low"], "maximum": metadata["high"]}
    if hint is str:
        return {"type": "string"}
    if typing.get_origin(hint) is tuple:
        return {"type": "array", "items": {"type": "string"}, "maxItems": metadata["high"]}
    assert set(typing.get_args(hint)) == {str, type(None)}, hint
    return {"type": ["string", "null"]}


def test_declared_settings_are_the_server_options() -> None:
    """Every `sparkLsp.<group>.<name>` setting is an option the server accepts, with the
    server's default, type and bounds, and every server option is declared."""
    properties = declared_properties()
    defaults = ServerOptions()
    for group in SERVER_GROUPS:
        settings = getattr(defaults, group)
        hints = typing.get_type_hints(type(settings))
        expected = {camel(item.name): item for item in fields(settings)}
        declared = {
            key.split(".", 2)[2]: value
            for key, value in properties.items()
            if key.startswith(f"sparkLsp.{group}.")
        }
        assert sorted(declared) == sorted(expected), group
        for name, item in expected.items():
            schema = declared[name]
            assert item.default is not MISSING
            default = list(item.default) if isinstance(item.default, tuple) else item.default
            assert schema["default"] == default, f"{group}.{name}"
            wanted = expected_schema(hints[item.name], item.metadata)
            assert {key: schema.get(key) for key in wanted} == wanted, f"{group}.{name}"
            # Where code, keys and model files come from: never a workspace setting.
            if item.metadata.get("client_values") is not None:
                assert schema.get("scope") == "machine", f"{group}.{name}"


def test_declared_remote_templates_are_the_server_families() -> None:
    """`remoteTemplate` offers exactly the template families the server knows, or null."""
    from spark_lsp.templates import family_names

    schema = declared_properties()["sparkLsp.engine.remoteTemplate"]
    assert schema["enum"] == [None, *family_names()]
    assert len(schema["enumDescriptions"]) == len(schema["enum"])


def test_declared_defaults_pass_the_server_unchanged() -> None:
    """The payload the extension sends with nothing set: no problem, nothing changed."""
    payload: dict[str, dict[str, Any]] = {group: {} for group in SERVER_GROUPS}
    for key, schema in declared_properties().items():
        _, group, name = key.split(".", 2)
        if group in SERVER_GROUPS:
            payload[group][name] = schema["default"]
    options, problems = merge_options(ServerOptions(), payload)
    assert problems == []
    assert options == ServerOptions()
    # Why the extension strips its client-only settings: the server reports unknown keys.
    _, problems = merge_options(ServerOptions(), {"server": {"path": "spark-lsp"}})
    assert problems == ["unknown option server"]


@needs_npm
@npm_timeout
def test_extension_tests_pass(built_extension: Path) -> None:
    output = run_npm(built_extension, "test")
    summary = re.search(r"^Tests:\s+(.*)$", output, re.MULTILINE)
    assert summary is not None, output[-4000:]
    counts = {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", summary.group(1))}
    assert counts.get("failed", 0) == 0, output[-12000:]
    assert counts["passed"] == counts["total"] > 0


@needs_npm
@npm_timeout
def test_extension_packages_as_a_vsix_that_loads(extension_vsix: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(extension_vsix) as archive:
        names = set(archive.namelist())
        assert {
            "extension/package.json",
            "extension/readme.md",
            "extension/LICENSE.txt",
            "extension/out/extension.js",
        } <= names
        # One bundled file: the runtime dependencies are inside it, not shipped beside it.
        assert not any(
            name.startswith(("extension/src/", "extension/test/", "extension/node_modules/"))
            for name in names
        ), sorted(names)
        assert [name for name in names if name.endswith(".js")] == ["extension/out/extension.js"]
        archive.extractall(tmp_path / "vsix")
    loader = tmp_path / "load.js"
    loader.write_text(LOADER, encoding="utf-8")
    node = shutil.which("node")
    assert node is not None
    entry = tmp_path / "vsix" / "extension" / "out" / "extension.js"
    result = subprocess.run(
        [node, str(loader), str(entry)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
