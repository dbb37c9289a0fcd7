#!/usr/bin/env python3
"""A stand-in for systemd's notify socket: prints every sd_notify datagram
as one line, "<CLOCK_MONOTONIC µs> FIELD=value|FIELD=value", flushed at once.
When a message has READY=1 and a STATUS naming the address ("Serving
127.0.0.1:PORT ..."), it at once requests /healthz there and prints
"CHECK <status>", which shows whether poold was really serving when it said
it was ready.

  notify_listener.py SOCKET_PATH
"""
import re
import socket
import sys
import time
import urllib.request

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("LISTENING", flush=True)
while True:
    data = s.recv(65536).decode("utf-8", "replace")
    now = int(time.monotonic() * 1e6)
    print("%d %s" % (now, data.replace("\n", "|")), flush=True)
    m = re.search(r"STATUS=Serving (\S+);", data)
    if "READY=1" in data and m:
        try:
            code = urllib.request.urlopen("http://%s/healthz" % m.group(1), timeout=5).status
        except Exception as e:   # noqa: BLE001 - any failure is the answer
            code = "failed: %s" % e
        print("CHECK %s" % code, flush=True)
