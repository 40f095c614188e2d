# The ceiling of the `ftp` benchmark's STOR figures: a minimal FTP server that reads each upload into
# one reused buffer and throws it away (no file, no checks, nothing else). Not product code — it
# shows how fast curl can send at all on this machine, so the STOR ratios can be read against it.
# Usage: python3 _sink-ftp.py  (prints the control port, then serves until killed)
import socket
import threading

BLOCK = 512 * 1024


def session(ctl):
    f = ctl.makefile('rb')
    send = lambda line: ctl.sendall(line.encode() + b'\r\n')
    send('220 sink')
    listener = None
    while True:
        line = f.readline()
        if not line:
            break
        cmd = line.decode('latin-1').strip().split(' ', 1)[0].upper()
        if cmd == 'USER':
            send('331 any password')
        elif cmd == 'PASS':
            send('230 in')
        elif cmd == 'PWD':
            send('257 "/"')
        elif cmd == 'EPSV':
            listener = socket.socket()
            listener.bind(('127.0.0.1', 0))
            listener.listen(1)
            send('229 passive (|||%d|)' % listener.getsockname()[1])
        elif cmd == 'STOR' and listener:
            send('150 go')
            data, _ = listener.accept()
            listener.close()
            listener = None
            buf = memoryview(bytearray(BLOCK))
            while data.recv_into(buf):
                pass
            data.close()
            send('226 done')
        elif cmd == 'QUIT':
            send('221 bye')
            break
        else:
            send('200 ok')
    ctl.close()


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 0))
server.listen(16)
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    threading.Thread(target=session, args=(conn,), daemon=True).start()
