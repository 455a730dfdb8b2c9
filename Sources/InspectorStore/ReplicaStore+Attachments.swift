import Foundation
import GRDB
import InspectorCore

extension ReplicaStore {
    /// The most bytes of attachments one device records: 2 GiB (PROTOCOL.md 14).
    public static let attachmentBudget: Int64 = 2 << 30

    /// A file this device attached, and whether the hub has said it holds it.
    public struct AttachedFile: Hashable, Sendable {
        public var hash: String
        public var size: Int64
        /// The names it was attached under, sorted.
        public var names: [String]
        /// Whether the hub holds the whole, verified file.
        public var isConfirmed: Bool
        public init(hash: String, size: Int64, names: [String], isConfirmed: Bool) {
            self.hash = hash
            self.size = size
            self.names = names
            self.isConfirmed = isConfirmed
        }
    }

    /// Which files of attachments a device's sync fetches from the hub (PROTOCOL.md 20.4).
    public enum AttachmentPolicy: String, Sendable, CaseIterable {
        /// Every file attached in the device's scope.
        case all
        /// None: files are fetched one by one, on demand (`inspector attachment get`).
        case none
        /// This device's own files: held from the start, fetched again only when gone (a replica
        /// restored without its files, say). The default.
        case own
    }

    /// The content of this replica's attachments, beside its database file.
    public var attachmentFiles: AttachmentFiles { AttachmentFiles(besideDatabaseAt: path) }

    /// Attaches the file at `path` to a finding, as this device: the file is copied into the
    /// replica's attachments (once per content), then an `attachment_add` op records it.
    ///
    /// - Parameters:
    ///   - path: the file: a photo, a scan or a PDF (its type is read from its content).
    ///   - finding: the id of a finding the replica holds, not retracted.
    ///   - name: the name to show; the file's base name when nil.
    /// - Returns: the recorded operation.
    /// - Throws: ``StoreError`` `unknown_finding`, `invalid_argument` (a retracted finding),
    ///   `already_exists` (this file is already attached to it), `attachment_too_large` (over 32 MiB, or past this device's budget),
    ///   `unsupported_attachment`, `out_of_scope`; ``InspectorCore/CoreError`` for a name that cannot
    ///   be carried. Nothing is recorded when it throws.
    @discardableResult
    public func attach(fileAt path: String, toFinding finding: String, name: String? = nil) throws -> Op {
        let (location, used) = try read { db in (try Self.attachTarget(db, finding), try Self.attachedBytes(db)) }
        let (unit, make, file) = try prepareAttachment(fileAt: path, finding: finding, name: name, location: location, used: used)
        return try write { db in
            try Self.checkNotAttached(db, hash: file.hash, finding: finding)
            return try recording(unit: unit, now: clock(), also: Self.recordFile(file), make)(db)
        }
    }

    /// Attaches a file like ``attach(fileAt:toFinding:name:)``, without blocking the calling thread.
    @discardableResult
    public func attach(fileAt path: String, toFinding finding: String, name: String? = nil) async throws -> Op {
        let (location, used) = try await read { db in (try Self.attachTarget(db, finding), try Self.attachedBytes(db)) }
        let (unit, make, file) = try prepareAttachment(fileAt: path, finding: finding, name: name, location: location, used: used)
        let record = recording(unit: unit, now: clock(), also: Self.recordFile(file), make)
        return try await write { db in
            try Self.checkNotAttached(db, hash: file.hash, finding: finding)
            return try record(db)
        }
    }

    /// The files this device attached, those the hub has not confirmed first.
    public func attachedFiles() throws -> [AttachedFile] {
        try read { db in try Self.attachedFiles(db, device: device) }
    }

    /// The files this device attached, without blocking the calling thread.
    public func attachedFiles() async throws -> [AttachedFile] {
        let device = self.device
        return try await read { db in try Self.attachedFiles(db, device: device) }
    }

    /// Records that the hub holds the whole file of `hash`.
    package func markAttachmentConfirmed(_ hash: String) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE attachment_files SET confirmed = 1 WHERE hash = ?", arguments: [hash])
        }
    }

    /// Whether the log holds an `attachment_add` of `device` for the file `hash` of `size` bytes
    /// (what a hub asks before it takes the file's bytes).
    package func holdsAttachment(by device: String, hash: String, size: Int64) async throws -> Bool {
        try await read { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM names WHERE name = ?", arguments: [device]) else { return false }
            let prefix = "\(hash) \(size) "
            return try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM ops INDEXED BY ops_attachments
                               WHERE kind = 3 AND device = ? AND set_aside = 0 AND substr(value, 1, ?) = ?)
                """, arguments: [id, prefix.utf8.count, prefix]) ?? false
        }
    }

    /// The bytes of the distinct files `device`'s `attachment_add` ops name (its budget's use, 20.7).
    package func attachmentBytes(of device: String) async throws -> Int64 {
        try await read { db in
            var sizes: [String: Int64] = [:]
            for value in try String.fetchAll(db, sql: """
                SELECT value FROM ops INDEXED BY ops_attachments
                WHERE kind = 3 AND set_aside = 0 AND device = (SELECT id FROM names WHERE name = ?)
                """, arguments: [device]) {
                if let descriptor = try? AttachmentDescriptor(parsing: value) { sizes[descriptor.hash] = descriptor.size }
            }
            return sizes.values.reduce(0, +)
        }
    }

    /// Every file named by an `attachment_add` the log holds, by hash (one descriptor each).
    package func attachmentDescriptors() async throws -> [String: AttachmentDescriptor] {
        try await read { db in
            var result: [String: AttachmentDescriptor] = [:]
            for value in try String.fetchAll(db, sql: "SELECT value FROM ops INDEXED BY ops_attachments WHERE kind = 3 AND set_aside = 0") {
                if let descriptor = try? AttachmentDescriptor(parsing: value), result[descriptor.hash] == nil { result[descriptor.hash] = descriptor }
            }
            return result
        }
    }

    /// Which files a sync fetches; ``AttachmentPolicy/own`` until set.
    public func attachmentPolicy() throws -> AttachmentPolicy {
        try read { db in try Self.meta(db, .fetchAttachments).flatMap(AttachmentPolicy.init(rawValue:)) ?? .own }
    }

    /// Sets which files a sync fetches.
    public func setAttachmentPolicy(_ policy: AttachmentPolicy) throws {
        try write { db in try Self.setMeta(db, .fetchAttachments, policy.rawValue) }
    }

    /// Asks the next sync to fetch the file of `hash` (an attachment the replica knows of).
    ///
    /// - Returns: the attachment's descriptor.
    /// - Throws: ``StoreError`` `not_found` when no attachment the replica holds has this hash (or
    ///   this prefix of at least 8 hex digits, when only one does).
    @discardableResult
    public func requestAttachment(_ hashOrPrefix: String) throws -> AttachmentDescriptor {
        let descriptor = try attachment(hashOrPrefix)
        if !attachmentFiles.holds(descriptor.hash) {
            try write { db in
                try db.execute(sql: "INSERT INTO attachment_wanted (hash) VALUES (?) ON CONFLICT (hash) DO NOTHING", arguments: [descriptor.hash])
                try db.execute(sql: "DELETE FROM attachment_evicted WHERE hash = ?", arguments: [descriptor.hash])
            }
        }
        return descriptor
    }

    /// The attachment whose file has this hash, or this prefix of it (at least 8 hex digits, one match).
    public func attachment(_ hashOrPrefix: String) throws -> AttachmentDescriptor {
        let prefix = try Self.attachmentPrefix(hashOrPrefix)
        return try Self.onlyAttachment(try read { db in try Self.attachments(db, prefix: prefix) }, prefix: prefix)
    }

    /// The attachment whose file has this hash or prefix, like ``attachment(_:)``, without blocking the calling thread.
    public func attachment(_ hashOrPrefix: String) async throws -> AttachmentDescriptor {
        let prefix = try Self.attachmentPrefix(hashOrPrefix)
        return try Self.onlyAttachment(try await read { db in try Self.attachments(db, prefix: prefix) }, prefix: prefix)
    }

    private static func attachmentPrefix(_ hashOrPrefix: String) throws -> String {
        let prefix = hashOrPrefix.lowercased()
        guard prefix.utf8.count >= 8, prefix.utf8.count <= 64, prefix.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw StoreError(.invalidArgument, "an attachment is named by its SHA-256 (or its first 8 or more hex digits), not '\(hashOrPrefix.excerpt(70))'")
        }
        return prefix
    }

    private static func attachments(_ db: Database, prefix: String) throws -> [AttachmentDescriptor] {
        try String.fetchAll(db, sql: "SELECT DISTINCT value FROM ops INDEXED BY ops_attachments WHERE kind = 3 AND set_aside = 0 AND substr(value, 1, ?) = ?",
                            arguments: [prefix.utf8.count, prefix]).compactMap { try? AttachmentDescriptor(parsing: $0) }
    }

    private static func onlyAttachment(_ matches: [AttachmentDescriptor], prefix: String) throws -> AttachmentDescriptor {
        let hashes = Set(matches.map(\.hash))
        guard let first = matches.first, hashes.count == 1 else {
            throw StoreError(hashes.isEmpty ? .notFound : .invalidArgument, hashes.isEmpty
                ? "no attachment with the hash '\(prefix)'; 'show' lists the attachments of each finding"
                : "\(hashes.count) attachments start with '\(prefix)'; give more of the hash")
        }
        return first
    }

    /// The files a sync should fetch now: those asked for, and, by the policy, every file in the
    /// replica not held here yet; with their sizes.
    package func filesToFetch() async throws -> [AttachmentDescriptor] {
        let files = attachmentFiles
        let device = self.device
        // Plain values out of the read (rows are not Sendable), so that it runs off the caller's thread.
        let (policy, wanted, evicted, all) = try await read { db -> (AttachmentPolicy, [String], Set<String>, [[String]]) in
            (try Self.meta(db, .fetchAttachments).flatMap(AttachmentPolicy.init(rawValue:)) ?? .own,
             try String.fetchAll(db, sql: "SELECT hash FROM attachment_wanted ORDER BY hash"),
             Set(try String.fetchAll(db, sql: "SELECT hash FROM attachment_evicted")),
             try Row.fetchAll(db, sql: """
                SELECT d.name AS device, o.value AS value FROM ops AS o INDEXED BY ops_attachments JOIN names AS d ON d.id = o.device
                WHERE o.kind = 3 AND o.set_aside = 0 ORDER BY o.hlc
                """).map { [$0["device"], $0["value"]] })
        }
        var byHash: [String: AttachmentDescriptor] = [:]
        var order: [String] = []
        var own: Set<String> = []
        for row in all {
            guard let descriptor = try? AttachmentDescriptor(parsing: row[1]) else { continue }
            if row[0] == device { own.insert(descriptor.hash) }
            guard byHash[descriptor.hash] == nil else { continue }
            byHash[descriptor.hash] = descriptor
            order.append(descriptor.hash)
        }
        // What the policy brings, but what this replica evicted (until asked for again), and what was asked for.
        let chosen: [String]
        switch policy {
        case .all: chosen = order.filter { !evicted.contains($0) || wanted.contains($0) }
        case .own: chosen = Array(Set(wanted).union(own.subtracting(evicted))).filter { byHash[$0] != nil }.sorted()
        case .none: chosen = wanted.filter { byHash[$0] != nil }
        }
        return chosen.filter { !files.holds($0) }.compactMap { byHash[$0] }
    }

    /// Records that the file of `hash` is now held here (fetched whole and verified).
    package func recordFetched(_ hash: String) async throws {
        try await write { db in try db.execute(sql: "DELETE FROM attachment_wanted WHERE hash = ?", arguments: [hash]) }
    }

    /// Removes held files the hub holds, oldest attachment first, until the files held here take at
    /// most `budget` bytes. A file of this device that the hub has not confirmed is never removed.
    /// A removed file is not fetched again by the policy, only when asked for (``requestAttachment(_:)``).
    ///
    /// - Returns: the hashes removed.
    @discardableResult
    public func evictAttachments(keepingAtMost budget: Int64) throws -> [String] {
        let files = attachmentFiles
        let (values, unconfirmed) = try read { db in
            (try String.fetchAll(db, sql: "SELECT value FROM ops INDEXED BY ops_attachments WHERE kind = 3 AND set_aside = 0 ORDER BY hlc"),
             Set(try String.fetchAll(db, sql: "SELECT hash FROM attachment_files WHERE confirmed = 0")))
        }
        var sizes: [String: Int64] = [:]
        var order: [String] = []
        for value in values {
            guard let descriptor = try? AttachmentDescriptor(parsing: value), sizes[descriptor.hash] == nil,
                  files.holds(descriptor.hash) else { continue }
            sizes[descriptor.hash] = descriptor.size
            order.append(descriptor.hash)
        }
        var held = sizes.values.reduce(0, +)
        var removed: [String] = []
        for hash in order where held > budget && !unconfirmed.contains(hash) {
            try files.remove(hash)
            held -= sizes[hash]!
            removed.append(hash)
        }
        // Not fetched again by the policy; `requestAttachment` brings one back.
        try write { db in
            for hash in removed {
                try db.execute(sql: "INSERT INTO attachment_evicted (hash) VALUES (?) ON CONFLICT (hash) DO NOTHING", arguments: [hash])
                try db.execute(sql: "DELETE FROM attachment_wanted WHERE hash = ?", arguments: [hash])
            }
        }
        return removed
    }

    /// Whether an `attachment_add` in one of `units` names the file `hash` with `size` bytes (what
    /// a hub checks before it sends a file to a device of that scope).
    package func namesAttachment(hash: String, size: Int64, inUnits units: Set<String>) async throws -> Bool {
        try await read { db in
            let prefix = "\(hash) \(size) "
            for row in try Row.fetchAll(db, sql: """
                SELECT u.name AS unit FROM ops AS o INDEXED BY ops_attachments JOIN names AS u ON u.id = o.unit
                WHERE o.kind = 3 AND o.set_aside = 0 AND substr(o.value, 1, ?) = ?
                """, arguments: [prefix.utf8.count, prefix]) where units.contains(row["unit"]) {
                return true
            }
            return false
        }
    }

    // MARK: - Helpers

    private func prepareAttachment(fileAt path: String, finding: String, name: String?, location: FindingLocation?, used: Int64)
        throws -> (String, @Sendable (Int64, HLCTimestamp) -> Op, AttachmentFiles.Examined)
    {
        guard let location else {
            throw StoreError(.unknownFinding, "no finding with id '\(finding.excerpt(80))'; 'show' lists the findings and their ids")
        }
        guard self.path != "", self.path != ":memory:" else {
            throw StoreError(.invalidArgument, "an in-memory replica keeps no files")
        }
        let shown = Text.nfc(name ?? AttachmentFiles.baseName(path))
        try AttachmentDescriptor.checkName(shown)
        // The budget first, from the file's size on disk, so that a refused file is never copied.
        let onDisk = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        guard used + onDisk <= Self.attachmentBudget else {
            throw StoreError(.attachmentTooLarge, "this device has attached \(used >> 20) MiB; '\(shown.excerpt(80))' (\(onDisk) bytes) would pass its budget of \(Self.attachmentBudget >> 30) GiB; nothing was attached")
        }
        let file = try attachmentFiles.add(fileAt: path)
        let descriptor = try AttachmentDescriptor(hash: file.hash, size: file.size, type: file.type, name: shown)
        let device = self.device
        return (location.unit, { sequence, timestamp in
            .attachmentAdd(device: device, sequence: sequence, timestamp: timestamp, unit: location.unit, item: location.item,
                           finding: finding, descriptor: descriptor)
        }, file)
    }

    private static func attachTarget(_ db: Database, _ id: String) throws -> FindingLocation? {
        guard let row = try Row.fetchOne(db, sql: "SELECT unit, item FROM finding_rows WHERE id = ?", arguments: [id]) else { return nil }
        if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM retractions WHERE finding = ?)", arguments: [id]) == true {
            throw StoreError(.invalidArgument, "finding '\(id.excerpt(80))' is retracted; attach files to a finding that stands")
        }
        return FindingLocation(unit: row["unit"], item: row["item"])
    }

    private static func attachedBytes(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(size), 0) FROM attachment_files") ?? 0
    }

    private static func checkNotAttached(_ db: Database, hash: String, finding: String) throws {
        let prefix = hash + " "
        let already = try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM ops INDEXED BY ops_attachments
                           WHERE kind = 3 AND finding = ? AND set_aside = 0 AND substr(value, 1, 65) = ?)
            """, arguments: [finding, prefix]) ?? false
        if already {
            throw StoreError(.alreadyExists, "this file (sha256 \(hash.prefix(16))…) is already attached to finding '\(finding.excerpt(80))'; nothing was recorded")
        }
    }

    private static func recordFile(_ file: AttachmentFiles.Examined) -> @Sendable (Database, Op) throws -> Void {
        { db, _ in
            try db.execute(sql: "INSERT INTO attachment_files (hash, size) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING",
                           arguments: [file.hash, file.size])
        }
    }

    static func attachedFiles(_ db: Database, device: String) throws -> [AttachedFile] {
        var names: [String: Set<String>] = [:]
        for value in try String.fetchAll(db, sql: """
            SELECT value FROM ops INDEXED BY ops_attachments
            WHERE kind = 3 AND device = (SELECT id FROM names WHERE name = ?)
            """, arguments: [device]) {
            if let descriptor = try? AttachmentDescriptor(parsing: value) { names[descriptor.hash, default: []].insert(descriptor.name) }
        }
        return try Row.fetchAll(db, sql: "SELECT hash, size, confirmed FROM attachment_files ORDER BY confirmed, rowid").map { row in
            let hash: String = row["hash"]
            return AttachedFile(hash: hash, size: row["size"], names: (names[hash] ?? []).sorted(), isConfirmed: row["confirmed"] != 0)
        }
    }
}
