#!/usr/bin/python3
"""Hostile clients for the slow-client part of the hostile-HTTP suite. Every
attack keeps its connections open (reopening those the server closes) for a
fixed time, then prints one line of counts and exits by itself. Loopback
only: the target and every source address must be in 127.0.0.0/8.

  attack.py half-headers HOST PORT SECS N SRC[,SRC...]
      N connections spread over the source addresses, each sends half a
      request header and then nothing
  attack.py no-read HOST PORT SECS N PATH [DEPTH]
      N connections, each asks for PATH (DEPTH requests pipelined at once,
      default 1) and never reads (tiny receive buffer)
  attack.py slow-body HOST PORT SECS N
      N connections, each announces a 1 MB body and sends a byte a second
  attack.py pipeline HOST PORT SECS PATH
      one connection that keeps 64 requests for PATH queued and reads the
      answers as fast as they come

Output: "opened=N closed_by_server=N answers=N max_open=N" (answers: status
lines read, pipelining only).
"""
import ipaddress
import selectors
import socket
import sys
import time

HALF = b"GET /metrics HTTP/1.1\r\nHost: poold\r\nUser-Agent: half"
SLOW_BODY = b"POST /metrics HTTP/1.1\r\nHost: poold\r\nContent-Length: 1000000\r\n\r\n"


def loopback(addr):
    if not ipaddress.ip_address(addr).is_loopback:
        sys.exit("attack.py: %s is not a loopback address" % addr)
    return addr


class Attack:
    def __init__(self, host, port, secs):
        self.target = (loopback(host), int(port))
        self.deadline = time.monotonic() + float(secs)
        self.sel = selectors.DefaultSelector()
        self.opened = self.closed = self.answers = self.max_open = 0

    def open(self, src, first, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((src, 0))
        s.setblocking(False)
        try:
            s.connect(self.target)
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            return None
        self.opened += 1
        self.sel.register(s, selectors.EVENT_WRITE, [src, first, rcvbuf])
        self.max_open = max(self.max_open, len(self.sel.get_map()))
        return s

    def drop(self, s):
        self.sel.unregister(s)
        s.close()

    def report(self):
        print("opened=%d closed_by_server=%d answers=%d max_open=%d"
              % (self.opened, self.closed, self.answers, self.max_open), flush=True)

    def run(self, want, on_tick=None):
        """Keeps `want` connections open: sends each its first bytes once it
        is connected, counts and replaces the ones the server closes."""
        while time.monotonic() < self.deadline:
            while len(self.sel.get_map()) < want:
                src, first, rcvbuf = self.next_spec()
                if self.open(src, first, rcvbuf) is None:
                    break
            for key, ev in self.sel.select(timeout=0.2):
                s, data = key.fileobj, key.data
                if ev & selectors.EVENT_WRITE:
                    try:
                        s.send(data[1])
                        self.sel.modify(s, selectors.EVENT_READ, data)
                    except OSError:
                        self.closed += 1
                        self.drop(s)
                    continue
                if data[2]:          # a client that never reads: only notice the close
                    try:
                        if s.recv(1, socket.MSG_PEEK) == b"":
                            raise ConnectionResetError
                    except BlockingIOError:
                        pass
                    except OSError:
                        self.closed += 1
                        self.drop(s)
                    continue
                try:
                    got = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    got = b""
                if not got:
                    self.closed += 1
                    self.drop(s)
            if on_tick:
                on_tick()
        for key in list(self.sel.get_map().values()):
            self.drop(key.fileobj)
        self.report()


def half_headers(a, n, srcs):
    srcs = [loopback(x) for x in srcs.split(",")]
    i = [0]

    def spec():
        i[0] += 1
        return srcs[i[0] % len(srcs)], HALF, None
    a.next_spec = spec
    a.run(int(n))


def no_read(a, n, path, depth=1):
    req = ("GET %s HTTP/1.1\r\nHost: poold\r\n\r\n" % path).encode() * int(depth)
    a.next_spec = lambda: ("127.0.0.1", req, 1024)
    a.run(int(n))


def slow_body(a, n):
    a.next_spec = lambda: ("127.0.0.1", SLOW_BODY, None)
    last = [time.monotonic()]

    def trickle():
        if time.monotonic() - last[0] < 1:
            return
        last[0] = time.monotonic()
        for key in list(a.sel.get_map().values()):
            if key.events & selectors.EVENT_READ:
                try:
                    key.fileobj.send(b"x")
                except BlockingIOError:
                    pass
                except OSError:
                    a.closed += 1
                    a.drop(key.fileobj)
    a.run(int(n), trickle)


def pipeline(a, path):
    req = ("GET %s HTTP/1.1\r\nHost: poold\r\n\r\n" % path).encode()
    while time.monotonic() < a.deadline:
        s = socket.create_connection(a.target, timeout=2)
        a.opened += 1
        queued, buf = 0, b""
        try:
            while time.monotonic() < a.deadline:
                if queued < 64:
                    s.sendall(req * (64 - queued))
                    queued = 64
                got = s.recv(65536)
                if not got:
                    a.closed += 1
                    break
                buf += got
                n = buf.count(b"HTTP/1.1 ")
                a.answers += n
                queued -= n
                buf = buf[buf.rfind(b"HTTP/1.1 ") + 9:] if n else buf[-16:]
        except OSError:
            a.closed += 1
        s.close()
    a.max_open = 1
    a.report()


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    cmd, host, port, secs, *rest = sys.argv[1:]
    a = Attack(host, port, secs)
    if cmd == "half-headers":
        half_headers(a, *rest)
    elif cmd == "no-read":
        no_read(a, *rest)
    elif cmd == "slow-body":
        slow_body(a, *rest)
    elif cmd == "pipeline":
        pipeline(a, *rest)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
