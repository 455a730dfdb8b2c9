import Crypto
import Foundation
import InspectorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The content of attachments, one file per SHA-256, in a directory beside a store's database
/// (`<database>-attachments/`), and the transfers in progress under `partial/` (PROTOCOL.md 20).
///
/// Every file is written to a temporary name, synced to disk, renamed to its hash and the directory
/// synced: a file under its hash is whole and verified, whatever process was killed when. A transfer
/// in progress keeps, beside its bytes, the length acknowledged to the peer (`<hash>.have`, synced
/// after the bytes), so a crash never loses acknowledged bytes and never keeps unacknowledged ones.
///
/// Memory stays bounded by one chunk whatever the file's size: files are hashed, copied and read
/// in pieces.
public struct AttachmentFiles: Sendable {
    /// The directory of the files.
    public let directory: String

    /// The bytes read at a time when a file is hashed or copied.
    static let pieceSize = 1 << 20

    /// The content of the store at `databasePath`: `<databasePath>-attachments/`.
    public init(besideDatabaseAt databasePath: String) {
        directory = databasePath + "-attachments"
    }

    public init(directory: String) {
        self.directory = directory
    }

    /// Where the file of `hash` is (it may not exist).
    public func path(of hash: String) -> String { directory + "/" + hash }

    /// Whether the whole, verified file of `hash` is here.
    public func holds(_ hash: String) -> Bool {
        AttachmentDescriptor.isHash(hash) && FileManager.default.fileExists(atPath: path(of: hash))
    }

    /// The hashes of every whole file held.
    public func heldHashes() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter(AttachmentDescriptor.isHash).sorted()
    }

    // MARK: - Adding a local file

    /// What a file is, read once: its hash, size and sniffed type.
    public struct Examined: Sendable, Hashable {
        public var hash: String
        public var size: Int64
        public var type: AttachmentDescriptor.MediaType
    }

    /// Copies the file at `source` into the store under its hash (once: a file already held is not
    /// copied again), and says what it is.
    ///
    /// - Parameter maximumSize: the largest file accepted.
    /// - Throws: ``StoreError`` `not_found` for a file that cannot be read, `attachment_too_large`
    ///   past `maximumSize`, `unsupported_attachment` for content of no accepted type,
    ///   `storage_failed` when the copy cannot be written. Nothing is left behind when it throws.
    public func add(fileAt source: String, maximumSize: Int64 = AttachmentDescriptor.maximumSize) throws -> Examined {
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw StoreError(.notFound, "cannot read the file '\(source.excerpt(200))'")
        }
        defer { try? input.close() }
        try makeDirectory()
        let temporary = directory + "/partial/add-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let output = FileHandle(forWritingAtPath: temporary) else {
            throw StoreError(.storageFailed, "cannot write into \(directory)")
        }
        var keep = false
        defer {
            try? output.close()
            if !keep { try? FileManager.default.removeItem(atPath: temporary) }
        }
        var hasher = SHA256()
        var size: Int64 = 0
        var prefix: [UInt8] = []
        while true {
            let piece: Data
            do { piece = try input.read(upToCount: Self.pieceSize) ?? Data() } catch {
                throw StoreError(.notFound, "cannot read the file '\(source.excerpt(200))': \(error.localizedDescription)")
            }
            if piece.isEmpty { break }
            size += Int64(piece.count)
            guard size <= maximumSize else {
                throw StoreError(.attachmentTooLarge, "'\(Self.baseName(source).excerpt(120))' is over the limit of \(maximumSize) bytes (\(maximumSize >> 20) MiB) per file; nothing was attached")
            }
            if prefix.count < AttachmentDescriptor.MediaType.sniffedPrefixLength {
                prefix += piece.prefix(AttachmentDescriptor.MediaType.sniffedPrefixLength - prefix.count)
            }
            hasher.update(data: piece)
            do { try output.write(contentsOf: piece) } catch {
                throw StoreError(.storageFailed, "cannot write into \(directory): \(error.localizedDescription)")
            }
        }
        guard size > 0 else { throw StoreError(.invalidArgument, "'\(Self.baseName(source).excerpt(120))' is empty; nothing was attached") }
        guard let type = AttachmentDescriptor.MediaType.sniff(prefix) else {
            throw StoreError(.unsupportedAttachment, "'\(Self.baseName(source).excerpt(120))' is not a photo, a scan or a PDF (its content is none of: \(AttachmentDescriptor.MediaType.allCases.map(\.rawValue).joined(separator: ", "))); nothing was attached")
        }
        let hash = Self.hex(hasher.finalize())
        if holds(hash) { return Examined(hash: hash, size: size, type: type) }
        try Self.sync(output, what: directory)
        try moveIntoPlace(temporary, hash: hash)
        keep = true
        return Examined(hash: hash, size: size, type: type)
    }

    // MARK: - Reading

    /// Up to `count` bytes of the file of `hash` from `offset`.
    public func read(_ hash: String, at offset: Int64, count: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path(of: hash)) else {
            throw StoreError(.notFound, "the file \(hash.prefix(16))… is not held here")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            return [UInt8](try handle.read(upToCount: count) ?? Data())
        } catch {
            throw StoreError(.storageFailed, "cannot read the file \(hash.prefix(16))…: \(error.localizedDescription)")
        }
    }

    /// The SHA-256 of the file at `path`, read in pieces.
    public static func hash(ofFileAt path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw StoreError(.notFound, "cannot read '\(path.excerpt(200))'") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let piece = try handle.read(upToCount: pieceSize), !piece.isEmpty { hasher.update(data: piece) }
        return hex(hasher.finalize())
    }

    // MARK: - Receiving a file in chunks

    /// How many bytes of `hash` are held durably: its size when the whole file is held, else the
    /// acknowledged length of the transfer in progress (0 when there is none).
    public func durableLength(of hash: String, size: Int64) -> Int64 {
        if holds(hash) { return size }
        let have = readHave(hash)
        let written = (try? FileManager.default.attributesOfItem(atPath: partialPath(hash))[.size] as? NSNumber)?.int64Value ?? 0
        return max(0, min(have, written, size))
    }

    /// Appends a chunk at `offset` to the transfer of `hash` and makes it durable: the bytes, then
    /// the acknowledged length. When the file is then complete, its SHA-256 is checked and the file
    /// moves into place.
    ///
    /// - Returns: the durable length after the chunk (`size` when the whole file is now held).
    /// A chunk that starts before the durable length adds only its bytes past it (one sent again
    /// after a cut changes nothing).
    ///
    /// - Throws: ``StoreError`` `bad_chunk` when `offset` is past the durable length (a gap) or the
    ///   chunk runs past `size`; `hash_mismatch` when the whole file's hash differs (the transfer is discarded);
    ///   `storage_failed` when it cannot be written.
    public func append(_ bytes: [UInt8], at offset: Int64, to hash: String, size: Int64) throws -> Int64 {
        let have = durableLength(of: hash, size: size)
        guard offset >= 0, !bytes.isEmpty, offset <= size, Int64(bytes.count) <= size - offset else {
            throw StoreError(.badChunk, "a chunk of \(bytes.count) bytes at \(offset) runs past the file's \(size) bytes")
        }
        if have == size { return size }
        guard offset <= have else {
            throw StoreError(.badChunk, "a chunk of \(hash.prefix(16))… at \(offset), but the next byte expected is \(have)")
        }
        // Bytes already held (a chunk sent again after a cut, while the hub still wrote the last
        // ones of the cut session) are not written again: only what follows `have`.
        if offset + Int64(bytes.count) <= have { return have }
        let bytes = Array(bytes[Int(have - offset)...])
        let offset = have
        try makeDirectory()
        let partial = partialPath(hash)
        let descriptor = open(partial, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StoreError(.storageFailed, "cannot open \(partial): errno \(errno)") }
        defer { close(descriptor) }
        // Bytes past the acknowledged length (written before a crash, never acknowledged) go.
        guard ftruncate(descriptor, off_t(offset)) == 0 else { throw StoreError(.storageFailed, "cannot truncate \(partial): errno \(errno)") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + written, bytes.count - written, off_t(offset) + off_t(written)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError(.storageFailed, "cannot write \(partial): errno \(errno)")
            }
            written += n
        }
        guard fsync(descriptor) == 0 else { throw StoreError(.storageFailed, "cannot sync \(partial): errno \(errno)") }
        let length = offset + Int64(bytes.count)
        if offset == 0 { try Self.syncDirectory(directory + "/partial") }
        if length < size {
            try writeHave(hash, length)
            return length
        }
        // Whole: the hash decides.
        let actual = try Self.hash(ofFileAt: partial)
        guard actual == hash else {
            try? FileManager.default.removeItem(atPath: partial)
            try? FileManager.default.removeItem(atPath: havePath(hash))
            throw StoreError(.hashMismatch, "the \(size) bytes received have the SHA-256 \(actual.prefix(16))…, not \(hash.prefix(16))…; they were discarded")
        }
        try moveIntoPlace(partial, hash: hash)
        try? FileManager.default.removeItem(atPath: havePath(hash))
        return size
    }

    /// Removes the whole file of `hash` (a device evicting what the hub holds).
    public func remove(_ hash: String) throws {
        guard AttachmentDescriptor.isHash(hash) else { return }
        do {
            if FileManager.default.fileExists(atPath: path(of: hash)) { try FileManager.default.removeItem(atPath: path(of: hash)) }
        } catch {
            throw StoreError(.storageFailed, "cannot remove \(path(of: hash)): \(error.localizedDescription)")
        }
    }

    /// Copies the whole file of `hash` to `destination` (written, then renamed into place).
    public func copy(_ hash: String, to destination: String) throws {
        let temporary = destination + ".part"
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            try FileManager.default.copyItem(atPath: path(of: hash), toPath: temporary)
            _ = chmod(temporary, 0o644)
            if FileManager.default.fileExists(atPath: destination) { try FileManager.default.removeItem(atPath: destination) }
            try FileManager.default.moveItem(atPath: temporary, toPath: destination)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw StoreError(.storageFailed, "cannot write \(destination): \(error.localizedDescription)")
        }
    }

    // MARK: - Helpers

    private func partialPath(_ hash: String) -> String { directory + "/partial/" + hash }
    private func havePath(_ hash: String) -> String { directory + "/partial/" + hash + ".have" }

    private func readHave(_ hash: String) -> Int64 {
        guard let data = FileManager.default.contents(atPath: havePath(hash)), data.count == 8 else { return 0 }
        return data.reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    /// The acknowledged length: 8 bytes written in place (one sector: never torn) and synced.
    private func writeHave(_ hash: String, _ length: Int64) throws {
        let path = havePath(hash)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StoreError(.storageFailed, "cannot open \(path): errno \(errno)") }
        defer { close(descriptor) }
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (56 - 8 * $0)) }
        guard bytes.withUnsafeBytes({ pwrite(descriptor, $0.baseAddress, 8, 0) }) == 8, fsync(descriptor) == 0 else {
            throw StoreError(.storageFailed, "cannot write \(path): errno \(errno)")
        }
    }

    private func makeDirectory() throws {
        do {
            try FileManager.default.createDirectory(atPath: directory + "/partial", withIntermediateDirectories: true)
        } catch {
            throw StoreError(.storageFailed, "cannot create \(directory): \(error.localizedDescription)")
        }
    }

    /// Renames a synced file to its hash and syncs the directory.
    private func moveIntoPlace(_ source: String, hash: String) throws {
        guard rename(source, path(of: hash)) == 0 else { throw StoreError(.storageFailed, "cannot move a file into \(directory): errno \(errno)") }
        _ = chmod(path(of: hash), 0o444)
        try Self.syncDirectory(directory)
    }

    private static func sync(_ handle: FileHandle, what: String) throws {
        do { try handle.synchronize() } catch { throw StoreError(.storageFailed, "cannot sync a file in \(what): \(error.localizedDescription)") }
    }

    static func syncDirectory(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError(.storageFailed, "cannot open the directory \(path): errno \(errno)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StoreError(.storageFailed, "cannot sync the directory \(path): errno \(errno)") }
    }

    static func hex<D: Sequence<UInt8>>(_ digest: D) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
