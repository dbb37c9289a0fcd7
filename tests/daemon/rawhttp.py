#!/usr/bin/env python3
"""Raw-socket clients for the hostile-HTTP suite.

  rawhttp.py send HOST PORT HEX         send bytes (hex), print the status line or "closed"
  rawhttp.py big-header HOST PORT N     a request with an N-byte header
  rawhttp.py big-url HOST PORT N        a request for an N-byte path
  rawhttp.py many-headers HOST PORT N   a request with N headers
  rawhttp.py hold HOST PORT SRC N SECS  open N connections from SRC that send half a
                                        request and stall; print how many the server
                                        closed within SECS
  rawhttp.py keepalive HOST PORT SECS  one request, read the answer, then stay idle; print
                                        "closed" if the server closed it within SECS, else "open"
  rawhttp.py stall-read HOST PORT PATH SECS
                                        request PATH, read nothing for SECS, then read all;
                                        print the status line
"""
import socket
import sys
import time


def connect(host, port, src=None, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if src:
        s.bind((src, 0))
    s.settimeout(10)
    s.connect((host, int(port)))
    return s


def status_of(s):
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    return line if line else "closed"


def send(host, port, payload):
    s = connect(host, port)
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(status_of(s))


def hold(host, port, src, n, secs):
    socks = []
    for _ in range(int(n)):
        try:
            s = connect(host, port, src)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")   # never finished
            socks.append(s)
        except OSError:
            pass
    deadline = time.time() + float(secs)
    closed = set()
    while time.time() < deadline and len(closed) < len(socks):
        for i, s in enumerate(socks):
            if i in closed:
                continue
            s.settimeout(0.05)
            try:
                if s.recv(4096) == b"":
                    closed.add(i)
            except socket.timeout:
                pass
            except OSError:
                closed.add(i)
    print(len(closed))


def keepalive(host, port, secs):
    s = connect(host, port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status = status_of(s)
    s.settimeout(float(secs))
    try:
        while s.recv(4096):
            pass
        print("closed" if status.startswith("HTTP/1.1 ") else status)
    except socket.timeout:
        print("open")
    except OSError:
        print("closed")


def stall_read(host, port, path, secs):
    s = connect(host, port, rcvbuf=2048)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    print("sent", flush=True)
    time.sleep(float(secs))
    print(status_of(s))


def main():
    cmd, host, port, *rest = sys.argv[1:]
    if cmd == "send":
        send(host, port, bytes.fromhex(rest[0]))
    elif cmd == "big-header":
        send(host, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * int(rest[0]) + b"\r\n\r\n")
    elif cmd == "big-url":
        send(host, port, b"GET /" + b"a" * int(rest[0]) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    elif cmd == "many-headers":
        hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(int(rest[0])))
        send(host, port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")
    elif cmd == "hold":
        hold(host, port, rest[0], rest[1], rest[2])
    elif cmd == "keepalive":
        keepalive(host, port, rest[0])
    elif cmd == "stall-read":
        stall_read(host, port, rest[0], rest[1])


if __name__ == "__main__":
    main()
