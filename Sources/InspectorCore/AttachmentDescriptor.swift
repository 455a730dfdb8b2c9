/// What an `attachment_add` operation says of its file (PROTOCOL.md 6.6): the value
/// `<hash> <size> <type> <name>`.
///
/// An attachment is content-addressed: ``hash`` (the file's SHA-256, 64 lowercase hex digits) is
/// its identity, so a file attached twice is stored and sent once. The ``type`` is sniffed from the
/// content (``MediaType/sniff(_:)``), never taken from the ``name``.
///
/// ```swift
/// let descriptor = try AttachmentDescriptor(parsing: op.value)
/// print(descriptor.hash, descriptor.size, descriptor.type.rawValue, descriptor.name)
/// ```
public struct AttachmentDescriptor: Hashable, Sendable {
    /// The media types an attachment may have: photos, scans and PDFs.
    public enum MediaType: String, Sendable, CaseIterable {
        case jpeg = "image/jpeg"
        case png = "image/png"
        case gif = "image/gif"
        case webp = "image/webp"
        case heic = "image/heic"
        case tiff = "image/tiff"
        case pdf = "application/pdf"

        /// The extension a file of this type is exported with.
        public var fileExtension: String {
            switch self {
            case .jpeg: "jpg"
            case .png: "png"
            case .gif: "gif"
            case .webp: "webp"
            case .heic: "heic"
            case .tiff: "tif"
            case .pdf: "pdf"
            }
        }

        /// Whether a browser shows it as an image.
        public var isImage: Bool { self != .pdf && self != .heic && self != .tiff }

        /// The bytes a file must start with for ``sniff(_:)`` to decide.
        public static let sniffedPrefixLength = 12

        /// The type of a file from its first bytes (at least ``sniffedPrefixLength`` when the file has
        /// them); nil when they are none of the accepted types.
        public static func sniff<Bytes: Collection<UInt8>>(_ prefix: Bytes) -> MediaType? {
            let b = Array(prefix.prefix(sniffedPrefixLength))
            func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
                b.count >= offset + magic.count && Array(b[offset..<offset + magic.count]) == magic
            }
            if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
            if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
            if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
            if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
            if starts(Array("ftyp".utf8), at: 4) {
                let brands = ["heic", "heix", "mif1", "msf1", "heim", "heis", "hevc", "hevx"]
                if brands.contains(where: { starts(Array($0.utf8), at: 8) }) { return .heic }
            }
            if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
            if starts(Array("%PDF-".utf8)) { return .pdf }
            return nil
        }
    }

    /// The largest file the protocol carries: 32 MiB.
    public static let maximumSize: Int64 = 32 << 20
    /// The longest file name, in UTF-8 bytes.
    public static let maximumNameBytes = 255

    /// The file's SHA-256, 64 lowercase hex digits.
    public var hash: String
    /// The file's length in bytes, 1 to ``maximumSize``.
    public var size: Int64
    /// The type sniffed from the content.
    public var type: MediaType
    /// The file's base name as the user gave it (NFC).
    public var name: String

    /// A descriptor from its parts, checked as ``init(parsing:)`` checks them.
    public init(hash: String, size: Int64, type: MediaType, name: String) throws(CoreError) {
        self.hash = hash
        self.size = size
        self.type = type
        self.name = name
        try Self.check(hash: hash, size: size, name: name)
    }

    /// Reads an `attachment_add` value.
    ///
    /// - Throws: ``CoreError/Code/invalidValue`` naming the part that breaks the grammar.
    public init(parsing value: String) throws(CoreError) {
        // Split on the first three U+0020 bytes (not on grapheme clusters: a space followed by a
        // combining mark is still a separator, and the name keeps its mark).
        let bytes = Array(value.utf8)
        var spaces: [Int] = []
        for (index, byte) in bytes.enumerated() where byte == 0x20 {
            spaces.append(index)
            if spaces.count == 3 { break }
        }
        guard spaces.count == 3 else {
            throw CoreError(.invalidValue, "an attachment is '<hash> <size> <type> <name>', not '\(value.excerpt(80))'")
        }
        let hash = String(decoding: bytes[..<spaces[0]], as: UTF8.self)
        let digits = bytes[(spaces[0] + 1)..<spaces[1]]
        let typeText = String(decoding: bytes[(spaces[1] + 1)..<spaces[2]], as: UTF8.self)
        let name = String(decoding: bytes[(spaces[2] + 1)...], as: UTF8.self)
        guard !digits.isEmpty, digits.count <= 19, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              digits.first != 0x30 || digits.count == 1, let size = Int64(String(decoding: digits, as: UTF8.self)) else {
            throw CoreError(.invalidValue, "an attachment's size '\(String(decoding: digits, as: UTF8.self).excerpt(24))' is not a number of bytes")
        }
        guard let type = MediaType(rawValue: typeText) else {
            throw CoreError(.invalidValue, "an attachment's type '\(typeText.excerpt(40))' is none of \(MediaType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try self.init(hash: hash, size: size, type: type, name: name)
    }

    /// The value of the `attachment_add` op: `<hash> <size> <type> <name>`.
    public var value: String { "\(hash) \(size) \(type.rawValue) \(name)" }

    /// The name the hub's export gives the file: its hash and the extension of its type.
    public var exportedFileName: String { "\(hash).\(type.fileExtension)" }

    /// Whether `text` is a SHA-256 in the form attachments use: 64 lowercase hex digits.
    public static func isHash(_ text: String) -> Bool {
        let utf8 = text.utf8
        return utf8.count == 64 && utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func check(hash: String, size: Int64, name: String) throws(CoreError) {
        guard isHash(hash) else {
            throw CoreError(.invalidValue, "an attachment's hash '\(hash.excerpt(70))' is not 64 lowercase hex digits")
        }
        guard size >= 1 else { throw CoreError(.invalidValue, "an attachment is at least 1 byte long, not \(size)") }
        guard size <= maximumSize else {
            throw CoreError(.attachmentTooLarge, "an attachment holds at most \(maximumSize) bytes (32 MiB); this one \(size)")
        }
        try checkName(name)
    }

    /// Checks a file name as an attachment carries it.
    public static func checkName(_ name: String) throws(CoreError) {
        let bytes = name.utf8.count
        guard bytes >= 1, bytes <= maximumNameBytes else {
            throw CoreError(.invalidValue, "an attachment's name holds 1 to \(maximumNameBytes) bytes of UTF-8, not \(bytes)")
        }
        guard Text.isNFC(name) else { throw CoreError(.invalidValue, "an attachment's name '\(name.excerpt(60))' is not in Unicode NFC") }
        for scalar in name.unicodeScalars {
            let v = scalar.value
            guard v >= 0x20, !(0x7F...0x9F).contains(v), scalar != "/", scalar != "\\" else {
                throw CoreError(.invalidValue, "an attachment's name may hold no control character, '/' or '\\' (U+\(String(v, radix: 16, uppercase: true)))")
            }
        }
        guard name.unicodeScalars.first != " ", name.unicodeScalars.last != " " else {
            throw CoreError(.invalidValue, "an attachment's name '\(name.excerpt(60))' starts or ends with a space")
        }
        guard name != ".", name != ".." else { throw CoreError(.invalidValue, "an attachment's name may not be '\(name)'") }
    }
}
