#!/usr/bin/env python3
"""A TCP server that writes each line it receives, with its arrival time.

usage: sink.py HOST PORT OUT

Accepts any number of connections; each complete line becomes
"<time.time()> <line>" in OUT (flushed per line). A line cut by a
connection's end is written with the prefix "partial".
"""
import socket
import sys
import threading
import time


def serve(conn, out, lock):
    rest = b""
    with conn:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            rest += data
            now = time.time()
            *lines, rest = rest.split(b"\n")
            with lock:
                for line in lines:
                    out.write("%.6f %s\n" % (now, line.decode(errors="replace")))
                out.flush()
    if rest:
        with lock:
            out.write("partial %s\n" % rest.decode(errors="replace"))
            out.flush()


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)
    lock = threading.Lock()
    with open(path, "a") as out:
        print("listening", flush=True)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn, out, lock), daemon=True).start()


if __name__ == "__main__":
    main()
