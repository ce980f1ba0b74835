# tls-proxy.py CERT KEY PORT UPSTREAM-PORT READY-FILE: a TLS front for a plain HTTP server on
# 127.0.0.1 (radosgw on loopback, for the S3 store's TLS test, s3-store.sh): accepts TLS on PORT
# with CERT and KEY and passes the bytes both ways to UPSTREAM-PORT. Creates READY-FILE once it
# listens.
import socket
import ssl
import sys
import threading

cert, key, port, upstream, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
open(ready, "w").close()


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def handle(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (OSError, ssl.SSLError):
        c.close()
        return
    u = socket.create_connection(("127.0.0.1", upstream))
    threading.Thread(target=pipe, args=(t, u), daemon=True).start()
    pipe(u, t)


while True:
    conn, _ = ls.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
