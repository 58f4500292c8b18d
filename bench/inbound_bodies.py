"""Signed bodies for bench/inbound.lua: `python3 bench/inbound_bodies.py
SECRET N` writes N lines "<signature> <body>", each body with its own sender
id, signed with HMAC-SHA256 (hex) like a sender would."""
import hashlib
import hmac
import sys

secret, n = sys.argv[1].encode(), int(sys.argv[2])
out = []
for i in range(n):
    body = ('{"id":"evt-%d","type":"order.paid","data":{"order":"o-%d","total":%d.5,'
            '"currency":"EUR"}}' % (i, i, i % 1000))
    sig = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    out.append("%s %s\n" % (sig, body))
sys.stdout.write("".join(out))
