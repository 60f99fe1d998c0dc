"""What the wandb SDK (the judge of fidelity) can send over GraphQL, and checks of our requests against it.

Sources, all from the installed ``wandb`` package:

* every GraphQL document in its Python sources (string constants and f-strings that parse as
  GraphQL, the ``_generated`` operation modules included; ``str.format`` templates and f-strings
  are read with their placeholders dropped);
* every document inside its ``wandb-core`` binary (the Go side: text starting ``query ``,
  ``mutation `` or ``fragment `` read up to its closing brace);
* its generated input types: the Python ``_generated/input_types.py`` modules, and for the input
  types only the Go side has, the field lists in ``go_input_types.json`` (checked against the
  binary's own struct metadata by ``test_evidence.py``).

The *evidence* is what those documents and types use: named types, ``(type, field)``,
``(type, field, argument)`` and ``(input type, input field)``. A request of ours uses only
evidence, or it is a violation (unless ``allowed.json`` lists it with a reason).
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    NamedTypeNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    type_from_ast,
    visit,
)

HERE = Path(__file__).parent
GO_INPUT_TYPES = HERE / "go_input_types.json"
ALLOWED = HERE / "allowed.json"
_DEFINITION_START = re.compile(rb"(?:query|mutation|fragment) [_A-Za-z][_0-9A-Za-z]*\s*[({o]")
_PYTHON_HINT = re.compile(r"\b(query|mutation|fragment)\b")
_FORMAT_FIELD = re.compile(r"\{[_A-Za-z0-9]*\}")


def wandb_root() -> Path:
    import wandb

    return Path(wandb.__file__).parent


def _format_template(text: str) -> str:
    """A ``str.format`` template as the GraphQL it renders to, its ``{placeholders}`` dropped."""
    return _FORMAT_FIELD.sub("", text.replace("{{", "\0").replace("}}", "\1")).replace("\0", "{").replace("\1", "}")


def _parse_definitions(text: str) -> DocumentNode | None:
    for candidate in (text, _format_template(text)):
        try:
            return parse(candidate, no_location=True)
        except GraphQLError:
            continue
    return None


def _literal_text(node: ast.AST) -> str | None:
    """A string constant's text; an f-string's, with its ``{expressions}`` dropped."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        text = "".join(part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "\0"
                       for part in node.values)
        return re.sub(r"\.\.\.\s*\0", "", text).replace("\0", "")  # a spread of a computed fragment name goes too
    return None


def python_documents(root: Path | None = None) -> list[DocumentNode]:
    """Documents in the SDK's Python sources (every string constant that parses as GraphQL)."""
    documents = []
    for path in sorted((root or wandb_root()).rglob("*.py")):
        if "vendor" in path.parts:
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        if not _PYTHON_HINT.search(source):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            text = _literal_text(node)
            if text is not None and "{" in text and _PYTHON_HINT.search(text):
                document = _parse_definitions(text)
                if document is not None and document.definitions:
                    documents.append(document)
    for path in sorted((root or wandb_root()).rglob("*.graphql")):
        document = _parse_definitions(path.read_text(encoding="utf-8"))
        if document is not None:
            documents.append(document)
    return documents


def _balanced(data: bytes, start: int) -> bytes | None:
    """The definition starting at ``start``: up to the brace closing its first ``{``."""
    depth = 0
    limit = min(len(data), start + 200_000)
    for index in range(start, limit):
        char = data[index]
        if char == 0x7B:  # {
            depth += 1
        elif char == 0x7D:  # }
            depth -= 1
            if depth == 0:
                return data[start:index + 1]
        elif char < 0x09 or (0x0D < char < 0x20) or char > 0x7E:
            return None  # left the text
    return None


def binary_definitions(binary: Path | None = None) -> list[str]:
    """Each GraphQL definition (operation or fragment) whose text is inside ``wandb-core``."""
    data = (binary or wandb_root() / "bin" / "wandb-core").read_bytes()
    found = []
    for match in _DEFINITION_START.finditer(data):
        text = _balanced(data, match.start())
        if text is None:
            continue
        decoded = text.decode("ascii")
        try:
            parse(decoded, no_location=True)
        except GraphQLError:
            continue
        found.append(decoded)
    return found


def binary_documents(binary: Path | None = None) -> list[DocumentNode]:
    """The binary's operations, each with the binary's fragments appended."""
    definitions = binary_definitions(binary)
    fragments = [text for text in definitions if text.startswith("fragment ")]
    operations = [text for text in definitions if not text.startswith("fragment ")]
    documents = []
    for text in operations:
        documents.append(parse(text + "\n" + "\n".join(fragments), no_location=True))
    return documents


def python_input_types() -> dict[str, set[str]]:
    """Input types (GraphQL name -> field names) of the SDK's generated Python modules."""
    types: dict[str, set[str]] = {}
    for path in sorted(wandb_root().rglob("_generated/input_types.py")):
        module_name = ".".join(("wandb", *path.relative_to(wandb_root()).with_suffix("").parts))
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            model_fields = getattr(value, "model_fields", None)
            if isinstance(value, type) and value.__module__ == module.__name__ and model_fields is not None:
                names = {info.alias or key for key, info in model_fields.items()}
                types.setdefault(name, set()).update(names)
    return types


def go_input_types() -> dict[str, dict[str, Any]]:
    """Input types only the Go side generates: ``go_input_types.json`` (fields and their source)."""
    data: dict[str, dict[str, Any]] = json.loads(GO_INPUT_TYPES.read_text(encoding="utf-8"))["types"]
    return data


def sdk_input_types() -> dict[str, set[str]]:
    types = python_input_types()
    for name, entry in go_input_types().items():
        types.setdefault(name, set()).update(entry["fields"])
    return types


@dataclass
class Usage:
    """What a set of documents (or requests) uses; comparable with another ``Usage``."""

    types: set[str] = field(default_factory=set)
    fields: set[tuple[str, str]] = field(default_factory=set)
    arguments: set[tuple[str, str, str]] = field(default_factory=set)
    input_fields: set[tuple[str, str]] = field(default_factory=set)

    def update(self, other: Usage) -> None:
        self.types |= other.types
        self.fields |= other.fields
        self.arguments |= other.arguments
        self.input_fields |= other.input_fields


class _Collector(Visitor):
    def __init__(self, type_info: TypeInfo, usage: Usage) -> None:
        super().__init__()
        self.type_info = type_info
        self.usage = usage

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.type_info.get_parent_type()
        if parent is not None and not node.name.value.startswith("__"):
            self.usage.fields.add((parent.name, node.name.value))
            for argument in node.arguments or ():
                self.usage.arguments.add((parent.name, node.name.value, argument.name.value))

    def enter_named_type(self, node: NamedTypeNode, *_: Any) -> None:
        self.usage.types.add(node.name.value)

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        parent = self.type_info.get_parent_input_type()
        if parent is not None:
            named = get_named_type(parent)
            if isinstance(named, GraphQLInputObjectType):
                self.usage.input_fields.add((named.name, node.name.value))


def document_usage(schema: GraphQLSchema, document: DocumentNode) -> Usage:
    """What ``document`` uses, typed by ``schema`` (parts the schema cannot type are left out)."""
    usage = Usage()
    type_info = TypeInfo(schema)
    visit(document, TypeInfoVisitor(type_info, _Collector(type_info, usage)))
    return usage


def variables_usage(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                    variables: Any) -> Usage:
    """The input fields the (shape of the) ``variables`` of a request carry, by declared type."""
    usage = Usage()
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [d for d in operations if operation_name is None or (d.name and d.name.value == operation_name)]
    if not chosen or not isinstance(variables, dict):
        return usage
    for definition in chosen[0].variable_definitions or ():
        declared = type_from_ast(schema, definition.type)
        name = definition.variable.name.value
        if declared is not None and name in variables:
            _walk_input(declared, variables[name], usage)  # type: ignore[arg-type]
    return usage


def _walk_input(declared: GraphQLInputType, value: Any, usage: Usage) -> None:
    if isinstance(declared, GraphQLNonNull):
        _walk_input(declared.of_type, value, usage)
    elif isinstance(declared, GraphQLList):
        for item in value if isinstance(value, list) else [value]:
            _walk_input(declared.of_type, item, usage)
    elif isinstance(declared, GraphQLInputObjectType) and isinstance(value, dict):
        for key, item in value.items():
            usage.input_fields.add((declared.name, key))
            if key in declared.fields:
                _walk_input(declared.fields[key].type, item, usage)


@functools.lru_cache(maxsize=4)
def _all_sdk_documents() -> tuple[DocumentNode, ...]:
    return tuple(python_documents()) + tuple(binary_documents())


def sdk_evidence(schema: GraphQLSchema) -> Usage:
    """Everything the SDK's documents and generated input types use, typed by ``schema``."""
    evidence = Usage()
    for document in _all_sdk_documents():
        evidence.update(document_usage(schema, document))
    for name, names in sdk_input_types().items():
        evidence.types.add(name)
        evidence.input_fields |= {(name, field_name) for field_name in names}
    return evidence


@dataclass(frozen=True)
class Violation:
    kind: str  # "type", "field", "argument", "input field"
    what: str
    operation: str

    def key(self) -> str:
        return f"{self.kind} {self.what}"


def _related(schema: GraphQLSchema, type_name: str) -> set[str]:
    """``type_name`` with its interfaces, or an interface with its implementations."""
    named = schema.type_map.get(type_name)
    related = {type_name}
    if isinstance(named, GraphQLObjectType):
        related |= {i.name for i in named.interfaces}
    if isinstance(named, GraphQLInterfaceType):
        related |= {o.name for o in schema.get_implementations(named).objects}
    return related


def violations(schema: GraphQLSchema, evidence: Usage, requests: Iterable[dict[str, Any]]) -> Iterator[Violation]:
    """What ``requests`` (recorded shapes) use that ``evidence`` does not hold."""
    for request in requests:
        try:
            document = parse(request["query"], no_location=True)
        except GraphQLError:
            continue  # a request the server refused as unparsable reached no W&B type
        used = document_usage(schema, document)
        used.update(variables_usage(schema, document, request.get("operationName"), request.get("variables")))
        operation = str(request.get("operationName") or "<anonymous>")
        for type_name in sorted(used.types - evidence.types):
            yield Violation("type", type_name, operation)
        for parent, name in sorted(used.fields):
            if not any((other, name) in evidence.fields for other in _related(schema, parent)):
                yield Violation("field", f"{parent}.{name}", operation)
        for parent, name, argument in sorted(used.arguments):
            if not any((other, name, argument) in evidence.arguments for other in _related(schema, parent)):
                yield Violation("argument", f"{parent}.{name}({argument}:)", operation)
        for parent, name in sorted(used.input_fields - evidence.input_fields):
            yield Violation("input field", f"{parent}.{name}", operation)


def allowed() -> dict[str, dict[str, str]]:
    """The reviewed exceptions: ``"<kind> <what>"`` -> reason and evidence that W&B accepts it."""
    data: dict[str, dict[str, str]] = json.loads(ALLOWED.read_text(encoding="utf-8"))["allowed"]
    return data
