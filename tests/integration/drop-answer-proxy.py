# drop-answer-proxy.py PORT UPSTREAM-PORT READY-FILE PATH: a plain HTTP relay on 127.0.0.1 (in
# front of radosgw, for s3-lost-answer.sh) that loses one answer: the first request "PUT PATH"
# (PATH as sent, with the bucket, without a query) goes to UPSTREAM-PORT whole, and once the server
# has answered it with a success, the connection is closed without passing that answer on. So the
# client sees its request fail after the server did it. Everything else passes both ways untouched.
# Creates READY-FILE once it listens.
import socket
import sys
import threading

port, upstream, ready, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
trigger = ("PUT " + path + " ").encode()
fired = threading.Event()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
open(ready, "w").close()


def close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def handle(c):
    u = socket.create_connection(("127.0.0.1", upstream))
    armed = threading.Event()  # this connection carries the request whose answer is lost

    def up():  # client to server: arms when the request line is the trigger's
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                if d.startswith(trigger) and not fired.is_set():
                    fired.set()
                    armed.set()
                u.sendall(d)
        except OSError:
            pass
        close(c, u)

    threading.Thread(target=up, daemon=True).start()
    try:
        while True:
            d = u.recv(65536)
            if not d:
                break
            # "100 Continue" passes; the final success of the armed request is dropped.
            if armed.is_set() and d.startswith(b"HTTP/1.1 2"):
                break
            c.sendall(d)
    except OSError:
        pass
    close(c, u)


while True:
    conn, _ = ls.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
