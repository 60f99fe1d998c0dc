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
    artifactCollectionMembership(name: $name) {
      versionIndex
      aliases { alias }
      artifactCollection { ...CollectionRef }
      artifact { ...VersionFields }
    }
  }
}
""" + _FRAGMENTS)

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

ALL_OPERATIONS: tuple[Operation, ...] = (
    VIEWER,
    ARTIFACT_BY_NAME,
    ARTIFACT_BY_ID,
    COLLECTION_VERSIONS,
    MANIFEST_URL,
    FILE_URLS,
    ORGANIZATION_OF_ENTITY,
)
