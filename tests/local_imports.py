"""Function-local imports in the jetbench package: count them and find those without a reason.

    python tests/local_imports.py [package dir]     # prints the count and every such import

The layer rule (pyproject.toml, `lint-imports`) allows an import inside a function only to keep
a heavy dependency lazy (torch, uproot, Pythia, matplotlib, ...), with a one-line
`# lazy: <reason>` comment on the import line (or the line above it).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "jetbench"
MARK = "# lazy:"


@dataclass(frozen=True)
class LocalImport:
    path: Path
    line: int
    module: str
    reason: str | None  # the text after `# lazy:`, None when missing


def _module(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.ImportFrom):
        return "." * node.level + (node.module or "")
    return ", ".join(a.name for a in node.names)


def _nested_imports(node: ast.AST, in_function: bool = False):
    """Import nodes below `node` that sit inside a function body."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)) and in_function:
            yield child
        inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
        yield from _nested_imports(child, inner)


def local_imports(root: Path = PACKAGE) -> list[LocalImport]:
    """Every import statement nested in a function body, in file and line order."""
    found: list[LocalImport] = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in _nested_imports(ast.parse("\n".join(lines), filename=str(path))):
            here, above = lines[node.lineno - 1], lines[node.lineno - 2].strip()
            text = here if MARK in here else above if above.startswith(MARK) else ""
            reason = text.split(MARK, 1)[1].strip() if text else None
            found.append(LocalImport(path, node.lineno, _module(node), reason or None))
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else PACKAGE
    imports = local_imports(root)
    for imp in imports:
        where = f"{imp.path.relative_to(root.parent)}:{imp.line}"
        print(f"{where:48} {imp.module:40} {imp.reason or 'NO REASON'}")
    missing = sum(imp.reason is None for imp in imports)
    print(f"{len(imports)} function-local imports, {missing} without a '{MARK}' reason")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
