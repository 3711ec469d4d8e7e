"""The git-lfs side of uploads: the batch endpoint hands out signed upload URLs, PUTs land in the blob store.

`huggingface_hub` (with Xet disabled) asks `POST {repo}.git/info/lfs/objects/batch` what to do with
each object, PUTs the bytes to the `upload.href` it gets back, without any Authorization header, like
a presigned S3 URL, then calls `verify.href`. So upload URLs carry an HMAC signature and an expiry
instead; only URLs this server handed out are accepted. An object already stored gets no actions,
which tells the client to skip the upload.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

from .blobs import BlobStore, is_sha256
from .errors import BadRequest, HubError
from .limits import MAX_LFS_OBJECT
from .messages import Request, Response, json_response, objects, typed

UPLOAD_URL_LIFETIME_S = 3600
LFS_JSON = "application/vnd.git-lfs+json"


class LfsEndpoints:
    def __init__(self, blobs: BlobStore, secret: bytes | None = None) -> None:
        self.blobs = blobs
        self._secret = secret or os.urandom(32)

    def _signature(self, oid: str, size: int, expires: int) -> str:
        return hmac.new(self._secret, f"{oid}:{size}:{expires}".encode(), hashlib.sha256).hexdigest()

    def batch(self, request: Request) -> Response:
        """Upload instructions for each `{oid, size}`: none when stored, else a signed PUT URL and a verify URL."""
        payload = request.json()
        if payload.get("operation") != "upload":
            raise BadRequest("Only the 'upload' LFS operation is supported; download files through /resolve/")
        answers = []
        expires = int(time.time()) + UPLOAD_URL_LIFETIME_S
        for item in objects(payload, "objects"):
            oid, size = str(item.get("oid", "")), item.get("size")
            valid = is_sha256(oid) and isinstance(size, int) and not isinstance(size, bool) and size >= 0
            if not valid or size > MAX_LFS_OBJECT:
                message = (f"an LFS object may have at most {MAX_LFS_OBJECT} bytes" if valid
                           else "oid must be a sha256 hex digest, size an integer")
                answers.append({"oid": oid, "size": size if isinstance(size, int) else 0,
                                "error": {"code": 422, "message": message}})
                continue
            entry: dict = {"oid": oid, "size": size, "authenticated": True}
            if not self.blobs.has(oid, size):
                query = f"size={size}&expires={expires}&sig={self._signature(oid, size, expires)}"
                entry["actions"] = {
                    "upload": {"href": f"{request.base_url}/__lfs__/upload/{oid}?{query}"},
                    "verify": {"href": f"{request.base_url}/__lfs__/verify/{oid}"},
                }
            answers.append(entry)
        return json_response({"transfer": "basic", "objects": answers, "hash_algo": "sha256"},
                             headers={"Content-Type": LFS_JSON})

    def upload(self, request: Request, oid: str) -> Response:
        """Store the PUT body as blob `oid` if the URL's signature holds and the bytes hash to `oid`."""
        if not is_sha256(oid):
            raise BadRequest("LFS object ids are sha256 hex digests")
        try:
            size, expires = int(request.param("size") or ""), int(request.param("expires") or "")
        except ValueError:
            raise BadRequest("Malformed LFS upload URL: size and expires must be integers") from None
        expected = self._signature(oid, size, expires)
        if not hmac.compare_digest(expected, request.param("sig") or "") or expires < time.time():
            raise HubError("LFS upload URL is invalid or expired: ask the batch endpoint for a new one", status=403)
        sha256, received, scratch = self.blobs.put_stream(request.iter_body(size))
        if sha256 != oid or received != size:
            self.blobs.discard(scratch)
            raise BadRequest(f"Uploaded content does not match the LFS object: expected sha256 {oid} and {size} "
                             f"bytes, received sha256 {sha256} and {received} bytes")
        self.blobs.adopt(scratch, oid)
        return Response(status=200, headers={"ETag": f'"{oid}"'})

    def verify(self, request: Request, oid: str) -> Response:
        """200 when the object is stored with the announced size, 404 otherwise."""
        if not is_sha256(oid):
            raise BadRequest("LFS object ids are sha256 hex digests")
        size = typed(request.json(), "size", int, -1)
        if not self.blobs.has(oid, size if size >= 0 else None):
            raise HubError(f"LFS object {oid} was not uploaded (or has a different size)", status=404)
        return json_response({"success": True})
