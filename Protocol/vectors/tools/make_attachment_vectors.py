#!/usr/bin/env python3
"""Generate (and verify) the attachment test vectors of InspectorSync.

This is an independent implementation of the attachment rules (PROTOCOL.md 6.6 and section 20),
written from the specification and NOT from the reference (Swift) code, so that the two can check
each other. It needs Python 3 and its standard library only (hashlib, base64, json, unicodedata).

    python3 make_attachment_vectors.py            # write every file below, then verify them all
    python3 make_attachment_vectors.py --verify   # only re-read and verify the files on disk

Files written (paths relative to Protocol/vectors/):

    attachments/descriptors.json   attachment descriptors (the `v` of `attachment_add`), valid ones
                                   with their parts, and invalid ones with the reason
    attachments/sniff.json         first bytes of files and the media type they sniff as (or null)
    attachments/transfer.json      a 600,000-byte file defined by a rule, its descriptor, its
                                   chunks of 262,144 bytes, and the exact offer/want/stored/fetch
                                   lines
    attachments/example.txt        the lines of the worked example of PROTOCOL.md 20.9: an upload
                                   cut and resumed, chunks at other offsets, and fetches

Nothing here is random: running the script twice writes the same bytes.

The rules in brief (the normative text is the specification the vectors were written from):

  descriptor = hash SP size SP type SP name         (SP is U+0020, exactly one; the name is last
                                                      and may itself hold spaces)
  hash       = 64 lowercase hex digits (SHA-256 of the file)
  size       = [1-9][0-9]*, 1 <= size <= 33554432    (no sign, no leading zero)
  type       = image/jpeg | image/png | image/gif | image/webp | image/heic | image/tiff |
               application/pdf                      (sniffed from the content, never the name)
  name       = 1..255 bytes of UTF-8, in NFC, no U+0000-U+001F, U+007F-U+009F, '/', '\\';
               its first and last scalars are not U+0020; not "." nor ".."
  sniffing   = the first of: FF D8 FF -> jpeg; 89 50 4E 47 0D 0A 1A 0A -> png; GIF87a|GIF89a ->
               gif; RIFF ???? WEBP -> webp; bytes 4-7 "ftyp" and bytes 8-11 one of heic heix mif1
               msf1 heim heis hevc hevx -> heic; 49 49 2A 00 | 4D 4D 00 2A -> tiff; %PDF- -> pdf
  lines      = offer {"h","size"}, want {"h","have"}, chunk {"h","o","data"}, stored {"h","have"},
               fetch {"h","o"}, error {"code","message"}
               written as the reference writes JSON: no white space, keys in that order; `data`
               is unpadded base64url (RFC 4648 section 5) of 1..262144 bytes; the same `chunk`
               lines go device -> hub (an upload) and hub -> device (the answer to a fetch)
  the hub's `have` for a chunk at offset o of n bytes (PROTOCOL.md 4.11, 20.4):
               o > have: refused, bad_chunk (a gap); o + n <= have: nothing is written, `stored`
               with have; otherwise the bytes past have are written, `stored` with o + n
  a fetch at offset k of a file of `size` bytes the hub holds: the chunks from k to the size, or
               bad_chunk when k < 0 or k >= size
"""

import base64
import hashlib
import json
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.dirname(HERE)                       # Protocol/vectors
OUT = os.path.join(VECTORS, "attachments")

MAX_SIZE = 33554432            # 32 MiB, the per-file maximum
MAX_NAME_BYTES = 255
CHUNK = 262144                 # 256 KiB, the most data one chunk carries
TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/tiff", "application/pdf")
HEIC_BRANDS = ("heic", "heix", "mif1", "msf1", "heim", "heis", "hevc", "hevx")


# --------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------

def sniff(data):
    """The media type of a file whose content starts with `data`, or None (PROTOCOL.md 20.2)."""
    def at(offset, magic):
        return data[offset:offset + len(magic)] == magic
    if at(0, b"\xff\xd8\xff"):
        return "image/jpeg"
    if at(0, b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if at(0, b"GIF87a") or at(0, b"GIF89a"):
        return "image/gif"
    if at(0, b"RIFF") and at(8, b"WEBP"):
        return "image/webp"
    if at(4, b"ftyp") and any(at(8, brand.encode("ascii")) for brand in HEIC_BRANDS):
        return "image/heic"
    if at(0, b"II*\x00") or at(0, b"MM\x00*"):
        return "image/tiff"
    if at(0, b"%PDF-"):
        return "application/pdf"
    return None


def parse_descriptor(value):
    """The parts of a descriptor, or raises ValueError naming the rule it breaks (PROTOCOL.md 6.6)."""
    parts = value.split(" ", 3)            # split at the first three U+0020 only
    if len(parts) != 4:
        raise ValueError("not four parts")
    hash_, size_text, type_, name = parts
    if len(hash_) != 64 or any(c not in "0123456789abcdef" for c in hash_):
        raise ValueError("hash is not 64 lowercase hex digits")
    if not size_text or any(c not in "0123456789" for c in size_text) or (size_text[0] == "0"):
        raise ValueError("size is not [1-9][0-9]*")
    size = int(size_text)
    if not 1 <= size <= MAX_SIZE:
        raise ValueError("size out of 1..33554432")
    if type_ not in TYPES:
        raise ValueError("unknown type")
    check_name(name)
    return {"hash": hash_, "size": size, "type": type_, "name": name}


def check_name(name):
    raw = name.encode("utf-8")
    if not 1 <= len(raw) <= MAX_NAME_BYTES:
        raise ValueError("name of %d bytes" % len(raw))
    if not unicodedata.is_normalized("NFC", name):
        raise ValueError("name not in NFC")
    for ch in name:
        cp = ord(ch)
        if cp <= 0x1F or 0x7F <= cp <= 0x9F:
            raise ValueError("control character U+%04X in name" % cp)
        if ch in "/\\":
            raise ValueError("'/' or '\\' in name")
    if name[0] == " " or name[-1] == " ":
        raise ValueError("name starts or ends with U+0020")
    if name in (".", ".."):
        raise ValueError("name is . or ..")


def descriptor(hash_, size, type_, name):
    value = "%s %d %s %s" % (hash_, size, type_, name)
    assert parse_descriptor(value) == {"hash": hash_, "size": size, "type": type_, "name": name}
    return value


def b64url(data):
    """Unpadded base64url (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text):
    """Strict: no padding, no `+` `/`, no white space, no non-zero unused bits."""
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise ValueError("non-canonical base64url")
    return data


# --------------------------------------------------------------------------------------------
# JSON, as the reference writes it on the wire: no white space, non-ASCII as raw UTF-8. In the
# vector files (not on the wire), characters that are invisible or fragile in an editor are
# written as \u escapes: controls, C1 controls, combining marks, format characters, line and
# paragraph separators, and spaces other than U+0020. A JSON reader reads the same strings.
# --------------------------------------------------------------------------------------------

def line_json(obj):
    """A message body as the reference writes it (3.4): compact, keys in the given order."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def file_string(text):
    out = ['"']
    for ch in text:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif cp < 0x20 or 0x7F <= cp <= 0x9F or (cp > 0x7F and unicodedata.category(ch) in ("Mn", "Me", "Cf", "Zs", "Zl", "Zp", "Cn", "Co")):
            if cp > 0xFFFF:
                cp -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)))
            else:
                out.append("\\u%04x" % cp)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def file_value(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return file_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(file_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(file_string(k) + ":" + file_value(v) for k, v in value.items()) + "}"
    raise TypeError(type(value))


def file_list(items, indent=""):
    """A list with one compact element per line."""
    if not items:
        return "[]"
    return "[\n" + ",\n".join(indent + "  " + file_value(item) for item in items) + "\n" + indent + "]"


def file_object(members):
    """A top-level object with one member per line; lists of objects one element per line."""
    rows = []
    for key, value in members.items():
        text = file_list(value, "  ") if isinstance(value, list) and value and isinstance(value[0], dict) else file_value(value)
        rows.append("  " + file_string(key) + ": " + text)
    return "{\n" + ",\n".join(rows) + "\n}\n"


# --------------------------------------------------------------------------------------------
# The transfer file
# --------------------------------------------------------------------------------------------

TRANSFER_SIZE = 600000
TRANSFER_NAME = "ảnh hiện trường.jpg"
TRANSFER_RULE = ("byte i is (i * 31 + 7) mod 251, for i = 0, 1, ..., 599999; except bytes 0, 1 and 2, "
                 "which are FF D8 FF (so that the file sniffs as image/jpeg)")


def transfer_file(size=TRANSFER_SIZE):
    data = bytearray((i * 31 + 7) % 251 for i in range(size))
    data[0:3] = b"\xff\xd8\xff"
    return bytes(data)


def offer_line(hash_, size):
    return "offer " + line_json({"h": hash_, "size": size})


def want_line(hash_, have):
    return "want " + line_json({"h": hash_, "have": have})


def chunk_line(hash_, offset, data):
    return "chunk " + line_json({"h": hash_, "o": offset, "data": b64url(data)})


def stored_line(hash_, have):
    return "stored " + line_json({"h": hash_, "have": have})


def fetch_line(hash_, offset):
    return "fetch " + line_json({"h": hash_, "o": offset})


def error_line(code, message):
    return "error " + line_json({"code": code, "message": message})


class Hub:
    """The hub's side of one file's transfer, as PROTOCOL.md 4.11, 4.13 and 20.4 state it: the
    answer to each chunk a device sends, and to a fetch. Messages are the reference's (informative)."""

    def __init__(self, hash_, size):
        self.hash, self.size, self.data = hash_, size, b""

    def whole(self):
        return len(self.data) == self.size and hashlib.sha256(self.data).hexdigest() == self.hash

    def chunk(self, offset, piece):
        have = len(self.data)
        if offset < 0 or not piece or offset + len(piece) > self.size:
            raise AssertionError("the example sends no such chunk")
        if self.whole():
            return stored_line(self.hash, self.size)
        if offset > have:
            return error_line("bad_chunk", "a chunk of %s\u2026 at %d, but the next byte expected is %d" % (self.hash[:16], offset, have))
        if offset + len(piece) <= have:
            return stored_line(self.hash, have)
        self.data += piece[have - offset:]
        if len(self.data) == self.size:
            assert self.whole(), "the example's file is its hash"
        return stored_line(self.hash, len(self.data))

    def fetch(self, offset, chunk_bytes=CHUNK):
        if not self.whole():
            return [error_line("unknown_attachment", "the hub does not hold the file %s\u2026 yet: its device has not sent it" % self.hash[:16])]
        if offset < 0 or offset >= self.size:
            return [error_line("bad_chunk", "the file %s\u2026 has %d bytes; fetch from 0 to %d, not %d" % (self.hash[:16], self.size, self.size - 1, offset))]
        return [chunk_line(self.hash, o, self.data[o:o + chunk_bytes]) for o in range(offset, self.size, chunk_bytes)]


def make_transfer():
    data = transfer_file()
    hash_ = hashlib.sha256(data).hexdigest()
    type_ = sniff(data)
    assert type_ == "image/jpeg"
    chunks = []
    for offset in range(0, len(data), CHUNK):
        piece = data[offset:offset + CHUNK]
        line = chunk_line(hash_, offset, piece)
        encoded = b64url(piece)
        chunks.append({
            "o": offset,
            "n": len(piece),
            "sha256": hashlib.sha256(piece).hexdigest(),
            "line_prefix": line[:80],
            "data_head": encoded[:80],
            "data_tail": encoded[-20:],
            "line_bytes": len(line.encode("utf-8")),
        })
    return file_object({
        "rule": TRANSFER_RULE,
        "first_bytes_hex": data[:16].hex(),
        "size": len(data),
        "sha256": hash_,
        "type": type_,
        "name": TRANSFER_NAME,
        "descriptor": descriptor(hash_, len(data), type_, TRANSFER_NAME),
        "chunk_bytes": CHUNK,
        "chunks": chunks,
        "offer_line": offer_line(hash_, len(data)),
        "want_line_fresh": want_line(hash_, 0),
        "want_line_after_cut": want_line(hash_, CHUNK),
        "stored_line_final": stored_line(hash_, len(data)),
        "fetch_line_fresh": fetch_line(hash_, 0),
        "fetch_line_after_cut": fetch_line(hash_, CHUNK),
    }).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Descriptors
# --------------------------------------------------------------------------------------------

def h(label):
    """A stable hash for a descriptor vector: the SHA-256 of a label (the grammar does not care
    which file it is)."""
    return hashlib.sha256(label.encode("utf-8")).hexdigest()


def name_of_bytes(count):
    """A Vietnamese name of exactly `count` UTF-8 bytes, ending in .jpg."""
    stem = ""
    syllables = ["ảnh ", "hiện ", "trường ", "Điện ", "Biên ", "Mường ", "Lay "]
    k = 0
    while len((stem + syllables[k % len(syllables)]).encode("utf-8")) + 4 <= count:
        stem += syllables[k % len(syllables)]
        k += 1
    stem = stem.rstrip(" ")
    while len((stem + ".jpg").encode("utf-8")) < count:
        stem += "x"
    name = stem + ".jpg"
    assert len(name.encode("utf-8")) == count, (count, len(name.encode("utf-8")))
    return name


def valid_descriptors():
    T = transfer_file()
    rows = [
        (hashlib.sha256(T).hexdigest(), len(T), "image/jpeg", TRANSFER_NAME),
        (h("bien-ban"), 245760, "image/jpeg", "Biên bản kiểm tra.jpg"),
        (h("one-byte"), 1, "image/png", "a.png"),
        (h("largest"), MAX_SIZE, "application/pdf", "Báo cáo tự kiểm tra năm 2024 (bản ký số).pdf"),
        (h("inner-spaces"), 1048576, "image/heic", "Ảnh  hai  dấu cách ở giữa.heic"),
        (h("scan"), 5242880, "image/tiff", "Quyết định khen thưởng số 12-QĐ.tif"),
        (h("webp"), 80000, "image/webp", "hội trường UBND xã.webp"),
        (h("gif"), 4321, "image/gif", "sơ đồ.gif"),
        (h("upper-name"), 3000000, "image/jpeg", "IMG_0042.JPG"),
        (h("no-extension"), 77, "application/pdf", "bien ban"),
        (h("dots"), 100, "image/png", "..."),
        (h("hidden"), 100, "image/png", ".ảnh ẩn.png"),
        (h("emoji"), 2048, "image/jpeg", "📷 hiện trường.jpg"),
        (h("nbsp-end"), 2048, "image/jpeg", "ảnh\u00a0"),
        (h("255-bytes"), 999999, "image/jpeg", name_of_bytes(255)),
        (h("single-char"), 12, "image/gif", "ả"),
        # A name may start with a combining mark: the parts are split at U+0020 scalars, so the
        # space before it separates the type from the name even though, in grapheme clusters, that
        # space and the mark form one character.
        (h("combining-first"), 2048, "image/jpeg", "\u0301ảnh.jpg"),
    ]
    return [{"value": descriptor(*row), "hash": row[0], "size": row[1], "type": row[2], "name": row[3]} for row in rows]


def invalid_descriptors():
    H = h("bien-ban")
    ok_tail = " 245760 image/jpeg Biên bản kiểm tra.jpg"
    nfd = unicodedata.normalize("NFD", "Biên bản kiểm tra.jpg")
    assert nfd != "Biên bản kiểm tra.jpg"
    rows = [
        (H.upper() + ok_tail, "hash in uppercase hex"),
        (H[:8] + "ABCDEF12" + H[16:] + ok_tail, "hash with some uppercase digits"),
        (H[:63] + ok_tail, "hash of 63 hex digits"),
        (H + "0" + ok_tail, "hash of 65 hex digits"),
        ("g" + H[1:] + ok_tail, "hash with a non-hex letter"),
        (H + " 0 image/jpeg Biên bản kiểm tra.jpg", "size 0"),
        (H + " 0245760 image/jpeg Biên bản kiểm tra.jpg", "size with a leading zero"),
        (H + " 33554433 image/jpeg Biên bản kiểm tra.jpg", "size 33,554,433, one byte over the per-file maximum"),
        (H + " 99999999999999999999 image/jpeg Biên bản kiểm tra.jpg", "size of 20 digits, beyond any integer type"),
        (H + " -5 image/jpeg Biên bản kiểm tra.jpg", "negative size"),
        (H + " +5 image/jpeg Biên bản kiểm tra.jpg", "size with a sign"),
        (H + " 2.5 image/jpeg Biên bản kiểm tra.jpg", "size with a point"),
        (H + " \u0662\u0664\u0665 image/jpeg Biên bản kiểm tra.jpg", "size in non-ASCII (Arabic-Indic) digits"),
        (H + " 245760 image/bmp Biên bản kiểm tra.jpg", "unknown type image/bmp"),
        (H + " 245760 image/jpg Biên bản kiểm tra.jpg", "unknown type image/jpg (the type is image/jpeg)"),
        (H + " 245760 IMAGE/JPEG Biên bản kiểm tra.jpg", "type in uppercase"),
        (H + " 245760 image/avif Biên bản kiểm tra.avif", "unknown type image/avif"),
        (H + " 245760 image/jpeg ", "empty name (the value ends with the space before it)"),
        (H + " 245760 image/jpeg", "missing name (three parts)"),
        (H + " 245760", "missing type and name"),
        ("", "empty value"),
        (H + " 245760 image/jpeg ảnh/hiện trường.jpg", "name with '/'"),
        (H + " 245760 image/jpeg ảnh\\hiện trường.jpg", "name with '\\'"),
        (H + " 245760 image/jpeg " + nfd, "name in NFD, not NFC"),
        (H + " 245760 image/jpeg ảnh\thiện trường.jpg", "name with a control character (TAB, U+0009)"),
        (H + " 245760 image/jpeg ảnh\u0000.jpg", "name with U+0000"),
        (H + " 245760 image/jpeg ảnh hiện trường.jpg\n", "name ending with LF (U+000A)"),
        (H + " 245760 image/jpeg ảnh\u007f.jpg", "name with U+007F"),
        (H + " 245760 image/jpeg ảnh\u0085.jpg", "name with a C1 control character (U+0085)"),
        (H + " 245760 image/jpeg ảnh\u009f.jpg", "name with a C1 control character (U+009F)"),
        (H + " 245760 image/jpeg Biên bản kiểm tra.jpg ", "name ending with a space"),
        (H + " 245760 image/jpeg  Biên bản kiểm tra.jpg", "two spaces between type and name: the name starts with a space"),
        (H + "  245760 image/jpeg Biên bản kiểm tra.jpg", "two spaces between hash and size: the size part is empty"),
        (H + " 245760  image/jpeg Biên bản kiểm tra.jpg", "two spaces between size and type: the type part is empty"),
        (H + "\t245760 image/jpeg Biên bản kiểm tra.jpg", "TAB instead of a space between hash and size"),
        (H + " 245760\u00a0image/jpeg Biên bản kiểm tra.jpg", "U+00A0 instead of a space between size and type"),
        (H + " 245760 image/jpeg  \u0301ảnh.jpg", "name starting with U+0020 U+0301 (its first scalar is a space, though its first grapheme cluster is not one)"),
        (H + " 245760 image/jpeg ..", "name '..'"),
        (H + " 245760 image/jpeg .", "name '.'"),
        (H + " 245760 image/jpeg " + name_of_bytes(256), "name of 256 bytes of UTF-8"),
        (" " + H + ok_tail, "value starting with a space"),
    ]
    for value, why in rows:
        try:
            parse_descriptor(value)
        except ValueError:
            continue
        raise AssertionError("meant to be invalid, but passes: %r (%s)" % (value, why))
    return [{"value": value, "why": why} for value, why in rows]


def make_descriptors():
    valid = valid_descriptors()
    invalid = invalid_descriptors()
    body = "{\n  \"valid\": " + file_list(valid, "  ") + ",\n  \"invalid\": " + file_list(invalid, "  ") + "\n}\n"
    return body.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------

def heic(brand):
    return bytes.fromhex("00000018") + b"ftyp" + brand.encode("ascii") + bytes.fromhex("00000000") + b"mif1"


SNIFF = [
    (bytes.fromhex("ffd8ffe000104a4649460001"), "image/jpeg"),           # JFIF
    (bytes.fromhex("ffd8ffe1001845786966"), "image/jpeg"),               # Exif
    (bytes.fromhex("ffd8ff"), "image/jpeg"),                             # the 3 bytes alone
    (bytes.fromhex("89504e470d0a1a0a0000000d49484452"), "image/png"),
    (b"GIF87a\x01\x00\x01\x00", "image/gif"),
    (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"RIFF\xff\xff\xff\xffWEBP", "image/webp"),
] + [(heic(brand), "image/heic") for brand in HEIC_BRANDS] + [
    (bytes.fromhex("49492a0008000000"), "image/tiff"),
    (bytes.fromhex("4d4d002a00000008"), "image/tiff"),
    (b"%PDF-1.7\n", "application/pdf"),
    (b"%PDF-", "application/pdf"),
    # Overlaps: the first type of the list that matches wins.
    (bytes.fromhex("ffd8ff00") + b"ftypheic", "image/jpeg"),
    (bytes.fromhex("49492a00") + b"ftypheic", "image/heic"),
    # Refused.
    (b"", None),
    (bytes.fromhex("ffd8"), None),                                      # a JPEG's first 2 bytes only
    (bytes.fromhex("ffd8fe"), None),
    ("Biên bản kiểm tra\n".encode("utf-8"), None),                     # text
    (bytes.fromhex("504b030414000600"), None),                           # ZIP (also DOCX, XLSX)
    (b"GIF88a\x01\x00", None),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),                            # RIFF without WEBP
    (b"RIFF\x24\x00\x00", None),                                         # RIFF cut before byte 8
    (bytes.fromhex("89504e470d0a1a"), None),                             # PNG signature cut
    (b"%PDF", None),
    (b"%pdf-1.4", None),
    (bytes.fromhex("efbbbf") + b"%PDF-1.7", None),                     # a BOM before %PDF-
    (bytes.fromhex("00000018") + b"ftypavif", None),                     # AVIF is not accepted
    (bytes.fromhex("00000018") + b"ftypmp42", None),                     # an MP4 video
    (bytes.fromhex("00000018") + b"ftypHEIC", None),                     # brands are case-sensitive
    (bytes.fromhex("000000") + b"ftypheic", None),                       # ftyp at byte 3, not 4
    (bytes.fromhex("49492b00"), None),                                   # BigTIFF
    (bytes.fromhex("00ffd8ff"), None),                                   # JPEG magic after a byte
    (bytes.fromhex("424d"), None),                                       # BMP
]


def make_sniff():
    rows = []
    for data, expected in SNIFF:
        assert sniff(data) == expected, (data, expected, sniff(data))
        rows.append({"hex": data.hex(), "type": expected})
    return (file_list(rows) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# The worked example of PROTOCOL.md 20.9
# --------------------------------------------------------------------------------------------

EXAMPLE_SIZE = 40
EXAMPLE_CHUNK = 16
EXAMPLE_NAME = "Biên bản kiểm tra.jpg"


def _hub_at(hash_, data, have):
    """A hub that holds the first `have` bytes of `data` durably."""
    hub = Hub(hash_, len(data))
    hub.data = data[:have]
    return hub


def make_example():
    data = transfer_file(EXAMPLE_SIZE)
    hash_ = hashlib.sha256(data).hexdigest()
    assert sniff(data) == "image/jpeg"
    pieces = [(o, data[o:o + EXAMPLE_CHUNK]) for o in range(0, EXAMPLE_SIZE, EXAMPLE_CHUNK)]
    hub = Hub(hash_, EXAMPLE_SIZE)

    def answered(hub_, offset, piece):
        return ["C: " + chunk_line(hash_, offset, piece), "S: " + hub_.chunk(offset, piece)]

    def fetched(hub_, offset):
        return ["C: " + fetch_line(hash_, offset)] + ["S: " + line for line in hub_.fetch(offset)]

    session1 = ["C: " + offer_line(hash_, EXAMPLE_SIZE), "S: " + want_line(hash_, len(hub.data))]
    session1.append("C: " + chunk_line(hash_, pieces[0][0], pieces[0][1]))
    session1.append("C: " + chunk_line(hash_, pieces[1][0], pieces[1][1]))
    session1.append("S: " + hub.chunk(*pieces[0]))
    lost = hub.chunk(*pieces[1])            # stored, but its `stored` line never reaches the device
    assert lost == stored_line(hash_, 32)
    session1.append("C: <close>")
    early_fetch = fetched(hub, 0)           # dev-c, before dev-a's session 2
    # The alternatives to session 2's chunk, each from the hub's state after session 1.
    alternatives = []
    for offset, end in ((16, 32), (36, 40), (24, 40)):
        alternatives += answered(_hub_at(hash_, data, 32), offset, data[offset:end])
    session2 = ["C: " + offer_line(hash_, EXAMPLE_SIZE), "S: " + want_line(hash_, len(hub.data))]
    session2 += answered(hub, *pieces[2])
    assert hub.whole()
    dev_b = ["C: " + offer_line(hash_, EXAMPLE_SIZE), "S: " + want_line(hash_, len(hub.data))]
    lines = [
        "# The worked example of PROTOCOL.md 20.9: the transfer lines only (the hello, push and pull",
        "# before them are in the text). Informative; `C:` the device sends, `S:` the hub answers.",
        "# The file is the first %d bytes of transfer.json's file; the device sends chunks of %d bytes." % (EXAMPLE_SIZE, EXAMPLE_CHUNK),
        "# Error messages are the reference's, for people (PROTOCOL.md 4.8): a program reads the code.",
        "file: " + data.hex(),
        "sha256: " + hash_,
        "descriptor: " + descriptor(hash_, EXAMPLE_SIZE, "image/jpeg", EXAMPLE_NAME),
        "",
        "# Session 1 of dev-a, after its push and pull: two chunks in flight, the connection is cut",
        "# after the first `stored`. The hub had read the second chunk whole: it stores it all the",
        "# same (its `have` is 32), but its `stored` is lost.",
    ] + session1 + [
        "",
        "# A session of dev-c (assigned muong-lay too), whose inspector asked for the file, after its",
        "# pull: the hub does not hold the whole file yet, so dev-c tries again at a later sync.",
    ] + early_fetch + [
        "",
        "# Session 2 of dev-a: the `want` says the hub holds 32 bytes; the device sends the rest.",
    ] + session2 + [
        "",
        "# Instead of its chunk at 32, session 2 might have sent one of these (each on its own, after",
        "# `want` 32): a chunk sent again at 16, which ends at the hub's `have` (nothing is written);",
        "# a chunk at 36, which would leave a gap (refused, `have` stays 32); a chunk from 24 to 40,",
        "# of which the hub writes only bytes 32 to 40, completing the file.",
    ] + alternatives + [
        "",
        "# A session of dev-b, which attached the same file to its own finding: nothing to send.",
    ] + dev_b + [
        "",
        "# dev-c's next session: the hub sends the file from 0 to its end, in chunks of up to",
        "# 262,144 bytes: here one. No `stored` follows; dev-c checks the SHA-256 of the 40 bytes.",
    ] + fetched(hub, 0) + [
        "",
        "# A device that held the first 16 bytes durably (from a hub sending smaller chunks, cut after",
        "# the first) asks from 16; a fetch from the size on is refused.",
    ] + fetched(hub, 16) + fetched(hub, EXAMPLE_SIZE) + [
        "",
    ]
    return "\n".join(lines).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Verification (re-reads the files on disk)
# --------------------------------------------------------------------------------------------

def verify():
    failures = 0

    def fail(message):
        nonlocal failures
        failures += 1
        print("FAIL " + message)

    def load(name):
        with open(os.path.join(OUT, name), "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))

    d = load("descriptors.json")
    for entry in d["valid"]:
        try:
            parts = parse_descriptor(entry["value"])
        except ValueError as error:
            fail("valid descriptor refused (%s): %r" % (error, entry["value"]))
            continue
        if parts != {k: entry[k] for k in ("hash", "size", "type", "name")}:
            fail("parts differ: %r" % entry["value"])
    for entry in d["invalid"]:
        try:
            parse_descriptor(entry["value"])
            fail("invalid descriptor accepted: %r (%s)" % (entry["value"], entry["why"]))
        except ValueError:
            pass
    print("descriptors.json: %d valid, %d invalid" % (len(d["valid"]), len(d["invalid"])))

    s = load("sniff.json")
    for entry in s:
        got = sniff(bytes.fromhex(entry["hex"]))
        if got != entry["type"]:
            fail("sniff %s: expected %r, got %r" % (entry["hex"], entry["type"], got))
    accepted = {e["type"] for e in s if e["type"]}
    brands = {bytes.fromhex(e["hex"])[8:12].decode("ascii", "replace") for e in s if e["type"] == "image/heic"}
    if accepted != set(TYPES) or not set(HEIC_BRANDS) <= brands:
        fail("sniff.json does not cover every type and HEIC brand")
    print("sniff.json: %d cases, %d refused" % (len(s), sum(1 for e in s if e["type"] is None)))

    t = load("transfer.json")
    data = transfer_file()
    if len(data) != t["size"] or hashlib.sha256(data).hexdigest() != t["sha256"] or data[:16].hex() != t["first_bytes_hex"]:
        fail("transfer.json: the file's size or hash")
    if parse_descriptor(t["descriptor"]) != {"hash": t["sha256"], "size": t["size"], "type": t["type"], "name": t["name"]}:
        fail("transfer.json: descriptor")
    offset = 0
    for chunk in t["chunks"]:
        piece = data[offset:offset + t["chunk_bytes"]]
        line = chunk_line(t["sha256"], offset, piece)
        if chunk["o"] != offset or chunk["n"] != len(piece) or chunk["sha256"] != hashlib.sha256(piece).hexdigest():
            fail("transfer.json: chunk at %d" % offset)
        if line[:80] != chunk["line_prefix"] or len(line.encode()) != chunk["line_bytes"]:
            fail("transfer.json: chunk line at %d" % offset)
        encoded = line_json_value(line[len("chunk "):])["data"]
        if unb64url(encoded) != piece or not encoded.startswith(chunk["data_head"]) or not encoded.endswith(chunk["data_tail"]):
            fail("transfer.json: chunk data at %d" % offset)
        if chunk["line_bytes"] > 1048576:
            fail("transfer.json: chunk line over 1 MiB")
        offset += len(piece)
    if offset != t["size"]:
        fail("transfer.json: the chunks do not cover the file")
    expected = {"offer_line": offer_line(t["sha256"], t["size"]), "want_line_fresh": want_line(t["sha256"], 0),
                "want_line_after_cut": want_line(t["sha256"], CHUNK), "stored_line_final": stored_line(t["sha256"], t["size"]),
                "fetch_line_fresh": fetch_line(t["sha256"], 0), "fetch_line_after_cut": fetch_line(t["sha256"], CHUNK)}
    for key, line in expected.items():
        if t[key] != line:
            fail("transfer.json: " + key)
    # A hub holding the file answers each fetch with the chunk lines of `chunks` from its offset.
    hub = Hub(t["sha256"], t["size"])
    hub.data = data
    for key, offset in (("fetch_line_fresh", 0), ("fetch_line_after_cut", CHUNK)):
        answer = hub.fetch(offset)
        listed = [c for c in t["chunks"] if c["o"] >= offset]
        if len(answer) != len(listed) or any(line[:80] != c["line_prefix"] or len(line.encode()) != c["line_bytes"]
                                             for line, c in zip(answer, listed)):
            fail("transfer.json: the answer to " + key)
    print("transfer.json: %d bytes, %d chunks, lines checked" % (t["size"], len(t["chunks"])))

    with open(os.path.join(OUT, "example.txt"), "rb") as handle:
        if handle.read() != make_example():
            fail("example.txt differs from what this script makes")
    print("verification: %s" % ("all passed" if failures == 0 else "%d FAILURES" % failures))
    return failures


def line_json_value(body):
    return json.loads(body)


# --------------------------------------------------------------------------------------------

def main():
    if "--verify" not in sys.argv[1:]:
        os.makedirs(OUT, exist_ok=True)
        files = {
            "descriptors.json": make_descriptors(),
            "sniff.json": make_sniff(),
            "transfer.json": make_transfer(),
            "example.txt": make_example(),
        }
        for name, data in sorted(files.items()):
            path = os.path.join(OUT, name)
            with open(path + ".tmp", "wb") as handle:
                handle.write(data)
            os.replace(path + ".tmp", path)
            print("wrote attachments/%s (%d bytes)" % (name, len(data)))
    return 1 if verify() else 0


if __name__ == "__main__":
    sys.exit(main())
