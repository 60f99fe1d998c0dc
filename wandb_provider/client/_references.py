"""Reference entries (``ref``): which ones may be fetched, and from where.

Anyone who can log a version that a DAG consumes writes its manifest, so references are data from
outside: a ``file://`` reference is read only under a folder the user allowed
(``ClientConfig.allowed_file_reference_roots``), and an ``http(s)`` reference only reaches public
addresses unless the host or network is allowed (``ClientConfig.allowed_reference_hosts``). Every
redirect hop is checked again. ``s3://`` and ``gs://`` references are read through the object store
the caller handed the client (``object_stores``: an Airflow connection's hook), and refused without
one; other schemes are refused.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from ._redact import redact_url
from .errors import (
    ArtifactIntegrityError,
    NotFoundError,
    ReferenceNotAllowedError,
    UnsupportedReferenceError,
)
from .manifest import ManifestEntry
from .object_stores import SCHEMES, ObjectInfo, ObjectLocation, ObjectStores, store_for

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Iterable[str]]


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded(address: IpAddress) -> list[IpAddress]:
    """The address itself and any IPv4 address carried inside an IPv6 one (mapped, 6to4, Teredo)."""
    found: list[IpAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None):
            if inner is not None:
                found.append(inner)
        if address.scope_id:
            found.append(ipaddress.IPv6Address(str(address).split("%", 1)[0]))
    return found


def is_public(address: IpAddress) -> bool:
    """False for loopback, link-local, private, unspecified, multicast, reserved and other non-global
    addresses, including IPv4 ones hidden inside an IPv6 address."""
    for candidate in _embedded(address):
        if (candidate.is_loopback or candidate.is_link_local or candidate.is_private or candidate.is_unspecified
                or candidate.is_multicast or candidate.is_reserved or not candidate.is_global):
            return False
    return True


@dataclass(frozen=True)
class ReferencePolicy:
    """What reference entries may reach. Built from ``ClientConfig``; empty lists allow nothing local."""

    file_roots: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    resolver: Resolver = _resolve
    object_stores: ObjectStores = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def of(cls, file_roots: Iterable[str], hosts: Iterable[str],
           object_stores: ObjectStores | None = None) -> ReferencePolicy:
        return cls(tuple(str(root) for root in file_roots), tuple(str(host) for host in hosts),
                   object_stores=dict(object_stores or {}))

    # --- http(s) --------------------------------------------------------------------------------

    def _allowed_names_and_networks(self) -> tuple[set[str], list[IpNetwork]]:
        names, networks = set(), []
        for item in self.hosts:
            text = item.strip().strip("[]").lower()
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                names.add(text.rstrip("."))
        return names, networks

    def check_http(self, entry: ManifestEntry, url: str) -> str | None:
        """Refuse ``url`` unless it is http(s) to public addresses only, or to an allowed host.

        Returns the checked address the request must connect to (the host is resolved once, here:
        a second DNS answer could point elsewhere), or None for a host allowed by name."""
        from urllib3.exceptions import LocationParseError
        from urllib3.util import parse_url  # the parser that will make the request

        try:
            parsed = parse_url(url)
        except LocationParseError:
            raise self._refused(entry, url, "it is not a valid URL") from None
        scheme = (parsed.scheme or "").lower()
        if scheme not in ("http", "https"):
            raise self._refused(entry, url, f"a redirect leads to a {scheme or 'schemeless'} URL")
        host = (parsed.host or "").strip("[]").lower().rstrip(".")
        if not host:
            raise self._refused(entry, url, "it names no host")
        names, networks = self._allowed_names_and_networks()
        if host in names:
            return None
        try:
            literal: IpAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            literal = None
        addresses: list[IpAddress] = [literal] if literal is not None else []
        try:
            resolved = self.resolver(host, parsed.port or (443 if scheme == "https" else 80))
        except (OSError, UnicodeError) as exc:
            if literal is None:
                raise NotFoundError(
                    f"reference {entry.path!r} points at {redact_url(url)}, whose host cannot be resolved ({exc}).",
                    hint="Check the worker's DNS, or exclude the entry with exclude=[...].", transient=True,
                ) from None
            resolved = []
        for text in resolved:
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                raise self._refused(entry, url, f"its host resolves to {text!r}, not an IP address") from None
        if not addresses:
            raise self._refused(entry, url, "its host resolves to no address")
        for address in addresses:
            if is_public(address) or str(address) in names:
                continue
            if any(candidate in network for candidate in _embedded(address) for network in networks
                   if candidate.version == network.version):
                continue
            raise self._refused(
                entry, url, f"its host {host!r} resolves to {address}, a loopback, private, link-local or "
                            "otherwise non-public address", setting="allowed_reference_hosts",
            )
        return str(addresses[0])

    def _refused(self, entry: ManifestEntry, url: str, why: str,
                 setting: str = "allowed_reference_hosts") -> ReferenceNotAllowedError:
        return ReferenceNotAllowedError(
            f"refusing reference entry {entry.path!r} ({redact_url(url)}): {why}.",
            hint=f"If this artifact is trusted, add the host, address or network to the client setting "
                 f"{setting} (the connection's extra of the same name); or exclude the entry with exclude=[...].",
        )

    def precheck(self, entries: Iterable[ManifestEntry]) -> None:
        """Refuse any reference the policy forbids before a download starts (each host resolved once)."""
        hosts_seen: set[str] = set()
        for entry in entries:
            if entry.ref is None:
                continue
            scheme = entry.ref.split("://", 1)[0].lower() if "://" in entry.ref else ""
            if scheme == "file":
                self.check_file_path(entry)
            elif scheme in ("http", "https"):
                origin = entry.ref.split("/", 3)[:3]
                key = "/".join(origin)
                if key not in hosts_seen:
                    self.check_http(entry, entry.ref)
                    hosts_seen.add(key)
            elif scheme in SCHEMES:
                self.object_location(entry)
            else:
                refuse_reference(entry)

    # --- s3:// and gs:// ------------------------------------------------------------------------

    def object_location(self, entry: ManifestEntry) -> ObjectLocation:
        """Where an object reference points (the recorded version included), if a store can read it."""
        assert entry.ref is not None
        what = f"reference entry {entry.path!r} ({redact_url(entry.ref)})"
        try:
            location = ObjectLocation.parse(entry.ref)
        except UnsupportedReferenceError:
            raise
        except Exception as exc:
            raise UnsupportedReferenceError(f"{what}: {exc}",
                                            hint="Skip the entry with exclude=[...].") from None
        store_for(self.object_stores, location.scheme, what)
        if not location.key:
            raise UnsupportedReferenceError(f"{what} names a whole bucket, not an object.",
                                            hint="Skip the entry with exclude=[...].")
        recorded = entry.extra.get("versionID")
        if recorded not in (None, ""):
            if isinstance(recorded, bool) or not isinstance(recorded, (str, int)):
                raise UnsupportedReferenceError(f"{what} records the version {recorded!r}, which is not an id.",
                                                hint="Skip the entry with exclude=[...].")
            location = ObjectLocation(location.scheme, location.bucket, location.key, str(recorded))
        return location

    # --- file:// --------------------------------------------------------------------------------

    def check_file_path(self, entry: ManifestEntry) -> tuple[str, list[str]]:
        """The real path of a ``file://`` reference and the allowed roots, if it lies under one."""
        assert entry.ref is not None
        try:
            parts = urlsplit(entry.ref)
        except ValueError:
            raise self._file_refused(entry, "it is not a valid URL") from None
        if parts.netloc not in ("", "localhost"):
            raise self._file_refused(entry, f"it names the remote host {parts.netloc!r}")
        path = unquote(parts.path)
        if "\x00" in path or not path.startswith("/"):
            raise self._file_refused(entry, "it is not an absolute local path")
        roots = [os.path.realpath(root) for root in self.file_roots if root]
        if not roots:
            raise self._file_refused(entry, "no local folder is allowed for file:// references")
        real = os.path.realpath(path)
        if not _under(real, roots):
            raise self._file_refused(entry, f"{real!r} is not under an allowed folder ({', '.join(roots)})")
        return real, roots

    def open_file(self, entry: ManifestEntry) -> int:
        """Open a ``file://`` reference for reading, if it lies under an allowed folder.

        The real path (symlinks and ``..`` resolved) must be a regular file under one of the
        allowed roots; the opened descriptor is checked again, so a link swapped in meanwhile
        cannot redirect the read.
        """
        real, roots = self.check_file_path(entry)
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
                         | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise NotFoundError(
                f"reference {entry.path!r} points at {entry.ref}, which does not exist on this machine.",
                hint="Mount the same path on the worker, or exclude the entry with exclude=[...].",
            ) from None
        except OSError as exc:
            raise self._file_refused(entry, f"it cannot be opened ({exc.strerror})") from None
        try:
            opened = os.path.realpath(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else real
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise self._file_refused(entry, "it is not a regular file")
            if not _under(opened, roots):
                raise self._file_refused(entry, f"it resolves to {opened!r}, outside the allowed folders")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _file_refused(self, entry: ManifestEntry, why: str) -> ReferenceNotAllowedError:
        return ReferenceNotAllowedError(
            f"refusing file:// reference entry {entry.path!r} ({entry.ref}): {why}.",
            hint="If this artifact is trusted, add the folder to the client setting allowed_file_reference_roots "
                 "(the connection's extra of the same name); or exclude the entry with exclude=[...].",
        )


def _under(path: str, roots: list[str]) -> bool:
    return any(os.path.commonpath([path, root]) == root for root in roots)


def next_hop(policy: ReferencePolicy, entry: ManifestEntry, url: str, status: int, location: str | None,
             hops: int) -> str:
    """The checked URL a redirect leads to (bounded)."""
    if not location:
        raise UnsupportedReferenceError(
            f"reference {entry.path!r} ({redact_url(url)}) answered HTTP {status} without a Location.",
            hint="Re-log the reference with its final URL, or exclude the entry with exclude=[...].",
        )
    if hops >= MAX_REDIRECTS:
        raise UnsupportedReferenceError(
            f"reference {entry.path!r} ({redact_url(url)}) redirected more than {MAX_REDIRECTS} times.",
            hint="Re-log the reference with its final URL, or exclude the entry with exclude=[...].",
        )
    try:
        target = urljoin(url, location)
    except ValueError:
        raise UnsupportedReferenceError(
            f"reference {entry.path!r} ({redact_url(url)}) redirected to an invalid URL.",
            hint="Re-log the reference with its final URL, or exclude the entry with exclude=[...].",
        ) from None
    policy.check_http(entry, target)
    return target


def has_content_digest(entry: ManifestEntry) -> bool:
    """Whether the entry's digest is a hash of its bytes (stored files, checksummed file:// refs)."""
    if entry.ref is None:
        return True
    if entry.ref.startswith("file://"):
        return not is_unchecked_file_reference(entry)
    return False  # http(s)/cloud references carry an ETag or the URL, not a content hash


def is_unchecked_file_reference(entry: ManifestEntry) -> bool:
    """A ``file://`` reference logged with ``checksum=False``: its digest is the MD5 of the URL."""
    import hashlib

    from ._hashing import b64

    return entry.ref is not None and entry.digest == b64(hashlib.md5(entry.ref.encode()).digest())


def _strip_quotes(etag: str | None) -> str | None:
    if etag is None:
        return None
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def check_http_reference(entry: ManifestEntry, etag: str | None, size: int) -> None:
    """An http(s) reference matches when its ETag and size match what was recorded."""
    recorded = _strip_quotes(entry.extra.get("etag")) if entry.extra.get("etag") else None
    if recorded is None and entry.digest != entry.ref:
        recorded = entry.digest
    url = redact_url(entry.ref or "")
    if recorded is not None and _strip_quotes(etag) != recorded:
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({url}) has changed since it was logged: ETag "
            f"{_strip_quotes(etag)!r}, recorded {recorded!r}.",
            hint="Log a new version of the artifact for the new content.",
        )
    if entry.size is not None and size != entry.size:
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({url}) has {size} bytes; {entry.size} were recorded.",
            hint="Log a new version of the artifact for the new content.",
        )


def is_unchecked_object_reference(entry: ManifestEntry) -> bool:
    """An ``s3://``/``gs://`` reference logged with ``checksum=False``: its digest is its URI."""
    return entry.ref is not None and entry.digest == entry.ref


def check_object_reference(entry: ManifestEntry, info: ObjectInfo) -> None:
    """An object reference matches when the store's ETag and size are the recorded ones (W&B records
    the ETag as the digest); a ``checksum=False`` reference matches any object at its URI."""
    if is_unchecked_object_reference(entry):
        return
    if info.is_folder:
        raise NotFoundError(f"reference {entry.path!r} ({entry.ref}) is a folder, not an object.",
                            hint="Skip the entry with exclude=[...].")
    recorded = _strip_quotes(entry.digest)
    if _strip_quotes(info.etag) != recorded:
        version = f" (version {info.version_id})" if info.version_id else ""
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({entry.ref}){version} has changed since it was logged: ETag "
            f"{_strip_quotes(info.etag)!r}, recorded {recorded!r}.",
            hint="Log a new version of the artifact for the new content (a versioned bucket keeps the old one: "
                 "log with the version to pin it).",
        )
    if entry.size is not None and info.size != entry.size:
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({entry.ref}) has {info.size} bytes; {entry.size} were recorded.",
            hint="Log a new version of the artifact for the new content.",
        )


def check_file_reference(entry: ManifestEntry, digest: str, size: int) -> None:
    """A checksummed ``file://`` reference must still hold the bytes it was logged with."""
    if not is_unchecked_file_reference(entry) and digest != entry.digest:
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({entry.ref}) has changed since it was logged: MD5 {digest}, "
            f"manifest {entry.digest}.",
            hint="Log a new version of the artifact for the new content.",
        )
    if entry.size is not None and size != entry.size and not is_unchecked_file_reference(entry):
        raise ArtifactIntegrityError(
            f"reference {entry.path!r} ({entry.ref}) has {size} bytes; {entry.size} were recorded.",
            hint="Log a new version of the artifact for the new content.",
        )


def refuse_reference(entry: ManifestEntry) -> None:
    """A scheme this client has no way to read (not file, http(s), s3 or gs)."""
    scheme = (entry.ref or "").split("://", 1)[0].lower() if "://" in (entry.ref or "") else "?"
    raise UnsupportedReferenceError(
        f"reference {entry.path!r} points at {redact_url(entry.ref or '')}: {scheme}:// references are not downloaded "
        "by this provider.",
        hint="Skip such entries with exclude=[...].",
    )
