"""A fake IMDSv2 that sends the token PUT's response with IP TTL = HOP_LIMIT, as EC2's
httpPutResponseHopLimit does ("the response to PUT requests has a response hop limit (time to live)",
EC2 User Guide, "How Instance Metadata Service Version 2 works"). Node cannot set IP_TTL on a TCP
socket, hence Python. Only the PUT response carries the limit (set on the accepted socket after the
request is read): setting it on the listening socket would also hold back the SYN-ACK, stricter than EC2.

Usage: python3 fake-imds-ttl.py ADDRESS HOP_LIMIT   (prints "ready" once listening)
Serves: PUT /latest/api/token (needs X-aws-ec2-metadata-token-ttl-seconds; X-Forwarded-For refused),
GET /latest/meta-data/iam/security-credentials/ and .../<role> with a valid token, 401 otherwise."""
import json, secrets, socket, sys, threading

ADDRESS, HOP = sys.argv[1], int(sys.argv[2])
ROLE = "coreos-containers-host"
TOKENS = set()


def handle(conn):
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        line, *lines = data.split(b"\r\n\r\n")[0].decode("latin1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines if ":" in h)}
        method, path, _ = line.split(" ")
        status, body = "404 Not Found", ""
        if method == "PUT" and path == "/latest/api/token":
            if "x-aws-ec2-metadata-token-ttl-seconds" not in headers or "x-forwarded-for" in headers:
                status = "400 Bad Request"
            else:
                conn.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, HOP)
                token = secrets.token_urlsafe(32)
                TOKENS.add(token)
                status, body = "200 OK", token
        elif method == "GET" and headers.get("x-aws-ec2-metadata-token") not in TOKENS:
            status = "401 Unauthorized"
        elif method == "GET" and path == "/latest/meta-data/iam/security-credentials/":
            status, body = "200 OK", ROLE
        elif method == "GET" and path == "/latest/meta-data/iam/security-credentials/" + ROLE:
            creds = {"Code": "Success", "AccessKeyId": "ASIAFAKE", "SecretAccessKey": "fake/secret", "Token": "fake-token"}
            status, body = "200 OK", json.dumps(creds)
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode())
    finally:
        conn.close()


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((ADDRESS, 80))
listener.listen(16)
print("ready", flush=True)
while True:
    c, _ = listener.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
