package evidence

import "strings"

// readme is a bundle's README.txt: how to check it without lienthong.
func readme(vkey string) string {
	return strings.ReplaceAll(readmeText, "{{key}}", vkey)
}

const readmeText = `Evidence bundle of the lienthong gateway
========================================

What is here
------------
proof.json     the checkpoint (a signed statement of the evidence log's
               Merkle tree), the key that signed it, and for each entry its
               exact bytes (base64), its index in the log, its audit path
               and the file of its package
entries.jsonl  the same entries, one line of JSON each, to read
RECORD.edxml   the package of the entries of that record, byte for byte
               as sent or received; absent when retention purged it (its
               entries still give its sha256)

The key in proof.json is:
  {{key}}
Compare it with the verifier key the agency published: a bundle checked
against its own key proves nothing about who made it.

With lienthong
--------------
  lienthong evidence verify --bundle DIR [--key VERIFIER_KEY]

By hand, with public algorithms only
------------------------------------
1. The package's own signature (XML-DSig), against the agency's CA:
     xmlsec1 --verify --trusted-pem ca.pem RECORD.edxml

2. The package is the one the entry names:
     sha256sum RECORD.edxml      equals the entry's "sha256"

3. The checkpoint is signed by the key (a signed note, Ed25519,
   https://pkg.go.dev/golang.org/x/mod/sumdb/note): its text is the lines
   up to the blank line, "origin\nsize\nbase64(root)\n"; each signature
   line is "— NAME BASE64"; the base64 decodes to a 4-byte key hash and a
   64-byte Ed25519 signature of the text. The key's last field decodes to
   one byte 0x01 and the 32-byte public key.

4. The entry is in the tree of that root (RFC 9162, section 2.1.3.2):
     leaf = SHA-256(0x00 || entry bytes)
     fn = index, sn = size - 1, r = leaf
     for each hash p of the audit path, in order:
       if sn == 0: fail
       if fn is odd or fn == sn:
         r = SHA-256(0x01 || p || r)
         while fn is even and fn != 0: fn >>= 1; sn >>= 1
       else:
         r = SHA-256(0x01 || r || p)
       fn >>= 1; sn >>= 1
     the entry is proved when sn == 0 and r equals the checkpoint's root.

   In Python 3:
     import base64, hashlib, json
     P = json.load(open("proof.json"))
     root = base64.b64decode(P["checkpoint"].split("\n")[2])
     for e in P["entries"]:
         r = hashlib.sha256(b"\x00" + base64.b64decode(e["entry"])).digest()
         fn, sn = e["index"], P["treeSize"] - 1
         for p in map(base64.b64decode, e["auditPath"]):
             assert sn > 0
             if fn & 1 or fn == sn:
                 r = hashlib.sha256(b"\x01" + p + r).digest()
                 while fn and not fn & 1: fn >>= 1; sn >>= 1
             else:
                 r = hashlib.sha256(b"\x01" + r + p).digest()
             fn >>= 1; sn >>= 1
         print(e["index"], sn == 0 and r == root)
`
