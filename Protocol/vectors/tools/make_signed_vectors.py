#!/usr/bin/env python3
"""Generate (and verify) the signed-operation-chain test vectors of InspectorSync.

This is an independent implementation of the "signed operation chain" format, written from its
specification and NOT from the reference (Swift) code, so that the two can check each other. It
needs Python 3 and the `cryptography` package only.

    python3 make_signed_vectors.py            # write every file below, then verify them all
    python3 make_signed_vectors.py --verify   # only re-read and verify the files on disk

Files written (paths relative to Protocol/vectors/):

    chain/ops.txt     six ops of dev-a: canonical bytes, digests o(s), chain values h(s)
    chain/heads.txt   signed heads (segments) with the ops they are checked against, and the
                      expected outcome (ok / bad_signature)
    bundle-*.bundle   the bundle vectors, version 2 (one `head` line per author of the ops)

ECDSA signatures are made deterministically (RFC 6979, `deterministic_signing=True`), so running
this script twice writes the same bytes. A verifier must not rely on that: any valid signature of
the same message is equally right, and the reference signs with random nonces.

The format in brief (the normative text is the specification the vectors were written from):

  canonical bytes of an op: d, s, t, c, k, u, i, f, n, fk, v where every string part is 0x00
      when absent, else 0x01 ‖ UTF-8 length (4 bytes, big-endian) ‖ UTF-8 bytes; s and t are
      8-byte big-endian two's complement; c is 2-byte big-endian.
  digest:   o(s) = SHA-256(canonical bytes of op s)
  chain:    h(0) = 32 zero bytes; h(s) = SHA-256(h(s-1) ‖ o(s))
  head:     ECDSA P-256 / SHA-256 over "InspectorSync chain head v1\\n" ‖ len(d) (4, BE) ‖ d ‖
            s (8, BE) ‖ h(s); the signature is r ‖ s, 64 raw bytes (not DER)
  segment:  {"d","from","p","s","h","key","sig","gaps"[,"enroll"]}: covers sequence numbers
            from..s; p = h(from-1); key = DER SubjectPublicKeyInfo; every covered number travels
            as an op or is listed in gaps as {"s":K,"o":o(K)}
  enroll:   HMAC-SHA-256, key = SHA-256(secret), over "InspectorSync enrollment v1\\n" ‖
            len(d) (4, BE) ‖ d ‖ DER SPKI
  base64url everywhere on the wire, unpadded (RFC 4648 section 5)
"""

import base64
import datetime
import decimal
import hashlib
import hmac
import json
import os
import re
import struct
import sys
import unicodedata

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.dirname(HERE)                       # Protocol/vectors
KEYS = os.path.join(VECTORS, "keys")
CHAIN_DIR = os.path.join(VECTORS, "chain")
REPO = os.path.dirname(os.path.dirname(VECTORS))      # the package root
PLAN_FILE = os.path.join(REPO, "Sources", "InspectorPlans", "Resources", "kh-1181-2024.json")

PLAN_ID = "kh-1181-2024"
HEAD_PREFIX = b"InspectorSync chain head v1\n"
ENROLL_PREFIX = b"InspectorSync enrollment v1\n"
GENESIS = bytes(32)                                   # h(0)

# The enrollment secret of dev-a in keys/enrollment.txt (its enrollment code names dev-a).
ENROLLMENT_SECRET_DEV_A = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"


# --------------------------------------------------------------------------------------------
# JSON, written as the reference writes it (PROTOCOL.md 3.4): no white space, non-ASCII as raw
# UTF-8, only `"` `\` and the characters below U+0020 escaped (\n \r \t, the others as \u00xx),
# plus U+007F, U+2028 and U+2029. `/` is NOT escaped: the existing vectors write "dev-a/3".
# --------------------------------------------------------------------------------------------

OP_KEYS = ("d", "s", "t", "c", "k", "u", "i", "f", "n", "fk", "v")


def json_string(text):
    out = ['"']
    for ch in text:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif cp < 0x20 or cp in (0x7F, 0x2028, 0x2029):
            out.append("\\u%04x" % cp)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_value(value):
    """Serialize str, int, list and dict (in the dict's own key order)."""
    if isinstance(value, bool) or value is None:
        raise TypeError("the vectors hold no booleans or nulls")
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(json_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json_string(k) + ":" + json_value(v) for k, v in value.items()) + "}"
    raise TypeError(type(value))


def op_json(op):
    """An op object with its keys in the order of PROTOCOL.md 6.1, absent ones omitted."""
    unknown = set(op) - set(OP_KEYS)
    if unknown:
        raise ValueError("unknown op keys %r" % unknown)
    return "{" + ",".join(json_string(k) + ":" + json_value(op[k]) for k in OP_KEYS if op.get(k) is not None) + "}"


def make_op(d, s, t, c, k, u, v, i=None, f=None, n=None, fk=None):
    op = {"d": d, "s": s, "t": t, "c": c, "k": k, "u": u, "i": i, "f": f, "n": n, "fk": fk, "v": v}
    return {key: op[key] for key in OP_KEYS if op[key] is not None}


# --------------------------------------------------------------------------------------------
# Base64url, canonical bytes, digests, chains
# --------------------------------------------------------------------------------------------

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text):
    """Strict unpadded base64url: refuses `=`, `+`, `/`, white space, and non-canonical tails."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url: %r" % (text,))
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64(data) != text:
        raise ValueError("non-canonical base64url: %r" % (text,))
    return data


def string_part(value):
    if value is None:
        return b"\x00"
    raw = value.encode("utf-8")          # exactly as received: no normalization
    return b"\x01" + struct.pack(">I", len(raw)) + raw


def canonical_bytes(op):
    return b"".join([
        string_part(op.get("d")),
        struct.pack(">q", op["s"]),
        struct.pack(">q", op["t"]),
        struct.pack(">H", op["c"]),
        string_part(op.get("k")),
        string_part(op.get("u")),
        string_part(op.get("i")),
        string_part(op.get("f")),
        string_part(op.get("n")),
        string_part(op.get("fk")),
        string_part(op.get("v")),
    ])


def op_digest(op):
    return hashlib.sha256(canonical_bytes(op)).digest()


def chain_step(previous, digest):
    assert len(previous) == 32 and len(digest) == 32
    return hashlib.sha256(previous + digest).digest()


def head_message(device, seq, chain_value):
    raw = device.encode("utf-8")
    return HEAD_PREFIX + struct.pack(">I", len(raw)) + raw + struct.pack(">q", seq) + chain_value


def enrollment_proof(secret, device, spki_der):
    raw = device.encode("utf-8")
    key = hashlib.sha256(secret.encode("utf-8")).digest()
    return hmac.new(key, ENROLL_PREFIX + struct.pack(">I", len(raw)) + raw + spki_der, hashlib.sha256).digest()


# --------------------------------------------------------------------------------------------
# Keys and signatures
# --------------------------------------------------------------------------------------------

def load_key(name):
    with open(os.path.join(KEYS, name), "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    assert isinstance(key.curve, ec.SECP256R1)
    return key


def spki(key):
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(spki_der):
    return "sha256:" + b64(hashlib.sha256(spki_der).digest())


def sign_raw(private_key, message):
    der = private_key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(spki_der, message, signature):
    if len(signature) != 64:
        return False
    public = serialization.load_der_public_key(spki_der)
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        return False
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public.verify(der, message, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def check_fingerprints(keys):
    """The PEMs must give the SPKIs and fingerprints listed in keys/fingerprints.txt."""
    listed = {}
    with open(os.path.join(KEYS, "fingerprints.txt"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            name, der_hex, print_ = line.split()
            listed[name] = (der_hex, print_)
    for name, key in keys.items():
        der = spki(key)
        assert listed[name] == (der.hex(), fingerprint(der)), "fingerprint mismatch for " + name


# --------------------------------------------------------------------------------------------
# A device's log and its segments
# --------------------------------------------------------------------------------------------

class DeviceLog:
    """All ops of one device, s = 1, 2, 3, ... (ops[s-1] is op s)."""

    def __init__(self, device, ops):
        self.device = device
        self.ops = ops
        for index, op in enumerate(ops):
            assert op["d"] == device and op["s"] == index + 1, op

    def op(self, seq):
        return self.ops[seq - 1]

    def digest(self, seq):
        return op_digest(self.op(seq))

    def chain(self, seq):
        value = GENESIS
        for k in range(1, seq + 1):
            value = chain_step(value, self.digest(k))
        return value

    def segment(self, first, last, signer, gaps=(), key_der=None, enroll_secret=None):
        """The head of ops first..last, signed by `signer`; `gaps` are the numbers that travel
        as digests only. `key_der` overrides the SPKI written (to forge a segment)."""
        head = self.chain(last)
        segment = {
            "d": self.device,
            "from": first,
            "p": b64(self.chain(first - 1)),
            "s": last,
            "h": b64(head),
            "key": b64(key_der if key_der is not None else spki(signer)),
            "sig": b64(sign_raw(signer, head_message(self.device, last, head))),
            "gaps": [{"s": k, "o": b64(self.digest(k))} for k in sorted(gaps)],
        }
        if enroll_secret is not None:
            segment["enroll"] = b64(enrollment_proof(enroll_secret, self.device, spki(signer)))
        return segment


def segment_json(segment):
    order = ("d", "from", "p", "s", "h", "key", "sig", "gaps", "enroll")
    assert set(segment) <= set(order)
    ordered = {k: segment[k] for k in order if k in segment}
    ordered["gaps"] = [{"s": g["s"], "o": g["o"]} for g in ordered["gaps"]]
    return json_value(ordered)


def check_segment(segment, ops, key_der):
    """Check a segment against the ops that travel with it, with the signer's key `key_der`.
    Returns None when it holds, else the reason (a verifier reports `bad_signature`)."""
    device, first, last = segment["d"], segment["from"], segment["s"]
    if not (isinstance(first, int) and isinstance(last, int) and 1 <= first <= last):
        return "bad range"
    by_seq = {}
    for op in ops:
        if op["d"] != device:
            return "op %s#%d is not %s's" % (op["d"], op["s"], device)
        if not first <= op["s"] <= last:
            return "op %s#%d is outside %d..%d" % (device, op["s"], first, last)
        if op["s"] in by_seq:
            return "op %s#%d twice" % (device, op["s"])
        by_seq[op["s"]] = op
    gaps = {}
    previous_gap = 0
    for gap in segment["gaps"]:
        k = gap["s"]
        if not (isinstance(k, int) and first <= k <= last and k > previous_gap):
            return "gaps not sorted or out of range"
        previous_gap = k
        if k in by_seq:
            return "%s#%d travels both as an op and as a gap" % (device, k)
        gaps[k] = unb64(gap["o"])
        if len(gaps[k]) != 32:
            return "gap digest of %d bytes" % len(gaps[k])
    value = unb64(segment["p"])
    if len(value) != 32:
        return "p of %d bytes" % len(value)
    for k in range(first, last + 1):
        if k in by_seq:
            digest = op_digest(by_seq[k])
        elif k in gaps:
            digest = gaps[k]
        else:
            return "%s#%d is missing" % (device, k)
        value = chain_step(value, digest)
    if unb64(segment["h"]) != value:
        return "the ops do not chain to h"
    if not verify_raw(key_der, head_message(device, last, value), unb64(segment["sig"])):
        return "the signature does not verify"
    return None


# --------------------------------------------------------------------------------------------
# The ops
# --------------------------------------------------------------------------------------------

T0 = 1718845320000           # 2024-06-20 01:02:00 UTC, as in the existing vectors
T_MAX = 253402300799999      # 9999-12-31T23:59:59.999Z, the greatest t (PROTOCOL.md 7.1)

FINDING_TEXT = "Chưa trích lập quỹ thi đua, khen thưởng theo quy định."
RETRACT_REASON = "Đơn vị đã bổ sung quyết định trích lập quỹ."

# The chain of chain/ops.txt: dev-a, s = 1..6.
CHAIN_A = DeviceLog("dev-a", [
    make_op("dev-a", 1, T0, 0, "set", "muong-lay", "done", i="II.4", f="status"),
    make_op("dev-a", 2, T0, 1, "set", "muong-lay", "Đã hoàn thành, có minh chứng kèm theo", i="II.4", f="note"),
    make_op("dev-a", 3, T0 + 1000, 0, "finding_add", "muong-lay", FINDING_TEXT, i="II.5", n="dev-a/3", fk="shortcoming"),
    make_op("dev-a", 4, T0 + 2000, 0, "finding_add", "muong-lay", "Đơn vị có nhiều mô hình thi đua hiệu quả.", n="dev-a/4", fk="good_practice"),
    make_op("dev-a", 5, T0 + 3000, 0, "finding_retract", "muong-lay", RETRACT_REASON, i="II.5", n="dev-a/3"),
    make_op("dev-a", 6, T_MAX, 65535, "set", "muong-lay", "12.5", i="II.5", f="fund_percent"),
])

# The ops of bundle-valid.bundle (the same four ops as the version-1 vectors).
VALID_A = DeviceLog("dev-a", [
    make_op("dev-a", 1, T0, 0, "set", "muong-lay", "done", i="II.4", f="status"),
    make_op("dev-a", 2, T0, 1, "set", "muong-lay", "12.5", i="II.5", f="fund_percent"),
    make_op("dev-a", 3, T0 + 1000, 0, "finding_add", "muong-lay", FINDING_TEXT, i="II.5", n="dev-a/3", fk="shortcoming"),
    make_op("dev-a", 4, T0 + 2000, 0, "finding_retract", "muong-lay", RETRACT_REASON, i="II.5", n="dev-a/3"),
])

# bundle-invalid-value.bundle: op 2 sets a percent above 100.
INVALID_A = DeviceLog("dev-a", [
    VALID_A.op(1),
    make_op("dev-a", 2, T0, 1, "set", "muong-lay", "101", i="II.5", f="fund_percent"),
])

# bundle-bad-op.bundle: op 2 has the unknown kind `delete` (canonical bytes take any kind string).
BAD_OP_A = DeviceLog("dev-a", [
    VALID_A.op(1),
    make_op("dev-a", 2, T0, 1, "delete", "muong-lay", "12.5", i="II.5", f="fund_percent"),
    VALID_A.op(3),
    VALID_A.op(4),
])

# bundle-gaps.bundle: op 3 sets fund_percent and op 4 sets it again, so op 3 is superseded and
# travels only as its digest.
GAPS_A = DeviceLog("dev-a", [
    make_op("dev-a", 1, T0, 0, "set", "muong-lay", "in_progress", i="II.4", f="status"),
    make_op("dev-a", 2, T0, 1, "set", "muong-lay", "Quỹ thi đua, khen thưởng của thị xã", i="II.5", f="fund_source"),
    make_op("dev-a", 3, T0 + 1000, 0, "set", "muong-lay", "12", i="II.5", f="fund_percent"),
    make_op("dev-a", 4, T0 + 2000, 0, "set", "muong-lay", "12.5", i="II.5", f="fund_percent"),
])

# bundle-two-authors.bundle: dev-a's and dev-b's ops, interleaved in the writer's log order.
TWO_A = DeviceLog("dev-a", [
    make_op("dev-a", 1, T0, 0, "set", "muong-lay", "done", i="II.4", f="status"),
    make_op("dev-a", 2, T0 + 1000, 0, "finding_add", "muong-lay", FINDING_TEXT, i="II.5", n="dev-a/2", fk="shortcoming"),
    make_op("dev-a", 3, T0 + 2000, 0, "finding_retract", "muong-lay", RETRACT_REASON, i="II.5", n="dev-a/2"),
])
TWO_B = DeviceLog("dev-b", [
    make_op("dev-b", 1, T0 + 500, 0, "set", "so-y-te", "in_progress", i="II.4", f="status"),
    make_op("dev-b", 2, T0 + 1500, 0, "set", "so-y-te", "8.25", i="II.5", f="fund_percent"),
])
TWO_ORDER = [TWO_A.op(1), TWO_B.op(1), TWO_A.op(2), TWO_B.op(2), TWO_A.op(3)]

# bundle-forged-author.bundle: two ops of dev-b, head signed with device-a's key.
FORGED_B = DeviceLog("dev-b", [
    make_op("dev-b", 1, T0, 0, "set", "so-y-te", "done", i="II.4", f="status"),
    make_op("dev-b", 2, T0, 1, "set", "so-y-te", "40", i="II.5", f="fund_percent"),
])

# bundle-unknown-author.bundle: one op of dev-c, whose key no importer knows.
UNKNOWN_C = DeviceLog("dev-c", [
    make_op("dev-c", 1, T0, 0, "set", "muong-lay", "tot", i="II.4", f="rating"),
])


# --------------------------------------------------------------------------------------------
# Bundles (version 2)
# --------------------------------------------------------------------------------------------

def header_line(version=2, plan=PLAN_ID, device="dev-a", first=0, through=0):
    return "bundle " + json_value({"version": version, "plan": plan, "device": device, "from": first, "through": through})


def seal(lines, count, eol="\n"):
    """Join the lines (header, ops, heads) and append the trailer over their exact bytes."""
    body = "".join(line + eol for line in lines).encode("utf-8")
    trailer = "end " + json_value({"count": count, "sha256": hashlib.sha256(body).hexdigest()}) + eol
    return body + trailer.encode("utf-8")


def bundle(ops, heads, eol="\n", version=2, plan=PLAN_ID, device="dev-a", first=0, through=None):
    """A whole bundle: `ops` in log order, then one head line per author (sorted by id bytes)."""
    heads = sorted(heads, key=lambda seg: seg["d"].encode("utf-8"))
    lines = [header_line(version, plan, device, first, len(ops) if through is None else through)]
    lines += ["op " + op_json(op) for op in ops]
    lines += ["head " + segment_json(seg) for seg in heads]
    return seal(lines, len(ops), eol)


def split_lines(data):
    """The complete lines of a bundle, without their LF (kept as str)."""
    assert data.endswith(b"\n")
    return data.decode("utf-8").split("\n")[:-1]


# Expected outcome of importing each bundle into a fresh replica of the built-in plan that knows
# dev-a's key (device-a.pem) and dev-b's (device-b.pem) and no other. `line` is the line a
# bad_bundle refusal names; `names` is what the message should name.
EXPECTED = {
    "bundle-valid.bundle": {"applied": 4},
    "bundle-empty.bundle": {"applied": 0},
    "bundle-crlf.bundle": {"applied": 1},
    "bundle-cut.bundle": {"code": "bad_bundle", "names": "the 'end' trailer is missing after line 3"},
    "bundle-cut-at-line.bundle": {"code": "bad_bundle", "names": "the 'end' trailer is missing after line 3"},
    "bundle-altered.bundle": {"code": "bad_bundle", "line": 7, "names": "the digest does not match"},
    "bundle-bad-count.bundle": {"code": "bad_bundle", "line": 7, "names": "the trailer counts 3 operations, the bundle holds 4"},
    "bundle-bad-op.bundle": {"code": "bad_bundle", "line": 3, "names": "unknown kind 'delete'"},
    "bundle-wrong-version.bundle": {"code": "bad_bundle", "line": 1, "names": "bundle version 1"},
    "bundle-invalid-value.bundle": {"code": "invalid_value", "names": "fund_percent (op dev-a#2)"},
    "bundle-other-plan.bundle": {"code": "bad_bundle", "names": "plan 'kh-9999-2030'"},
    "bundle-altered-resigned.bundle": {"code": "bad_signature", "names": "dev-a"},
    "bundle-dropped-op.bundle": {"code": "bad_signature", "names": "dev-a#2 missing"},
    "bundle-forged-author.bundle": {"code": "bad_signature", "names": "dev-b"},
    "bundle-no-head.bundle": {"code": "bad_bundle", "names": "no head line for dev-a"},
    "bundle-gaps.bundle": {"applied": 3},
    "bundle-two-authors.bundle": {"applied": 5},
    "bundle-unknown-author.bundle": {"code": "unknown_author", "names": "dev-c"},
}


def make_bundles(key_a, key_b):
    out = {}

    valid_ops = VALID_A.ops
    valid_head = VALID_A.segment(1, 4, key_a)
    valid = bundle(valid_ops, [valid_head])
    out["bundle-valid.bundle"] = valid

    out["bundle-empty.bundle"] = bundle([], [])

    out["bundle-crlf.bundle"] = bundle(valid_ops[:1], [VALID_A.segment(1, 1, key_a)], eol="\r\n")

    # Cut in the middle of line 4 (the op s=3), after the same bytes as the version-1 vector.
    lines = split_lines(valid)
    cut_line = lines[3]
    cut_at = cut_line.index('"t":1718845321000,') + len('"t":1718845321000,')
    out["bundle-cut.bundle"] = ("\n".join(lines[:3]) + "\n" + cut_line[:cut_at]).encode("utf-8")
    out["bundle-cut-at-line.bundle"] = ("\n".join(lines[:3]) + "\n").encode("utf-8")

    # One value changed after writing; trailer and head left as they were.
    altered = valid.replace(b'"f":"fund_percent","v":"12.5"', b'"f":"fund_percent","v":"12.6"')
    assert altered != valid and len(altered) == len(valid)
    out["bundle-altered.bundle"] = altered

    # The trailer counts 3 ops; the digest is right (it does not cover the trailer).
    lines = split_lines(valid)
    assert lines[-1].startswith('end {"count":4,')
    lines[-1] = lines[-1].replace('"count":4,', '"count":3,')
    out["bundle-bad-count.bundle"] = ("\n".join(lines) + "\n").encode("utf-8")

    # Op 2 of unknown kind; the head is signed over the ops as written and the trailer is right,
    # so the kind is the only fault.
    out["bundle-bad-op.bundle"] = bundle(BAD_OP_A.ops, [BAD_OP_A.segment(1, 4, key_a)])

    # A genuine version-1 bundle (no head lines): no longer accepted.
    out["bundle-wrong-version.bundle"] = bundle(valid_ops, [], version=1)

    out["bundle-invalid-value.bundle"] = bundle(INVALID_A.ops, [INVALID_A.segment(1, 2, key_a)])

    out["bundle-other-plan.bundle"] = bundle(valid_ops[:1], [VALID_A.segment(1, 1, key_a)], plan="kh-9999-2030")

    # One value changed and the trailer recomputed (count and digest right), head unchanged.
    lines = split_lines(altered)[:-1]
    out["bundle-altered-resigned.bundle"] = seal(lines, 4)

    # The 2nd op line (s=2) removed, count and trailer recomputed, head unchanged.
    lines = split_lines(valid)[:-1]
    assert lines[2].startswith('op {"d":"dev-a","s":2,')
    del lines[2]
    out["bundle-dropped-op.bundle"] = seal(lines, 3)

    # dev-b's ops, head for dev-b but signed with device-a's key and carrying device-a's SPKI.
    out["bundle-forged-author.bundle"] = bundle(FORGED_B.ops, [FORGED_B.segment(1, 2, key_a)], device="dev-b")

    # A valid op of dev-a and no head line.
    out["bundle-no-head.bundle"] = bundle(valid_ops[:1], [])

    # Ops 1, 2, 4 travel; op 3 only as a gap digest.
    gaps_ops = [GAPS_A.op(1), GAPS_A.op(2), GAPS_A.op(4)]
    out["bundle-gaps.bundle"] = bundle(gaps_ops, [GAPS_A.segment(1, 4, key_a, gaps=[3])], through=4)

    out["bundle-two-authors.bundle"] = bundle(TWO_ORDER, [TWO_A.segment(1, 3, key_a), TWO_B.segment(1, 2, key_b)])

    # dev-c's op, signed with device-b's key: the importer knows no key of dev-c.
    out["bundle-unknown-author.bundle"] = bundle(UNKNOWN_C.ops, [UNKNOWN_C.segment(1, 1, key_b)], device="dev-c")

    assert set(out) == set(EXPECTED)
    return out


# --------------------------------------------------------------------------------------------
# chain/ops.txt and chain/heads.txt
# --------------------------------------------------------------------------------------------

def make_ops_txt():
    lines = [
        "# A chain of six ops of dev-a, s = 1..6 (signed operation chains, README.md \"Chains and signed heads\").",
        "# Generated by tools/make_signed_vectors.py (Python's cryptography package), not by the reference.",
        "#",
        "# One record per op, in order of s, records separated by a blank line:",
        "#   op JSON      the op as the reference writes it (PROTOCOL.md 6.1)",
        "#   bytes HEX    its canonical bytes, lowercase hexadecimal: d, s (8 bytes), t (8), c (2), k, u, i, f,",
        "#                n, fk, v; each string part 00 when absent, else 01, its UTF-8 length (4 bytes,",
        "#                big-endian) and its UTF-8 bytes",
        "#   digest B64   o(s) = SHA-256(canonical bytes), unpadded base64url",
        "#   chain B64    h(s) = SHA-256(h(s-1) || o(s)), unpadded base64url; h(0) is 32 zero bytes",
        "#                (" + b64(GENESIS) + ")",
        "#",
        "# Covered: a set with an ASCII value; a set with a Vietnamese value (raw UTF-8, counted in bytes);",
        "# a finding_add with i; a finding_add without i; a finding_retract of dev-a/3 with its i; a set",
        "# with c = 65535 and t = 253402300799999 (the greatest values, 8 and 2 bytes big-endian).",
        "",
    ]
    for op in CHAIN_A.ops:
        lines += [
            "op " + op_json(op),
            "bytes " + canonical_bytes(op).hex(),
            "digest " + b64(op_digest(op)),
            "chain " + b64(CHAIN_A.chain(op["s"])),
            "",
        ]
    return ("\n".join(lines)).encode("utf-8")


def make_heads_txt(key_a, key_b):
    spki_a = spki(key_a)
    a = CHAIN_A
    records = []

    def record(comments, expect, ops, segment):
        text = ["# " + c if c else "#" for c in comments]
        text.append("expect: " + expect)
        text += ["op " + op_json(op) for op in ops]
        text.append("segment " + segment_json(segment))
        records.append("\n".join(text) + "\n")

    full = a.segment(1, 6, key_a)
    record(["(a) device-a signs s 1..6 from the genesis (p = h(0), 32 zero bytes); all six ops travel.",
            "The signed bytes are \"InspectorSync chain head v1\\n\" || len(d) || d || s || h(6), in hex:",
            head_message("dev-a", 6, a.chain(6)).hex()],
           "ok", a.ops, full)

    record(["(b) the same head; s 3 and 4 travel only as gap digests (o(3), o(4) of chain/ops.txt)."],
           "ok", [a.op(1), a.op(2), a.op(5), a.op(6)], a.segment(1, 6, key_a, gaps=[3, 4]))

    tail = a.segment(4, 6, key_a)
    record(["(c) from 4 to 6: p = h(3) of chain/ops.txt; ops 4..6 travel."],
           "ok", a.ops[3:], tail)

    changed = dict(a.op(5))
    changed["v"] = "Đơn vị đã bổ sung quyết định trích lập quỹ năm 2024."
    record(["(d) the head of (a), but op 5's value was changed after signing."],
           "bad_signature", a.ops[:4] + [changed, a.op(6)], full)

    record(["(e) the head of (a), but op 5 was dropped and is not listed in gaps: dev-a#5 is missing."],
           "bad_signature", a.ops[:4] + [a.op(6)], full)

    record(["(f) signed with device-b's key, but the key field carries device-a's SPKI."],
           "bad_signature", a.ops, a.segment(1, 6, key_b, key_der=spki_a))

    altered_p = dict(tail)
    altered_p["p"] = b64(a.chain(2))
    record(["(g) the head of (c) with p altered (h(2) in place of h(3)): the ops no longer chain to h."],
           "bad_signature", a.ops[3:], altered_p)

    op_b = dict(a.op(1))
    op_b["d"] = "dev-b"
    record(["(h) dev-a's head of s 1..1 (over dev-a's op 1), checked against dev-b's op 1, equal to it",
            "but for d."],
           "bad_signature", [op_b], a.segment(1, 1, key_a))

    record(["(i) the head of (a) carrying an enrollment proof: HMAC-SHA-256 with key SHA-256(\"" + ENROLLMENT_SECRET_DEV_A + "\"),",
            "dev-a's enrollment secret of keys/enrollment.txt, over \"InspectorSync enrollment v1\\n\" || len(d) || d ||",
            "device-a's DER SPKI. The signature does not cover it; a hub that knows the secret checks it."],
           "ok", a.ops, a.segment(1, 6, key_a, enroll_secret=ENROLLMENT_SECRET_DEV_A))

    header = [
        "# Signed heads of dev-a's chain of chain/ops.txt (README.md \"Chains and signed heads\").",
        "# Generated by tools/make_signed_vectors.py (Python's cryptography package), not by the reference.",
        "#",
        "# A record: comment lines, `expect: ok` or `expect: bad_signature`, the ops that travel with the",
        "# segment (`op JSON` lines, zero or more), one `segment JSON` line, then a blank line.",
        "# A verifier checks the segment against those ops with the key of its `key` field: every s of",
        "# from..s travels as an op or is listed in gaps; chaining from p gives h; the signature (r || s,",
        "# 64 bytes, ECDSA P-256 / SHA-256) verifies over the head bytes of (d, s, h).",
        "# Keys: device-a.pem signs, except in (f). Signatures are RFC 6979 deterministic here; any valid",
        "# signature is as good.",
        "",
        "",
    ]
    return ("\n".join(header) + "\n".join(records)).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Verifier: re-reads the files from disk and checks them with their own parser
# --------------------------------------------------------------------------------------------

class Refused(Exception):
    def __init__(self, code, line, message):
        super().__init__("%s%s: %s" % (code, "" if line is None else " at line %d" % line, message))
        self.code, self.line, self.message = code, line, message


FINDING_KINDS = {"shortcoming", "good_practice", "recommendation", "observation"}
INT_RE = re.compile(r"-?(0|[1-9][0-9]*)")
DEC_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
WHITE = set("\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}


def text_ok(v, max_chars=4000):
    if not v or v[0] in WHITE or v[-1] in WHITE or not unicodedata.is_normalized("NFC", v):
        return False
    if any(ord(ch) <= 0x08 or 0x0B <= ord(ch) <= 0x1F or ord(ch) == 0x7F for ch in v):
        return False
    return len(v) <= max_chars and len(v.encode("utf-8")) <= 16384   # (len: scalars, enough here)


def value_ok(field, v):
    kind = field["type"]
    if kind == "enum":
        return v in {value["id"] for value in field["values"]}
    if kind == "text":
        return text_ok(v, field.get("maxLength", 4000))
    if kind == "date":
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v) or v[:4] == "0000":
            return False
        try:
            datetime.date.fromisoformat(v)
            return True
        except ValueError:
            return False
    pattern = INT_RE if kind == "integer" else DEC_RE
    if not pattern.fullmatch(v) or v == "-0" or sum(ch.isdigit() for ch in v) > 30:
        return False
    number = decimal.Decimal(v)
    if kind == "percent" and ("." in v and len(v.split(".")[1]) > 2 or not 0 <= number <= 100):
        return False
    if "min" in field and number < decimal.Decimal(str(field["min"])):
        return False
    if "max" in field and number > decimal.Decimal(str(field["max"])):
        return False
    return True


def read_op(body, line):
    """Parse and shape-check an op (PROTOCOL.md 6.1, 6.3); refuses with bad_bundle at `line`."""
    try:
        op = json.loads(body)
    except ValueError:
        raise Refused("bad_bundle", line, "unreadable op")
    if not isinstance(op, dict):
        raise Refused("bad_bundle", line, "op is not an object")
    op = {k: v for k, v in op.items() if v is not None}
    if set(op) - set(OP_KEYS):
        raise Refused("bad_bundle", line, "unknown op key")
    for k in ("d", "k", "u", "v"):
        if not isinstance(op.get(k), str):
            raise Refused("bad_bundle", line, "missing " + k)
    for k in ("s", "t", "c"):
        if not isinstance(op.get(k), int) or isinstance(op.get(k), bool):
            raise Refused("bad_bundle", line, "missing " + k)
    if op["s"] < 1 or not 0 <= op["t"] <= T_MAX or not 0 <= op["c"] <= 65535:
        raise Refused("bad_bundle", line, "s, t or c out of range")
    kind = op["k"]
    if kind == "set":
        ok = "i" in op and op.get("f") and "n" not in op and "fk" not in op
    elif kind == "finding_add":
        ok = op.get("fk") in FINDING_KINDS and op.get("n") == "%s/%d" % (op["d"], op["s"]) and "f" not in op
    elif kind == "finding_retract":
        ok = op.get("n") and "f" not in op and "fk" not in op
    else:
        raise Refused("bad_bundle", line, "unknown kind '%s'" % kind)
    if not ok or not op["v"] or not unicodedata.is_normalized("NFC", op["v"]):
        raise Refused("bad_bundle", line, "op shape")
    return op


def read_segment(body, line):
    try:
        seg = json.loads(body)
        assert isinstance(seg, dict)
        assert isinstance(seg["d"], str) and isinstance(seg["from"], int) and isinstance(seg["s"], int)
        assert 1 <= seg["from"] <= seg["s"]
        assert len(unb64(seg["p"])) == 32 and len(unb64(seg["h"])) == 32 and len(unb64(seg["sig"])) == 64
        unb64(seg["key"])
        assert isinstance(seg["gaps"], list)
        for gap in seg["gaps"]:
            assert set(gap) == {"s", "o"} and isinstance(gap["s"], int) and len(unb64(gap["o"])) == 32
        if "enroll" in seg:
            assert len(unb64(seg["enroll"])) == 32
    except (AssertionError, KeyError, TypeError, ValueError) as error:
        raise Refused("bad_bundle", line, "unreadable head: %r" % (error,))
    return seg


def import_bundle(data, known_keys, plan):
    """Read and import a bundle into a fresh replica; returns the number of ops applied or
    raises Refused. `known_keys` maps device ids to DER SPKIs."""
    # Reading (PROTOCOL.md 17.2, with version 2's head lines).
    complete = data.split(b"\n")[:-1]
    if not complete:
        raise Refused("bad_bundle", None, "no complete line")
    raw_lines = [l + b"\n" for l in complete]
    texts = [l.decode("utf-8") for l in complete]
    texts = [t[:-1] if t.endswith("\r") else t for t in texts]
    if not texts[0].startswith("bundle "):
        raise Refused("bad_bundle", 1, "not a bundle header")
    header = json.loads(texts[0][len("bundle "):])
    if header.get("version") != 2:
        raise Refused("bad_bundle", 1, "bundle version %r" % header.get("version"))
    if not data.endswith(b"\n") or not texts[-1].startswith("end ") or len(texts) < 2:
        raise Refused("bad_bundle", None, "the 'end' trailer is missing after line %d" % len(complete))
    ops, heads, op_lines = [], [], {}
    for number, text in enumerate(texts[1:-1], start=2):
        if text.startswith("op ") and not heads:
            op = read_op(text[3:], number)
            ops.append(op)
            op_lines[(op["d"], op["s"])] = number
        elif text.startswith("head "):
            heads.append(read_segment(text[5:], number))
        else:
            raise Refused("bad_bundle", number, "not an op or head line where one belongs")
    end_line = len(texts)
    trailer = json.loads(texts[-1][4:])
    if trailer["count"] != len(ops):
        raise Refused("bad_bundle", end_line, "the trailer counts %d operations, the bundle holds %d" % (trailer["count"], len(ops)))
    if hashlib.sha256(b"".join(raw_lines[:-1])).hexdigest() != trailer["sha256"]:
        raise Refused("bad_bundle", end_line, "the digest does not match")
    authors = sorted({op["d"] for op in ops}, key=lambda d: d.encode("utf-8"))
    head_ids = [seg["d"] for seg in heads]
    for author in authors:
        if author not in head_ids:
            raise Refused("bad_bundle", end_line, "no head line for %s" % author)
    if head_ids != authors:
        raise Refused("bad_bundle", end_line, "head lines are not one per author, in order")

    # Importing (PROTOCOL.md 17.3, with the heads).
    if header["plan"] != plan["id"]:
        raise Refused("bad_bundle", None, "plan '%s'" % header["plan"])
    for seg in heads:
        if seg["d"] not in known_keys:
            raise Refused("unknown_author", None, seg["d"])
        if unb64(seg["key"]) != known_keys[seg["d"]]:
            raise Refused("bad_signature", None, "%s: not its key" % seg["d"])
        reason = check_segment(seg, [op for op in ops if op["d"] == seg["d"]], known_keys[seg["d"]])
        if reason:
            raise Refused("bad_signature", None, reason)
    units = {u["id"] for u in plan["units"]}
    items = {it["id"]: it for it in plan["items"]}
    findings = {}
    for op in ops:
        where = "op %s#%d" % (op["d"], op["s"])
        if op["u"] not in units:
            raise Refused("unknown_unit", None, where)
        if "i" in op and op["i"] not in items:
            raise Refused("unknown_item", None, where)
        if op["k"] == "set":
            fields = {f["id"]: f for f in plan["commonFields"] + items[op["i"]].get("fields", [])}
            if op["f"] not in fields:
                raise Refused("unknown_field", None, where)
            if not value_ok(fields[op["f"]], op["v"]):
                raise Refused("invalid_value", None, "%s (%s)" % (op["f"], where))
        elif not text_ok(op["v"]):
            raise Refused("invalid_value", None, where)
        if op["k"] == "finding_add":
            findings[op["n"]] = (op["u"], op.get("i"))
        elif op["k"] == "finding_retract":
            if op["n"] not in findings:
                raise Refused("unknown_finding", None, where)
            unit, item = findings[op["n"]]
            if op["u"] != unit or ("i" in op and op["i"] != item):
                raise Refused("retraction_mismatch", None, where)
    return len(ops)


def verify_all(key_a, key_b):
    """Re-read every generated file and check it; returns the number of failures."""
    failures = 0

    def fail(message):
        nonlocal failures
        failures += 1
        print("FAIL " + message)

    with open(PLAN_FILE, encoding="utf-8") as handle:
        plan = json.load(handle)

    # chain/ops.txt: recompute bytes, digests and the chain from the op lines alone.
    with open(os.path.join(CHAIN_DIR, "ops.txt"), "rb") as handle:
        text = handle.read().decode("utf-8")
    records = [r for r in text.split("\n\n") if r.strip() and not all(l.startswith("#") for l in r.strip().split("\n"))]
    chain = GENESIS
    seen = []
    for record in records:
        lines = [l for l in record.strip().split("\n") if not l.startswith("#")]
        fields = dict(l.split(" ", 1) for l in lines)
        op = read_op(fields["op"], None)
        if op_json(op) != fields["op"]:
            fail("ops.txt: op not written in the reference style: " + fields["op"])
        if canonical_bytes(op).hex() != fields["bytes"]:
            fail("ops.txt: bytes of s=%d" % op["s"])
        if b64(op_digest(op)) != fields["digest"] or unb64(fields["digest"]) != hashlib.sha256(bytes.fromhex(fields["bytes"])).digest():
            fail("ops.txt: digest of s=%d" % op["s"])
        chain = chain_step(chain, unb64(fields["digest"]))
        if b64(chain) != fields["chain"]:
            fail("ops.txt: chain of s=%d" % op["s"])
        seen.append(op["s"])
    if seen != [1, 2, 3, 4, 5, 6]:
        fail("ops.txt: records are not s 1..6: %r" % seen)
    print("chain/ops.txt: %d ops, bytes, digests and chain values recomputed" % len(seen))

    # chain/heads.txt: check every segment against its ops with the key it carries.
    with open(os.path.join(CHAIN_DIR, "heads.txt"), "rb") as handle:
        text = handle.read().decode("utf-8")
    cases = 0
    for record in text.split("\n\n"):
        lines = [l for l in record.strip().split("\n") if l and not l.startswith("#")]
        if not lines:
            continue
        cases += 1
        assert lines[0].startswith("expect: ") and lines[-1].startswith("segment ")
        expect = lines[0][len("expect: "):]
        ops = [read_op(l[3:], None) for l in lines[1:-1]]
        assert all(l.startswith("op ") for l in lines[1:-1])
        seg = read_segment(lines[-1][len("segment "):], None)
        if segment_json(seg) != lines[-1][len("segment "):]:
            fail("heads.txt: segment not in key order")
        reason = check_segment(seg, ops, unb64(seg["key"]))
        got = "ok" if reason is None else "bad_signature"
        if "enroll" in seg and unb64(seg["enroll"]) != enrollment_proof(ENROLLMENT_SECRET_DEV_A, seg["d"], unb64(seg["key"])):
            got = "bad_enrollment"
        status = "ok  " if got == expect else "FAIL"
        if got != expect:
            failures += 1
        print("chain/heads.txt %s case %d: expect %s, got %s%s" % (status, cases, expect, got, "" if reason is None else " (" + reason + ")"))

    # Bundles: import each into a replica knowing dev-a's and dev-b's keys.
    known = {"dev-a": spki(key_a), "dev-b": spki(key_b)}
    for name in sorted(EXPECTED):
        with open(os.path.join(VECTORS, name), "rb") as handle:
            data = handle.read()
        expected = EXPECTED[name]
        try:
            applied = import_bundle(data, known, plan)
            got = "applied %d" % applied
            ok = expected.get("applied") == applied
        except Refused as refusal:
            got = str(refusal)
            ok = refusal.code == expected.get("code") and ("line" not in expected or expected["line"] == refusal.line)
        want = ("applied %d" % expected["applied"]) if "applied" in expected else "%s%s (%s)" % (
            expected["code"], " at line %d" % expected["line"] if "line" in expected else "", expected["names"])
        print("%s %-32s expect %-60s got %s" % ("ok  " if ok else "FAIL", name, want, got))
        if not ok:
            failures += 1

    # Every head line of every bundle is a genuine signature of its own (d, s, h) by the key it
    # carries: a refused bundle is refused for the one fault it was made with, not for a broken
    # signature. (Informative: how many signatures have s above n/2; both halves are valid.)
    high_s = 0
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    for name in sorted(EXPECTED):
        with open(os.path.join(VECTORS, name), "rb") as handle:
            for line in handle.read().decode("utf-8").split("\n"):
                if line.startswith("head "):
                    seg = json.loads(line[5:].rstrip("\r"))
                    sig = unb64(seg["sig"])
                    high_s += int.from_bytes(sig[32:], "big") > order // 2
                    if not verify_raw(unb64(seg["key"]), head_message(seg["d"], seg["s"], unb64(seg["h"])), sig):
                        fail("%s: the head of %s is not signed by the key it carries" % (name, seg["d"]))
    print("bundles: every head line signs its own (d, s, h) with the key it carries (%d with high s)" % high_s)

    # bundle-valid.bundle's op lines are byte for byte the version-1 vector's.
    with open(os.path.join(VECTORS, "bundle-valid.bundle"), "rb") as handle:
        valid = handle.read()
    with open(os.path.join(VECTORS, "bundle-wrong-version.bundle"), "rb") as handle:
        v1 = handle.read()
    if [l for l in valid.split(b"\n") if l.startswith(b"op ")] != [l for l in v1.split(b"\n") if l.startswith(b"op ")]:
        fail("bundle-valid and the version-1 bundle hold different op lines")
    if hashlib.sha256(v1[: v1.rindex(b"end ")]).hexdigest() != "d6a30a3d0eae3da613dc1049faadea5b37046229590befdfe6bf64a39ad0600b":
        fail("the version-1 bundle is not the former bundle-valid.bundle")
    print("verification: %s" % ("all passed" if failures == 0 else "%d FAILURES" % failures))
    return failures


# --------------------------------------------------------------------------------------------

def main():
    key_a, key_b, key_hub = load_key("device-a.pem"), load_key("device-b.pem"), load_key("hub.pem")
    check_fingerprints({"device-a.pem": key_a, "device-b.pem": key_b, "hub.pem": key_hub})
    for log in (CHAIN_A, VALID_A, GAPS_A, TWO_A, TWO_B, FORGED_B, UNKNOWN_C):
        for op in log.ops:
            assert unicodedata.is_normalized("NFC", op["v"]), op
    if "--verify" not in sys.argv[1:]:
        os.makedirs(CHAIN_DIR, exist_ok=True)
        files = {os.path.join(CHAIN_DIR, "ops.txt"): make_ops_txt(),
                 os.path.join(CHAIN_DIR, "heads.txt"): make_heads_txt(key_a, key_b)}
        for name, data in make_bundles(key_a, key_b).items():
            files[os.path.join(VECTORS, name)] = data
        for path, data in sorted(files.items()):
            with open(path + ".tmp", "wb") as handle:
                handle.write(data)
            os.replace(path + ".tmp", path)
            print("wrote %s (%d bytes)" % (os.path.relpath(path, VECTORS), len(data)))
    return 1 if verify_all(key_a, key_b) else 0


if __name__ == "__main__":
    sys.exit(main())
