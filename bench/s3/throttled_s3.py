#!/usr/bin/env python3
"""A small S3-compatible endpoint that paces every connection, for bench/s3/run.sh.

One S3 connection delivers on the order of 100 MB/s; this server holds each TCP connection to
`--rate` bytes per second (a token bucket per connection, both directions), so one streaming
GET is as slow as it is on AWS and concurrent ranged GETs are as fast as they are there, on
one machine. Not a product part: it speaks only what the scorer asks of S3, path-style —
HeadObject, GetObject (Range, If-Match), PutObject, ListObjectsV2, the multipart upload calls
and DeleteObject — and logs each request as one JSON line (`--log`) so the bench can show what
a run called.

Objects are plain files under `--root`/<bucket>/<key>. A file put there by hand (the bench links
its data file in) has as ETag a digest of its size, mtime and inode rather than of its bytes:
hashing 2 GB would add seconds to the first request of a timed run; the scorer only compares
ETags, and a replaced file gets another. A PutObject gets S3's ETag (the MD5 of its bytes);
upload parts and multipart objects get opaque ones (S3 documents a multipart ETag as opaque),
and parts are joined with copy_file_range: this server shares the bench machine's cores with
the scorer it measures, so it spends as little CPU per byte as it can. Signatures are not
checked.

Standard library only: run it with any Python 3.9+.
"""

import argparse
import email.utils
import hashlib
import io
import json
import os
import shutil
import socket
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
CHUNK = 1024 * 1024


class TokenBucket:
    """Bytes a connection may move: `rate` per second, at most `burst` saved up."""

    def __init__(self, rate, burst):
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = time.monotonic()

    def take(self, n):
        """Blocks until `n` bytes may go, then spends them (a debt is paid by sleeping)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= n
        if self.tokens < 0:
            time.sleep(-self.tokens / self.rate)


class Store:
    """Buckets as folders, ETags cached by file stamp, multipart uploads as part files."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.uploads = os.path.join(self.root, ".uploads")
        os.makedirs(self.uploads, exist_ok=True)
        self.lock = threading.Lock()
        self.etags = {}  # path -> (stamp, etag)

    def path(self, bucket, key):
        if not bucket or bucket.startswith(".") or "/" in bucket:
            return None
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            return None
        return os.path.join(self.root, bucket, *parts)

    @staticmethod
    def stamp(st):
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def etag(self, path, st):
        stamp = self.stamp(st)
        with self.lock:
            known = self.etags.get(path)
            if known and known[0] == stamp:
                return known[1]
        tag = hashlib.md5(repr(stamp).encode()).hexdigest()
        with self.lock:
            self.etags[path] = (stamp, tag)
        return tag

    def remember(self, path, etag):
        st = os.stat(path)
        with self.lock:
            self.etags[path] = (self.stamp(st), etag)


def xml(tag, body):
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag} xmlns="{S3_NS}">{body}</{tag}>'
    ).encode()


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "throttled-s3"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # one bucket per connection: the whole point
        self.bucket_rate = TokenBucket(self.server.rate, self.server.burst)
        self.server.count_connection()

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's name
        pass

    # --- plumbing -------------------------------------------------------------------------

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        path = urllib.parse.unquote(url.path)
        bucket, _, key = path.lstrip("/").partition("/")
        return bucket, key, {k: v[0] for k, v in query.items()}

    def record(self, op, bucket, key, status, sent=0, received=0, **extra):
        entry = {
            "op": op,
            "bucket": bucket,
            "key": key,
            "status": status,
            "sent": sent,
            "received": received,
            "conn": id(self),
        }
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.server.log(entry)

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", uuid.uuid4().hex[:16])
        self.end_headers()
        if body and self.command != "HEAD":
            self.send_paced(body)

    def error(self, status, code, message, resource):
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{esc(message)}</Message><Resource>{esc(resource)}</Resource>"
            "<RequestId>0</RequestId></Error>"
        ).encode()
        self.reply(status, body if self.command != "HEAD" else b"",
                   {"Content-Type": "application/xml", "x-amz-error-code": code})

    def send_paced(self, data):
        view = memoryview(data)
        for at in range(0, len(view), CHUNK):
            piece = view[at : at + CHUNK]
            self.bucket_rate.take(len(piece))
            self.wfile.write(piece)

    def sendfile_paced(self, f, offset, count):
        end = offset + count
        while offset < end:
            n = min(CHUNK, end - offset)
            self.bucket_rate.take(n)
            sent = self.connection.sendfile(f, offset, n)
            if not sent:
                raise ConnectionError("the client closed the connection")
            offset += sent

    def receive_body(self, out, digest=None):
        """Writes the request body to `out` (paced), without the `aws-chunked` framing that
        streaming checksums add; feeds `digest` too when given. Returns the bytes received."""
        length = int(self.headers.get("Content-Length") or 0)
        left = [length]

        def read(n):
            data = self.rfile.read(min(n, left[0]))
            if not data and n:
                raise ConnectionError("the body ended early")
            left[0] -= len(data)
            self.bucket_rate.take(len(data))
            return data

        def readline():
            line = self.rfile.readline(min(4096, left[0]))
            left[0] -= len(line)
            return line

        def copy(n):
            while n:
                data = read(min(CHUNK, n))
                out.write(data)
                if digest:
                    digest.update(data)
                n -= len(data)

        encoding = self.headers.get("Content-Encoding", "")
        sha = self.headers.get("x-amz-content-sha256", "")
        if "aws-chunked" in encoding or sha.startswith("STREAMING-"):
            # <hex size>[;ext]\r\n<data>\r\n ... 0\r\n<trailers>\r\n
            while True:
                size = int(readline().split(b";")[0], 16)
                if size == 0:
                    break
                copy(size)
                readline()
            while left[0] and readline() not in (b"\r\n", b""):
                pass
        else:
            copy(length)
        return length

    # --- S3 operations --------------------------------------------------------------------

    def do_HEAD(self):
        bucket, key, _ = self.route()
        self.get_or_head(bucket, key, head=True)

    def do_GET(self):
        bucket, key, query = self.route()
        if not key and query.get("list-type") == "2":
            return self.list_objects(bucket, query)
        self.get_or_head(bucket, key, head=False)

    def get_or_head(self, bucket, key, head):
        op = "HeadObject" if head else "GetObject"
        store = self.server.store
        path = store.path(bucket, key)
        if_match = self.headers.get("If-Match")
        wanted = self.headers.get("Range")
        try:
            f = open(path, "rb") if path else None
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            f = None
        if f is None:
            self.record(op, bucket, key, 404, if_match=if_match, range=wanted)
            return self.error(404, "NoSuchKey", "The specified key does not exist.", f"/{bucket}/{key}")
        with f:
            st = os.fstat(f.fileno())
            etag = store.etag(path, st)
            if if_match is not None and if_match.strip().strip('"') not in (etag, "*"):
                self.record(op, bucket, key, 412, if_match=if_match, range=wanted)
                return self.error(412, "PreconditionFailed",
                                  "At least one of the pre-conditions you specified did not hold",
                                  f"/{bucket}/{key}")
            size = st.st_size
            start, end, status = 0, size, 200
            headers = {
                "ETag": f'"{etag}"',
                "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
            }
            if wanted and not head:
                first, last = parse_range(wanted, size)
                if first is None:
                    self.record(op, bucket, key, 416, if_match=if_match, range=wanted)
                    return self.error(416, "InvalidRange", "The requested range is not satisfiable",
                                      f"/{bucket}/{key}")
                start, end, status = first, last + 1, 206
                headers["Content-Range"] = f"bytes {first}-{last}/{size}"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(end - start))
            self.end_headers()
            if not head:
                self.wfile.flush()
                self.sendfile_paced(f, start, end - start)
            self.record(op, bucket, key, status, sent=0 if head else end - start,
                        if_match=if_match, range=wanted)

    def list_objects(self, bucket, query):
        store = self.server.store
        prefix = query.get("prefix", "")
        base = os.path.join(store.root, bucket)
        if not os.path.isdir(base) or bucket.startswith("."):
            self.record("ListObjectsV2", bucket, prefix, 404)
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist", f"/{bucket}")
        found = []
        for dirpath, _, files in os.walk(base):
            for name in files:
                full = os.path.join(dirpath, name)
                key = os.path.relpath(full, base).replace(os.sep, "/")
                if key.startswith(prefix) and not name.startswith(".tmp-"):
                    found.append((key, full))
        found.sort()
        contents = []
        for key, full in found[:1000]:
            st = os.stat(full)
            contents.append(
                f"<Contents><Key>{esc(key)}</Key><LastModified>{iso(st.st_mtime)}</LastModified>"
                f"<ETag>&quot;{store.etag(full, st)}&quot;</ETag><Size>{st.st_size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        body = xml(
            "ListBucketResult",
            f"<Name>{esc(bucket)}</Name><Prefix>{esc(prefix)}</Prefix>"
            f"<KeyCount>{len(contents)}</KeyCount><MaxKeys>1000</MaxKeys>"
            f"<IsTruncated>{'true' if len(found) > 1000 else 'false'}</IsTruncated>" + "".join(contents),
        )
        self.record("ListObjectsV2", bucket, prefix, 200, sent=len(body))
        self.reply(200, body, {"Content-Type": "application/xml"})

    def do_PUT(self):
        bucket, key, query = self.route()
        store = self.server.store
        if "uploadId" in query:
            upload = os.path.join(store.uploads, os.path.basename(query["uploadId"]))
            if not os.path.isdir(upload):
                received = self.receive_body(open(os.devnull, "wb"))
                self.record("UploadPart", bucket, key, 404, received=received)
                return self.error(404, "NoSuchUpload", "The specified upload does not exist", key)
            number = int(query["partNumber"])
            with open(os.path.join(upload, f"{number:05d}"), "wb") as f:
                received = self.receive_body(f)
            self.record("UploadPart", bucket, key, 200, received=received, part=number)
            return self.reply(200, b"", {"ETag": f'"{uuid.uuid4().hex}"'})
        path = store.path(bucket, key)
        if path is None:
            received = self.receive_body(open(os.devnull, "wb"))
            self.record("PutObject", bucket, key, 400, received=received)
            return self.error(400, "InvalidArgument", "bad bucket or key", key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = os.path.join(os.path.dirname(path), f".tmp-{uuid.uuid4().hex}")
        digest = hashlib.md5()
        with open(tmp, "wb") as f:
            received = self.receive_body(f, digest)
        os.replace(tmp, path)
        etag = digest.hexdigest()
        store.remember(path, etag)
        self.record("PutObject", bucket, key, 200, received=received)
        self.reply(200, b"", {"ETag": f'"{etag}"'})

    def do_POST(self):
        bucket, key, query = self.route()
        store = self.server.store
        body = io.BytesIO()
        self.receive_body(body)
        body = body.getvalue()
        if "uploads" in query:
            upload_id = uuid.uuid4().hex
            os.makedirs(os.path.join(store.uploads, upload_id))
            self.record("CreateMultipartUpload", bucket, key, 200)
            return self.reply(200, xml(
                "InitiateMultipartUploadResult",
                f"<Bucket>{esc(bucket)}</Bucket><Key>{esc(key)}</Key><UploadId>{upload_id}</UploadId>",
            ), {"Content-Type": "application/xml"})
        if "uploadId" in query:
            upload = os.path.join(store.uploads, os.path.basename(query["uploadId"]))
            path = store.path(bucket, key)
            if not os.path.isdir(upload) or path is None:
                self.record("CompleteMultipartUpload", bucket, key, 404)
                return self.error(404, "NoSuchUpload", "The specified upload does not exist", key)
            numbers = [int(n.split("</PartNumber>")[0]) for n in body.decode().split("<PartNumber>")[1:]]
            files = [os.path.join(upload, f"{n:05d}") for n in numbers]
            etag = f"{uuid.uuid4().hex}-{len(files)}"
            join_parts(path, files)
            shutil.rmtree(upload, ignore_errors=True)
            store.remember(path, etag)
            self.record("CompleteMultipartUpload", bucket, key, 200, parts=len(files))
            return self.reply(200, xml(
                "CompleteMultipartUploadResult",
                f"<Bucket>{esc(bucket)}</Bucket><Key>{esc(key)}</Key><ETag>&quot;{etag}&quot;</ETag>",
            ), {"Content-Type": "application/xml"})
        self.record("POST?", bucket, key, 400)
        self.error(400, "NotImplemented", f"POST {self.path} is not served here", key)

    def do_DELETE(self):
        bucket, key, query = self.route()
        store = self.server.store
        if "uploadId" in query:
            shutil.rmtree(os.path.join(store.uploads, os.path.basename(query["uploadId"])),
                          ignore_errors=True)
            self.record("AbortMultipartUpload", bucket, key, 204)
            return self.reply(204)
        path = store.path(bucket, key)
        if path and os.path.isfile(path):
            os.remove(path)
        self.record("DeleteObject", bucket, key, 204)
        self.reply(204)


def parse_range(header, size):
    """(first, last) of a `bytes=a-b` / `bytes=a-` / `bytes=-n` header, or (None, None)."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None, None
    a, _, b = spec.strip().partition("-")
    if a == "":
        n = int(b)
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else (None, None)
    first = int(a)
    last = min(int(b), size - 1) if b else size - 1
    if first >= size or first > last:
        return None, None
    return first, last


def join_parts(path, parts):
    """Joins part files into `path` through a temp file renamed into place, copying in the
    kernel (copy_file_range) where it can."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".tmp-{uuid.uuid4().hex}")
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                left = os.fstat(f.fileno()).st_size
                while left:
                    try:
                        n = os.copy_file_range(f.fileno(), out.fileno(), left)
                    except (AttributeError, OSError):
                        out.write(f.read(left))
                        n = left
                    if n == 0:
                        raise OSError(f"{part} ended early")
                    left -= n
    os.replace(tmp, path)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, store, rate, burst, log_path):
        super().__init__(address, Handler)
        self.store = store
        self.rate = rate
        self.burst = burst
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1) if log_path else None
        self.connections = 0

    def count_connection(self):
        with self.log_lock:
            self.connections += 1

    def log(self, entry):
        if self.log_file:
            with self.log_lock:
                self.log_file.write(json.dumps(entry) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="folder of buckets")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--rate", type=float, default=100e6, help="bytes per second per connection")
    parser.add_argument("--burst", type=int, default=CHUNK, help="token bucket size, bytes")
    parser.add_argument("--log", help="append one JSON line per request here")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Store(args.root), args.rate, args.burst, args.log)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
