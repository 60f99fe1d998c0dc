"""Signed, expiring URLs for file downloads and uploads, like W&B's presigned storage URLs.

Signed URLs carry no credentials, so clients fetch them without ``Authorization``; an expired or
tampered URL is answered 403, which the SDK treats as "fetch a fresh URL".
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote


class UrlSigner:
    def __init__(self, secret: bytes, ttl_seconds: float = 3600.0) -> None:
        self._secret = secret
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)  # copied per URL: the key is hashed once
        self.ttl_seconds = ttl_seconds

    def signature(self, path: str, expires: int) -> str:
        mac = self._keyed.copy()
        mac.update(f"{path}\n{expires}".encode())
        return mac.hexdigest()[:32]

    def sign(self, path: str) -> str:
        expires = int(time.time() + self.ttl_seconds)
        return f"{path}?exp={expires}&sig={self.signature(path, expires)}"

    def check(self, path: str, expires: str | None, signature: str | None) -> str | None:
        """None when valid, else the reason the URL is refused."""
        if not expires or not signature or not expires.isdigit():
            return "the URL is not signed"
        if not hmac.compare_digest(self.signature(path, int(expires)), signature):
            return "the URL signature does not match"
        if int(expires) < time.time():
            return "the signed URL has expired; ask the API for a fresh one"
        return None


class UrlBuilder:
    """Absolute URLs for one request's base URL."""

    def __init__(self, base_url: str, signer: UrlSigner) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer

    def download(self, md5_hex: str, name: str) -> str:
        return self.base_url + self.signer.sign(f"/storage/blobs/{md5_hex}/{quote(name)}")

    def file_upload(self, artifact_gid: str, md5_hex: str) -> str:
        return self.base_url + self.signer.sign(f"/storage/uploads/{quote(artifact_gid, safe='')}/{md5_hex}")

    def part_upload(self, upload_id: str, part_number: int) -> str:
        return self.base_url + self.signer.sign(f"/storage/parts/{quote(upload_id, safe='')}/{part_number}")

    def manifest_upload(self, artifact_gid: str) -> str:
        return self.base_url + self.signer.sign(f"/storage/manifests/{quote(artifact_gid, safe='')}")

    def run_file_upload(self, run_id: int, name: str) -> str:
        return self.base_url + self.signer.sign(f"/storage/runs/{run_id}/{quote(name)}")
