"""Every GraphQL document the client sends, written for this project against W&B's schema names.

``ALL_OPERATIONS`` lists them all, so a test can validate each against the local server's schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    name: str
    document: str


_PROJECT_REF = """
fragment ProjectRef on Project {
  name
  entity { name }
}
"""

_COLLECTION_REF = """
fragment CollectionRef on ArtifactCollection {
  __typename
  id
  name
  project { ...ProjectRef }
}
"""

_VERSION_FIELDS = """
fragment VersionFields on Artifact {
  id
  versionIndex
  digest
  state
  size
  fileCount
  description
  metadata
  createdAt
  updatedAt
  artifactType { name }
  tags { name }
  artifactSequence { __typename name project { ...ProjectRef } }
}
"""

_FRAGMENTS = _PROJECT_REF + _COLLECTION_REF + _VERSION_FIELDS

# A version as seen through one collection: its index and aliases there (ArtifactVersion.from_membership).
_MEMBERSHIP_FRAGMENTS = _FRAGMENTS + """
fragment MembershipFields on ArtifactCollectionMembership {
  versionIndex
  aliases { alias }
  artifactCollection { ...CollectionRef }
  artifact { ...VersionFields }
}
"""

# The server's optional features (``_features.py``), as the SDK asks for them.
SERVER_FEATURES = Operation("ServerFeaturesQuery", """
query ServerFeaturesQuery {
  serverInfo { features { name isEnabled } }
}
""")

VIEWER = Operation("Viewer", """
query Viewer {
  viewer {
    id
    username
    entity
    email
    teams { edges { node { name } } }
  }
}
""")

ARTIFACT_BY_NAME = Operation("ArtifactByName", """
query ArtifactByName($entity: String!, $project: String!, $name: String!) {
  project(entityName: $entity, name: $project) {
    artifactCollectionMembership(name: $name) { ...MembershipFields }
  }
}
""" + _MEMBERSHIP_FRAGMENTS)

ARTIFACT_BY_ID = Operation("ArtifactByID", """
query ArtifactByID($id: ID!) {
  artifact(id: $id) {
    ...VersionFields
    aliases { alias artifactCollection { ...CollectionRef } }
  }
}
""" + _FRAGMENTS)

COLLECTION_VERSIONS = Operation("CollectionVersions", """
query CollectionVersions($entity: String!, $project: String!, $collection: String!, $cursor: String,
                         $perPage: Int) {
  project(entityName: $entity, name: $project) {
    artifactCollection(name: $collection) {
      ...CollectionRef
      defaultArtifactType { name }
      artifacts(after: $cursor, first: $perPage) {
        pageInfo { endCursor hasNextPage }
        edges {
          version
          node {
            ...VersionFields
            aliases { alias artifactCollection { ...CollectionRef } }
          }
        }
      }
    }
  }
}
""" + _FRAGMENTS)

# Everything that claims a version, read just before deleting it: its state, its aliases in every
# collection and every collection it is a member of (the one it was logged into, and each link).
# W&B answers ``artifactMemberships`` whole, unpaged, as the SDK reads it (FetchLinkedArtifacts).
ARTIFACT_CLAIMS = Operation("ArtifactClaims", """
query ArtifactClaims($id: ID!) {
  artifact(id: $id) {
    id
    state
    aliases { alias artifactCollection { ...CollectionRef } }
    artifactMemberships {
      edges { node { versionIndex artifactCollection { ...CollectionRef } } }
    }
  }
}
""" + _PROJECT_REF + _COLLECTION_REF)

MANIFEST_URL = Operation("ArtifactManifestUrl", """
query ArtifactManifestUrl($id: ID!) {
  artifact(id: $id) {
    currentManifest { file { directUrl } }
  }
}
""")

FILE_URLS = Operation("ArtifactFileUrls", """
query ArtifactFileUrls($entity: String!, $project: String!, $collection: String!, $version: String!,
                       $cursor: String, $perPage: Int) {
  project(entityName: $entity, name: $project) {
    artifactCollection(name: $collection) {
      artifactMembership(aliasName: $version) {
        files(after: $cursor, first: $perPage) {
          pageInfo { endCursor hasNextPage }
          edges { node { name directUrl } }
        }
      }
    }
  }
}
""")

ORGANIZATION_OF_ENTITY = Operation("OrganizationOfEntity", """
query OrganizationOfEntity($entity: String!) {
  entity(name: $entity) {
    organization { name orgEntity { name } }
    user { organizations { name orgEntity { name } } }
  }
}
""")

ADD_ALIASES = Operation("AddAliases", """
mutation AddAliases($input: AddAliasesInput!) {
  addAliases(input: $input) { success }
}
""")

DELETE_ALIASES = Operation("DeleteAliases", """
mutation DeleteAliases($input: DeleteAliasesInput!) {
  deleteAliases(input: $input) { success }
}
""")

UPDATE_ARTIFACT = Operation("UpdateArtifact", """
mutation UpdateArtifact($input: UpdateArtifactInput!) {
  updateArtifact(input: $input) {
    artifact { ...VersionFields }
  }
}
""" + _PROJECT_REF + _VERSION_FIELDS)

# With ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE W&B answers the new membership itself;
# without it, only its index (LINK_ARTIFACT_INDEX), and the membership is read back.
LINK_ARTIFACT = Operation("LinkArtifact", """
mutation LinkArtifact($input: LinkArtifactInput!) {
  linkArtifact(input: $input) {
    versionIndex
    artifactMembership { ...MembershipFields }
  }
}
""" + _MEMBERSHIP_FRAGMENTS)

LINK_ARTIFACT_INDEX = Operation("LinkArtifact", """
mutation LinkArtifact($input: LinkArtifactInput!) {
  linkArtifact(input: $input) { versionIndex }
}
""")

UNLINK_ARTIFACT = Operation("UnlinkArtifact", """
mutation UnlinkArtifact($input: UnlinkArtifactInput!) {
  unlinkArtifact(input: $input) { success }
}
""")

# A version's time-to-live: ttlDurationSeconds > 0 (seconds), -1 (inherits the team default) or -2 (none).
ARTIFACT_TTL = Operation("ArtifactTTL", """
query ArtifactTTL($id: ID!) {
  artifact(id: $id) { id state ttlDurationSeconds ttlIsInherited }
}
""")

UPDATE_ARTIFACT_TTL = Operation("UpdateArtifactTTL", """
mutation UpdateArtifactTTL($input: UpdateArtifactInput!) {
  updateArtifact(input: $input) {
    artifact { id ttlDurationSeconds ttlIsInherited }
  }
}
""")

DELETE_ARTIFACT = Operation("DeleteArtifact", """
mutation DeleteArtifact($input: DeleteArtifactInput!) {
  deleteArtifact(input: $input) { artifact { id state } }
}
""")

COLLECTION = Operation("CollectionByName", """
query CollectionByName($entity: String!, $project: String!, $collection: String!) {
  project(entityName: $entity, name: $project) {
    artifactCollection(name: $collection) {
      ...CollectionRef
      description
      defaultArtifactType { name }
      tags { edges { node { name } } }
    }
  }
}
""" + _PROJECT_REF + _COLLECTION_REF)

_COLLECTION_RESULT = """
    artifactCollection {
      ...CollectionRef
      description
      defaultArtifactType { name }
      tags { edges { node { name } } }
    }
"""

UPDATE_SEQUENCE = Operation("UpdateArtifactSequence", """
mutation UpdateArtifactSequence($input: UpdateArtifactSequenceInput!) {
  updateArtifactSequence(input: $input) {""" + _COLLECTION_RESULT + """  }
}
""" + _PROJECT_REF + _COLLECTION_REF)

UPDATE_PORTFOLIO = Operation("UpdateArtifactPortfolio", """
mutation UpdateArtifactPortfolio($input: UpdateArtifactPortfolioInput!) {
  updateArtifactPortfolio(input: $input) {""" + _COLLECTION_RESULT + """  }
}
""" + _PROJECT_REF + _COLLECTION_REF)

ADD_COLLECTION_TAGS = Operation("AddCollectionTags", """
mutation AddCollectionTags($input: CreateArtifactCollectionTagAssignmentsInput!) {
  createArtifactCollectionTagAssignments(input: $input) { tags { name } }
}
""")

DELETE_COLLECTION_TAGS = Operation("DeleteCollectionTags", """
mutation DeleteCollectionTags($input: DeleteArtifactCollectionTagAssignmentsInput!) {
  deleteArtifactCollectionTagAssignments(input: $input) { success }
}
""")


# --- logging (the upload sequence W&B's own SDK sends: create, manifest, files, PUTs, manifest, commit) ---

CREATE_ARTIFACT = Operation("CreateArtifact", """
mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) {
    artifact {
      id
      state
      versionIndex
      digest
      artifactSequence { latestArtifact { id } }
    }
  }
}
""")

CREATE_ARTIFACT_MANIFEST = Operation("CreateArtifactManifest", """
mutation CreateArtifactManifest(
  $artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!,
  $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!, $includeUpload: Boolean!
) {
  createArtifactManifest(input: {
    artifactID: $artifactID, baseArtifactID: $baseArtifactID, name: $name, digest: $digest,
    entityName: $entityName, projectName: $projectName, runName: $runName, type: $manifestType
  }) {
    artifactManifest {
      id
      file {
        id
        uploadUrl @include(if: $includeUpload)
        uploadHeaders @include(if: $includeUpload)
      }
    }
  }
}
""")

CREATE_ARTIFACT_FILES = Operation("CreateArtifactFiles", """
mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) {
    files {
      edges {
        node {
          storagePath
          uploadUrl
          uploadHeaders
          uploadMultipartUrls { uploadID uploadUrlParts { partNumber uploadUrl } }
          artifact { id }
        }
      }
    }
  }
}
""")

COMPLETE_MULTIPART_UPLOAD = Operation("CompleteMultipartUploadArtifact", """
mutation CompleteMultipartUploadArtifact(
  $completeMultipartAction: CompleteMultipartAction!, $completedParts: [UploadPartsInput!]!,
  $artifactID: ID!, $storagePath: String!, $uploadID: String!
) {
  completeMultipartUploadArtifact(input: {
    completeMultipartAction: $completeMultipartAction, completedParts: $completedParts,
    artifactID: $artifactID, storagePath: $storagePath, uploadID: $uploadID
  }) { digest }
}
""")

# Whether XXH128 digests may be logged: the entity allows them, and the collection (if it exists)
# is not already an MD5 one. wandb-core asks both before logging with digest_algorithm="XXH128".
XXHASH_DIGESTS_ENABLED = Operation("XXHashDigestsEnabled", """
query XXHashDigestsEnabled($entityName: String!) {
  entity(name: $entityName) { xxhashDigestsEnabled }
}
""")

FETCH_ARTIFACT_DIGEST_ALGORITHM = Operation("FetchArtifactDigestAlgorithm", """
query FetchArtifactDigestAlgorithm(
  $entityName: String!, $projectName: String!, $artifactTypeName: String!, $artifactCollectionName: String!
) {
  project(name: $projectName, entityName: $entityName) {
    artifactType(name: $artifactTypeName) {
      artifactCollection(name: $artifactCollectionName) {
        __typename
        ... on ArtifactSequence { digestAlgorithm }
      }
    }
  }
}
""")

COMMIT_ARTIFACT = Operation("CommitArtifact", """
mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) {
    artifact { id digest state }
  }
}
""")

# --- runs and lineage ---------------------------------------------------------------------

_RUN_FIELDS = """
fragment RunFields on Run {
  id
  name
  displayName
  state
  jobType
  group
  project { name entity { name } }
}
"""

# The input written inline, one variable per field, as the SDK writes it (no SDK document names the
# input type); a variable left out leaves its field unset.
UPSERT_RUN = Operation("UpsertBucket", """
mutation UpsertBucket($name: String, $project: String, $entity: String, $groupName: String,
                      $displayName: String, $config: JSONString, $jobType: String, $state: String) {
  upsertBucket(input: {
    name: $name, modelName: $project, entityName: $entity, groupName: $groupName,
    displayName: $displayName, config: $config, jobType: $jobType, state: $state
  }) {
    bucket { ...RunFields }
    inserted
  }
}
""" + _RUN_FIELDS)

USE_ARTIFACT = Operation("UseArtifact", """
mutation UseArtifact($input: UseArtifactInput!) {
  useArtifact(input: $input) { artifact { id } }
}
""")

# ``usedBy`` unpaged, as the SDK reads it (ArtifactUsedBy).
ARTIFACT_LINEAGE = Operation("ArtifactLineage", """
query ArtifactLineage($id: ID!) {
  artifact(id: $id) {
    id
    createdBy { __typename ... on Run { ...RunFields } }
    usedBy { edges { node { ...RunFields } } }
  }
}
""" + _RUN_FIELDS)


ARTIFACT_PRODUCER = Operation("ArtifactProducer", """
query ArtifactProducer($id: ID!) {
  artifact(id: $id) {
    id
    createdBy { __typename ... on Run { ...RunFields } }
  }
}
""" + _RUN_FIELDS)

# The versions a run used (W&B's ``inputArtifacts``, as the SDK's ``Run.used_artifacts`` reads them).
RUN_INPUTS = Operation("RunInputArtifacts", """
query RunInputArtifacts($entity: String!, $project: String!, $run: String!, $cursor: String, $perPage: Int) {
  project(entityName: $entity, name: $project) {
    run(name: $run) {
      inputArtifacts(after: $cursor, first: $perPage) {
        pageInfo { hasNextPage endCursor }
        edges {
          node {
            ...VersionFields
            aliases { alias artifactCollection { ...CollectionRef } }
          }
        }
      }
    }
  }
}
""" + _FRAGMENTS)


# The run's final metrics and configuration, for gate terms such as ``run.summary.val_loss``
# (both are ``JSONString`` fields of ``Run``, as the SDK's public API reads them).
ARTIFACT_PRODUCER_VALUES = Operation("ArtifactProducerValues", """
query ArtifactProducerValues($id: ID!) {
  artifact(id: $id) {
    id
    createdBy { __typename ... on Run { ...RunFields summaryMetrics config } }
  }
}
""" + _RUN_FIELDS)


def artifact_with_alias_holders(count: int) -> Operation:
    """Resolve a version and, in the same request, who holds ``count`` aliases of its collection.

    One field alias per alias name (``h0``, ``h1``, ...), so a guarded promotion costs one read.
    """
    slots = "".join(f", $h{i}: String!" for i in range(count))
    holders = "".join(
        f"      h{i}: artifactMembership(aliasName: $h{i}) {{ versionIndex artifact {{ id }} }}\n"
        for i in range(count)
    )
    return Operation("ArtifactWithAliasHolders", f"""
query ArtifactWithAliasHolders($entity: String!, $project: String!, $name: String!, $collection: String!{slots}) {{
  project(entityName: $entity, name: $project) {{
    artifactCollectionMembership(name: $name) {{ ...MembershipFields }}
    artifactCollection(name: $collection) {{
      __typename
{holders}    }}
  }}
}}
""" + _MEMBERSHIP_FRAGMENTS)


ALL_OPERATIONS: tuple[Operation, ...] = (
    SERVER_FEATURES,
    VIEWER,
    ARTIFACT_BY_NAME,
    ARTIFACT_BY_ID,
    COLLECTION_VERSIONS,
    ARTIFACT_CLAIMS,
    MANIFEST_URL,
    FILE_URLS,
    ORGANIZATION_OF_ENTITY,
    ADD_ALIASES,
    DELETE_ALIASES,
    UPDATE_ARTIFACT,
    ARTIFACT_TTL,
    UPDATE_ARTIFACT_TTL,
    LINK_ARTIFACT,
    LINK_ARTIFACT_INDEX,
    UNLINK_ARTIFACT,
    DELETE_ARTIFACT,
    COLLECTION,
    UPDATE_SEQUENCE,
    UPDATE_PORTFOLIO,
    ADD_COLLECTION_TAGS,
    DELETE_COLLECTION_TAGS,
    XXHASH_DIGESTS_ENABLED,
    FETCH_ARTIFACT_DIGEST_ALGORITHM,
    CREATE_ARTIFACT,
    CREATE_ARTIFACT_MANIFEST,
    CREATE_ARTIFACT_FILES,
    COMPLETE_MULTIPART_UPLOAD,
    COMMIT_ARTIFACT,
    UPSERT_RUN,
    USE_ARTIFACT,
    ARTIFACT_LINEAGE,
    ARTIFACT_PRODUCER,
    ARTIFACT_PRODUCER_VALUES,
    RUN_INPUTS,
)


def all_documents() -> tuple[Operation, ...]:
    """Every document the client can send: the constants and the built ones (1-4 alias holders)."""
    return ALL_OPERATIONS + tuple(artifact_with_alias_holders(n) for n in range(1, 5))
