"""The fidelity evidence itself: extracted from wandb 0.31.0, and the check it drives can fail."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType

from wandb_provider.client._queries import all_documents
from wandb_provider.testing.graphql_api import load_schema
from wandb_provider.testing.profiles import LEGACY

from . import plugin
from . import sdk_evidence as ev
from .plugin import check

SCHEMA = load_schema()


@pytest.fixture(scope="module")
def evidence() -> ev.Usage:
    """Extracted afresh (these tests check the extraction); the session's own check then reads it."""
    found = ev.sdk_evidence(SCHEMA)
    plugin.remember_evidence(found)
    return found


def test_documents_come_from_both_sides_of_the_sdk() -> None:
    python_names = {name.value for doc in ev.python_documents() for d in doc.definitions
                    if (name := getattr(d, "name", None)) is not None}
    binary_text = "\n".join(ev.binary_definitions())
    assert {"ServerFeaturesQuery", "LinkArtifact", "ArtifactMembershipByName"} <= python_names
    for operation in ("mutation CreateArtifactFiles", "mutation CreateArtifactManifest", "mutation UpsertBucket",
                      "mutation CompleteMultipartUploadArtifact", "mutation CommitArtifact"):
        assert operation in binary_text


def _go_structs(binary: Path) -> list[set[str]]:
    """The JSON field names of every Go struct in ``binary`` whose fields carry json tags."""
    data = binary.read_bytes()
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads = []
    for i in range(phnum):
        p_type, _, offset, vaddr, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            loads.append((offset, vaddr, filesz))

    def to_offset(address: int) -> int | None:
        for offset, vaddr, size in loads:
            if vaddr <= address < vaddr + size:
                return int(offset + address - vaddr)
        return None

    def tag_at(offset: int | None) -> str | None:
        # A Go type name entry: flags byte, length, name, tag length, tag (lengths < 128 here).
        if offset is None or offset + 3 > len(data) or data[offset] & ~0x7 or not data[offset] & 2:
            return None
        length = data[offset + 1]
        if length == 0 or length >= 128:
            return None
        tag_start = offset + 2 + length
        tag = data[tag_start + 1:tag_start + 1 + data[tag_start]]
        match = re.match(rb'json:"([A-Za-z0-9_]+)', tag)
        return match.group(1).decode() if match else None

    structs = []
    pointers = {}
    for match in re.finditer(rb'json:"(artifactManifestID|cloudRegionID|hexMD5|sequenceClientID|tagCategoryName|'
                             rb'artifactCollectionName|artifactEntityName)', data):
        # walk back from the tag to its entry's flags byte
        for back in range(3, 80):
            start = match.start() - back
            if tag_at(start) == match.group(1).decode():
                for loaded_offset, vaddr, size in loads:
                    if loaded_offset <= start < loaded_offset + size:
                        pointers[vaddr + start - loaded_offset] = start
                break
    for address in pointers:
        for found in re.finditer(re.escape(struct.pack("<Q", address)), data):
            first = found.start()
            while first >= 24 and tag_at(to_offset(struct.unpack_from("<Q", data, first - 24)[0])):
                first -= 24
            names, at = set(), first
            while (name := tag_at(to_offset(struct.unpack_from("<Q", data, at)[0]))) is not None:
                names.add(name)
                at += 24
            structs.append(names)
    return structs


def test_each_go_only_input_type_we_rely_on_is_a_struct_in_wandb_core() -> None:
    structs = _go_structs(ev.wandb_root() / "bin" / "wandb-core")
    for name, entry in ev.go_input_types().items():
        assert set(entry["fields"]) in structs, f"{name}: {entry['fields']} is no struct of wandb-core"
        assert entry["source"]


def test_every_input_type_of_ours_has_exactly_the_sdk_fields(evidence: ev.Usage) -> None:
    """The SDK's generated type of that name; where the SDK writes the input inline instead, the
    fields its documents use."""
    generated = ev.sdk_input_types()
    for name, graphql_type in SCHEMA.type_map.items():
        if isinstance(graphql_type, GraphQLInputObjectType):
            expected = generated.get(name) or {f for (owner, f) in evidence.input_fields if owner == name}
            assert expected, f"input {name} is used by no SDK document or generated type"
            assert set(graphql_type.fields) == expected, name


def test_every_document_of_the_client_passes_the_check(evidence: ev.Usage) -> None:
    from wandb_provider.client.watch import batch_document

    operations = [*all_documents(), batch_document(3, [0, 2, 1]), batch_document(2, [1, 0], [False, True])]
    requests = [{"query": op.document, "operationName": op.name, "variables": {}} for op in operations]
    assert list(ev.violations(SCHEMA, evidence, requests)) == []


@pytest.mark.parametrize(("query", "variables", "expected"), [
    ('mutation M($a: ID!, $d: String!, $e: String!, $p: String!, $r: String!, $n: String!) {'
     ' createArtifactManifest(input: {artifactID: $a, name: $n, digest: $d, entityName: $e, projectName: $p,'
     ' runName: $r, includeUpload: true}) { artifactManifest { id } } }', {},
     "input field CreateArtifactManifestInput.includeUpload"),
    ("mutation M($input: UpsertBucketInput!) { upsertBucket(input: $input) { inserted } }", {"input": {}},
     "type UpsertBucketInput"),
    ("mutation M($input: CreateArtifactFilesInput!) { createArtifactFiles(input: $input) { files { totalCount } } }",
     {"input": {"artifactFiles": [{"artifactID": None, "surprise": None}]}},
     "input field CreateArtifactFileSpecInput.surprise"),
])
def test_the_check_finds_what_no_sdk_document_uses(query: str, variables: dict[str, Any], expected: str) -> None:
    schema = load_schema()
    found = check([{"query": query, "operationName": "M", "variables": variables}])
    assert any(line.startswith(expected) for line in found), (found, schema is not None)


def test_the_legacy_profile_lacks_the_fields_of_the_features_it_turns_off() -> None:
    legacy = load_schema(LEGACY)
    for type_name, field_name in LEGACY.missing_fields:
        before, after = SCHEMA.type_map[type_name], legacy.type_map[type_name]
        assert isinstance(before, (GraphQLObjectType, GraphQLInputObjectType))
        assert isinstance(after, (GraphQLObjectType, GraphQLInputObjectType))
        assert field_name in before.fields and field_name not in after.fields


def test_an_unknown_input_field_in_a_variable_is_refused_as_w_and_b_refuses_it(wandb_server: Any) -> None:
    import json
    import urllib.request

    body = json.dumps({"query": "mutation C($input: CommitArtifactInput!) { commitArtifact(input: $input) "
                                "{ artifact { id } } }",
                       "variables": {"input": {"artifactID": "QXJ0aWZhY3Q6MQ==", "includeUpload": True}}}).encode()
    request = urllib.request.Request(f"{wandb_server.base_url}/graphql", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {wandb_server.api_key}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert "includeUpload" in refused.value.read().decode()
