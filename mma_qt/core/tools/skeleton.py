"""``get_skeleton``: a source file's signatures and docstrings, bodies elided. Pure, no Qt.

- Python: the standard library's :mod:`ast`: imports, module-level assignments, classes
  with their fields and methods, functions; each ``def``/``class`` line ends with
  ``# lines A-B`` so ``read_file`` can fetch a body.
- Other languages (by file extension, see :data:`TREE_SITTER_LANGUAGES`):
  ``tree-sitter-language-pack``; definitions (functions, methods, classes, structs,
  interfaces, traits, impls, modules...) are shown up to their body, with the comment
  just above them, ``{ … }`` in place of the body, members of containers nested.
- Anything else, or a file the parser cannot read: an outline of the lines that look
  like declarations or headings, with their line numbers.
"""

from __future__ import annotations

import ast
import copy
import inspect
import logging
import re
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

#: File extension → tree-sitter-language-pack language name.
TREE_SITTER_LANGUAGES = {
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".tsx": "tsx", ".go": "go", ".rs": "rust",
    ".java": "java", ".kt": "kotlin", ".scala": "scala", ".swift": "swift",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
    ".hh": "cpp", ".cs": "csharp", ".rb": "ruby", ".php": "php", ".lua": "lua",
    ".sh": "bash", ".bash": "bash",
}

_DEFINITION = re.compile(
    r"(^|_)(function|method|class|interface|struct|enum|trait|impl|module|mod|namespace|"
    r"constructor|type|object|protocol)(_(declaration|definition|item|specifier|spec))?$"
)
#: Definitions whose bodies hold further definitions worth showing.
_CONTAINER = re.compile(r"class|interface|struct|trait|impl|module|mod_|namespace|object|"
                        r"protocol|enum")
_HASH_COMMENTS = ("ruby", "bash")
_OUTLINE = re.compile(
    r"^\s*(#{1,6}\s|(export\s+|pub(\(\w+\))?\s+|public\s+|private\s+|protected\s+|static\s+|"
    r"async\s+|abstract\s+)*(def|class|function|fn|func|interface|struct|enum|impl|trait|"
    r"type|module|package|namespace|sub|proc)\b)"
)


def skeleton(source: str, suffix: str) -> str:
    """The skeleton of ``source``, a file whose name ends with ``suffix`` (``.py``...)."""
    if suffix in (".py", ".pyi", ".pyw"):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError) as exc:
            return f"# not valid Python ({exc}); an outline instead\n" + outline(source)
        return "\n".join(_python(tree.body, 0)).lstrip("\n") + "\n"
    language = TREE_SITTER_LANGUAGES.get(suffix)
    if language is not None:
        text = _tree_sitter(source, language)
        if text is not None:
            return text
    return outline(source)


def outline(source: str) -> str:
    """Lines that look like declarations or headings, numbered."""
    lines = [f"{n}: {line.rstrip()}" for n, line in enumerate(source.splitlines(), 1)
             if _OUTLINE.match(line)]
    if not lines:
        return "(no declarations or headings found; read_file shows the content)\n"
    return "\n".join(lines) + "\n"


# -- Python ------------------------------------------------------------------------------


def _python(body: list[ast.stmt], indent: int) -> Iterator[str]:
    pad = "    " * indent
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if indent == 0:
                yield ""
            yield from _python_definition(node, indent)
        elif isinstance(node, ast.Import | ast.ImportFrom) and indent == 0:
            yield pad + ast.unparse(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            yield pad + _short(ast.unparse(node))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            # Definitions under `if TYPE_CHECKING:`, `try:` and the like still count.
            inner: list[ast.stmt] = [*node.body, *getattr(node, "orelse", []),
                                     *getattr(node, "finalbody", [])]
            for handler in getattr(node, "handlers", []):
                inner += handler.body
            yield from _python([n for n in inner if not isinstance(n, ast.Expr)], indent)
        elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
              and isinstance(node.value.value, str) and node is body[0] and indent == 0):
            yield from _docstring(node.value.value, pad)


def _python_definition(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, indent: int
) -> Iterator[str]:
    pad = "    " * indent
    bare: Any = copy.copy(node)
    bare.body = [ast.Expr(ast.Constant(...))]
    header = ast.unparse(bare).splitlines()[:-1]
    decorators = len(node.decorator_list)
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    end = node.end_lineno or node.lineno
    for i, line in enumerate(header):
        note = f"  # lines {start}-{end}" if i == decorators else ""
        yield pad + line + note
    docstring = ast.get_docstring(node)
    if docstring is not None:
        yield from _docstring(docstring, pad + "    ")
    if isinstance(node, ast.ClassDef):
        members = list(_python(node.body, indent + 1))
        if members:
            yield from members
            return
    yield pad + "    ..."


def _docstring(text: str, pad: str) -> Iterator[str]:
    lines = inspect.cleandoc(text).replace('"""', r"\"\"\"").splitlines() or [""]
    if len(lines) == 1:
        yield f'{pad}"""{lines[0]}"""'
        return
    yield f'{pad}"""{lines[0]}'
    for line in lines[1:]:
        yield (pad + line).rstrip()
    yield f'{pad}"""'


def _short(text: str, width: int = 120) -> str:
    first = text.split("\n", 1)[0]
    return first if len(first) <= width and first == text else first[: width - 4] + " ..."


# -- tree-sitter -------------------------------------------------------------------------


def _tree_sitter(source: str, language: str) -> str | None:
    """The skeleton through tree-sitter, or None if the grammar is not available here."""
    try:
        from tree_sitter_language_pack import get_parser
    except ImportError as exc:
        log.info("tree-sitter-language-pack is not installed (%s); outline instead", exc)
        return None
    try:
        parser = get_parser(language)  # type: ignore[arg-type]
    except (LookupError, ValueError, OSError) as exc:
        log.warning("no tree-sitter grammar for %s here (%s); outline instead", language, exc)
        return None
    data = source.encode("utf-8")
    tree = parser.parse(data)
    mark = "#" if language in _HASH_COMMENTS else "//"
    lines = list(_ts_definitions(tree.root_node, data, 0, mark))
    if not lines:
        return None
    return "\n".join(lines) + "\n"


def _ts_definitions(node: Any, data: bytes, indent: int, mark: str) -> Iterator[str]:
    for child in node.named_children:
        if _is_definition(child):
            yield from _ts_definition(child, child, data, indent, mark)
        elif child.type in _WRAPPERS:
            # `export function f`, `@decorator class C`: shown from the wrapper's start.
            inner = next((c for c in child.named_children if _is_definition(c)), None)
            if inner is not None:
                yield from _ts_definition(inner, child, data, indent, mark)
        elif child.named_child_count and child.type in _TRANSPARENT:
            yield from _ts_definitions(child, data, indent, mark)


_WRAPPERS = ("export_statement", "decorated_definition")
_TRANSPARENT = ("template_declaration", "declaration_list", "program", "source_file",
                "translation_unit", "preproc_ifdef", "preproc_if", "linkage_specification")


def _is_definition(node: Any) -> bool:
    return bool(_DEFINITION.search(node.type)) and node.type != "type_identifier"


def _ts_definition(node: Any, outer: Any, data: bytes, indent: int, mark: str) -> Iterator[str]:
    """``node``, a definition, shown from the start of ``outer`` (itself or its wrapper)."""
    pad = "  " * indent
    comment = outer.prev_named_sibling
    if (comment is not None and "comment" in comment.type
            and comment.end_point[0] >= outer.start_point[0] - 1):
        for line in _text(comment, data).splitlines()[:6]:
            yield pad + line.strip()
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    head = " ".join(data[outer.start_byte:end].decode("utf-8", errors="replace").split())
    if body is None and len(head) > 200:
        head = head[:196] + " ..."
    lines = f"  {mark} lines {outer.start_point[0] + 1}-{node.end_point[0] + 1}"
    if body is None:
        yield pad + head + lines
        return
    if _CONTAINER.search(node.type):
        members = list(_ts_definitions(body, data, indent + 1, mark))
        if members:
            yield pad + head + " {" + lines
            yield from members
            yield pad + "}"
            return
    yield pad + head + " { … }" + lines


def _text(node: Any, data: bytes) -> str:
    return data[node.start_byte:node.end_byte].decode("utf-8", errors="replace")
