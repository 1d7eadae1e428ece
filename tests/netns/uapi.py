#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sends one raw request to a WireGuard UAPI socket and prints the raw response.

  uapi.py SOCKET_PATH REQUEST

REQUEST is sent as given (e.g. "get=1\\n\\n" or "set=1\\nbogus=1\\n\\n"); the response is read
until it ends with an empty line (the protocol's terminator) or the server closes, within 5 s.
Exit status 1 when the socket cannot be reached or no complete response came.
"""
import socket
import sys
import time


def main():
    path, request = sys.argv[1], sys.argv[2]
    deadline = time.monotonic() + 5
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        s.sendall(request.encode())
        data = b""
        while not (data == b"\n" or data.endswith(b"\n\n")):
            if time.monotonic() > deadline:
                raise TimeoutError("no complete response within 5 s")
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (OSError, TimeoutError) as e:
        print(f"uapi.py: {path}: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        s.close()
    sys.stdout.write(data.decode(errors="replace"))
    if not data.endswith(b"\n\n"):
        print(f"uapi.py: {path}: incomplete response", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
