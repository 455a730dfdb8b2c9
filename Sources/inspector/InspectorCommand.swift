import ArgumentParser
import Foundation
import InspectorCore
import InspectorPlans
import InspectorProtocol
import InspectorStore
import InspectorSyncClient
import InspectorTLS

@main
struct InspectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspector",
        abstract: "An inspector's device replica: record checklist values and findings offline, sync later.",
        subcommands: [Init.self, Link.self, Set.self, Finding.self, Attach.self, Attachment.self, Show.self, Watch.self, Export.self, Log.self, Bundle.self, Sync.self, Status.self]
    )
}

struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "The replica's SQLite file.")
    var db: String

    func open() throws -> ReplicaStore {
        try ReplicaStore.open(at: db)
    }
}

extension InspectorCommand {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a replica for this device, and its key.",
            discussion: """
                Give the hub either as --hub HOST:PORT --token LINE (the line 'hub device add' printed) or as \
                --enroll CODE (the code 'hub device add --address' printed, or its QR code). The device's key is \
                made beside the replica (FILE.key, readable by its owner only); the hub's key is pinned.
                """)
        @OptionGroup var database: DatabaseOption
        @Option(help: "This device's id (a-z, 0-9, '-', '_', '.'); the enrollment code carries it.") var device: String?
        @Option(help: "A plan file to use instead of the built-in Kế hoạch 1181/KH-HĐTĐKT.") var plan: String?
        @Option(help: "The hub's address, HOST:PORT.") var hub: String?
        @Option(help: "The enrollment line the hub gave this device (SECRET@sha256:…).") var token: String?
        @Option(help: "The enrollment code the hub gave this device (inspector://…): device, hub and line in one.") var enroll: String?
        @Option(help: "Which files of attachments a sync fetches: all (every one in this device's units), none (only on demand), own (the default).")
        var fetchAttachments: String?

        func run() throws {
            let plan = try plan.map { try BuiltInPlans.load(contentsOf: URL(fileURLWithPath: $0)) } ?? BuiltInPlans.current()
            let link = try HubLinkOptions(hub: hub, token: token, enroll: enroll, device: device)
            guard let id = device ?? link?.device else { throw ValidationError("give --device ID, or --enroll CODE") }
            let policy = try fetchAttachments.map { text in
                guard let policy = ReplicaStore.AttachmentPolicy(rawValue: text) else {
                    throw ValidationError("--fetch-attachments is all, none or own, not '\(text)'")
                }
                return policy
            }
            let store = try ReplicaStore.create(at: database.db, device: id, plan: plan)
            print("created replica \(database.db) for device \(id) with plan \(plan.id) (\(plan.items.count) items, \(plan.units.count) units)")
            if let policy { try store.setAttachmentPolicy(policy) }
            if let link { try link.save(in: store) }
        }
    }

    struct Link: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Point an existing replica at its hub again: a new enrollment, or the hub's key for a replica of an earlier release.",
            discussion: """
                After 'hub device reenroll', give the new line (--hub HOST:PORT --token LINE) or code (--enroll CODE). \
                A replica made before protocol 2 keeps its token as its enrollment secret: pin the hub's key with \
                --hub-key sha256:… (the fingerprint 'hub status' and 'hub serve' print; check it with the hub's operator). \
                Nothing of the replica's data changes; the device's key is kept, or made if it has none.
                """)
        @OptionGroup var database: DatabaseOption
        @Option(help: "The hub's address, HOST:PORT.") var hub: String?
        @Option(help: "The enrollment line the hub gave this device (SECRET@sha256:…).") var token: String?
        @Option(help: "The enrollment code the hub gave this device (inspector://…).") var enroll: String?
        @Option(help: "The hub's key fingerprint to pin, keeping the saved secret (a replica of an earlier release).") var hubKey: String?

        func run() throws {
            let store = try database.open()
            if let hubKey {
                guard token == nil, enroll == nil else { throw ValidationError("--hub-key keeps the saved secret: leave out --token and --enroll") }
                guard let saved = try store.hubLink(), let secret = saved.token else {
                    throw ValidationError("this replica has no saved secret; give --hub HOST:PORT --token LINE, or --enroll CODE")
                }
                let line = EnrollmentLine(secret: try EnrollmentLine(parsing: secret).secret, hubKey: try KeyFingerprint(parsing: hubKey))
                let link = try HubLinkOptions(hub: hub ?? saved.address, token: line.description, enroll: nil, device: store.device)
                try link?.save(in: store)
                return
            }
            guard let link = try HubLinkOptions(hub: hub, token: token, enroll: enroll, device: store.device) else {
                throw ValidationError("give --hub HOST:PORT --token LINE, --enroll CODE, or --hub-key FINGERPRINT")
            }
            try link.save(in: store)
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set one field of a checklist item.")
        @OptionGroup var database: DatabaseOption
        @Argument(help: "Unit id, e.g. muong-lay.") var unit: String
        @Argument(help: "Item id, e.g. II.4.") var item: String
        @Argument(help: "Field id, e.g. status.") var field: String
        @Argument(help: "The value.") var value: String

        func run() throws {
            let op = try database.open().set(unit: unit, item: item, field: field, value: value)
            print("\(op.unit) \(op.item!) \(op.field!) = \(op.value)  (op \(op.device)#\(op.sequence))")
        }
    }

    struct Finding: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record or retract findings.", subcommands: [Add.self, Retract.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add a finding; prints its id on the last line.")
            @OptionGroup var database: DatabaseOption
            @Option(help: "Unit id.") var unit: String
            @Option(help: "Item id the finding belongs under.") var item: String?
            @Option(help: "shortcoming | good_practice | recommendation | observation") var kind: String
            @Option(help: "The finding's text.") var text: String
            @Option(name: .customLong("attach"), help: "A photo, scan or PDF to attach to the finding (repeatable; 32 MiB each at most).")
            var files: [String] = []

            func run() throws {
                let kind = try FindingKind(parsing: kind)
                let store = try database.open()
                // Every file is checked before the finding is recorded, so a refused file records nothing.
                for file in files { try Attach.check(file) }
                let op = try store.addFinding(unit: unit, item: item, kind: kind, text: text)
                for file in files {
                    let attached = try store.attach(fileAt: file, toFinding: op.finding!)
                    print(Attach.describe(attached))
                }
                print(op.finding!)
            }
        }

        struct Retract: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Retract a finding, with a reason (the finding stays, marked retracted).")
            @OptionGroup var database: DatabaseOption
            @Argument(help: "The finding's id, as 'finding add' printed it.") var id: String
            @Option(help: "Why it is retracted.") var reason: String

            func run() throws {
                let op = try database.open().retractFinding(id, reason: reason)
                print("retracted \(op.finding!)")
            }
        }
    }

    struct Attach: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach a photo, a scan or a PDF to a finding; the file is sent to the hub at the next sync.")
        @OptionGroup var database: DatabaseOption
        @Argument(help: "The finding's id, as 'finding add' printed it.") var finding: String
        @Argument(help: "The file (JPEG, PNG, GIF, WebP, HEIC, TIFF or PDF; 32 MiB at most).") var file: String
        @Option(help: "The name to show instead of the file's own.") var name: String?

        func run() throws {
            let op = try database.open().attach(fileAt: file, toFinding: finding, name: name)
            print(Self.describe(op))
        }

        /// One line for an `attachment_add`.
        static func describe(_ op: Op) -> String {
            guard let file = op.attachment else { return "attached #\(op.sequence)" }
            return "attached \(file.name) (\(file.type.rawValue), \(file.size) bytes, sha256 \(file.hash)) to \(op.finding ?? "?") as #\(op.sequence)"
        }

        /// Refuses a file that could not be attached, before anything is recorded.
        static func check(_ path: String) throws {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw StoreError(.notFound, "cannot read the file '\(path)'")
            }
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()).map(Int64.init) ?? 0
            guard size <= AttachmentDescriptor.maximumSize else {
                throw StoreError(.attachmentTooLarge, "'\(path)' holds \(size) bytes, over the limit of \(AttachmentDescriptor.maximumSize) bytes (32 MiB) per file; nothing was recorded")
            }
            try handle.seek(toOffset: 0)
            let prefix = [UInt8](try handle.read(upToCount: AttachmentDescriptor.MediaType.sniffedPrefixLength) ?? Data())
            guard AttachmentDescriptor.MediaType.sniff(prefix) != nil else {
                throw StoreError(.unsupportedAttachment, "'\(path)' is not a photo, a scan or a PDF (its content is none of: \(AttachmentDescriptor.MediaType.allCases.map(\.rawValue).joined(separator: ", "))); nothing was recorded")
            }
        }
    }

    struct Attachment: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Files attached to findings: fetch one from the hub, or free space.",
            subcommands: [Get.self, Evict.self, Policy.self])

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write an attachment's file to FILE, fetching it from the hub when this device does not hold it.")
            @OptionGroup var database: DatabaseOption
            @Argument(help: "The attachment's SHA-256 (or its first 8 or more hex digits), as 'show' prints it.") var id: String
            @Option(help: "Where to write the file.") var out: String
            @Flag(help: "Sync in clear with a lab hub whose enrollment line carries no key (never in the field).") var insecurePlaintext = false

            func run() async throws {
                let store = try database.open()
                let descriptor = try store.requestAttachment(id)
                if !store.attachmentFiles.holds(descriptor.hash) {
                    let summary = try await SyncClient(store: store, allowsPlaintext: insecurePlaintext).sync()
                    guard store.attachmentFiles.holds(descriptor.hash) else {
                        throw SyncError(.refusedByHub, "the hub does not hold \(descriptor.name) yet (the device that attached it has not sent it); try again after its next sync (synced: pulled \(summary.pulled))")
                    }
                }
                try store.attachmentFiles.copy(descriptor.hash, to: out)
                print("wrote \(descriptor.name) (\(descriptor.type.rawValue), \(descriptor.size) bytes, sha256 \(descriptor.hash)) to \(out)")
            }
        }

        struct Policy: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show or set which files a sync fetches: all (every one in this device's units), none (only on demand), own (the default).")
            @OptionGroup var database: DatabaseOption
            @Argument(help: "all, none or own; omitted: print the policy.") var policy: String?

            func run() throws {
                let store = try database.open()
                if let policy {
                    guard let chosen = ReplicaStore.AttachmentPolicy(rawValue: policy) else {
                        throw ValidationError("the policy is all, none or own, not '\(policy)'")
                    }
                    try store.setAttachmentPolicy(chosen)
                }
                print("fetch attachments: \(try store.attachmentPolicy().rawValue)")
            }
        }

        struct Evict: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Remove files the hub holds until this device's files take at most BYTES; never one the hub lacks.")
            @OptionGroup var database: DatabaseOption
            @Option(help: "The most bytes of files to keep.") var budget: Int64

            func run() throws {
                let removed = try database.open().evictAttachments(keepingAtMost: max(0, budget))
                print("removed \(removed.count) file(s) the hub holds; 'attachment get' fetches one again")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the checklist, values and findings as a table.")
        @OptionGroup var database: DatabaseOption
        @Option(help: "Only this unit.") var unit: String?

        func run() throws {
            let store = try database.open()
            if let unit { try store.checkKnownUnit(unit) }
            print(try store.dataset(unitIDs: unit.map { [$0] } ?? store.scope()).textTable(), terminator: "")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the dataset in its canonical JSON shape.")
        @OptionGroup var database: DatabaseOption
        @Flag(help: "Print JSON (the only format).") var json = false

        func run() throws {
            guard json else { throw ValidationError("say --json: the dataset is printed as JSON") }
            let store = try database.open()
            print(try store.dataset(unitIDs: store.scope()).canonicalJSON(), terminator: "")
        }
    }

    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the operation log, one line per op, oldest first.")
        @OptionGroup var database: DatabaseOption

        func run() throws {
            let store = try database.open()
            let setAside = Dictionary(try store.setAsideOperations().map { ($0.sequence, $0.code) }, uniquingKeysWith: { a, _ in a })
            for (position, op) in try store.operations() {
                // A set-aside op (refused by the hub) stays in the log, marked in a last column.
                let mark = op.device == store.device ? setAside[op.sequence].map { "\tset aside (\($0))" } ?? "" : ""
                print("\(position)\t\(op.timestamp.isoTime)#\(op.timestamp.counter)\t\(op.device)#\(op.sequence)\t\(op.kind.rawValue)\t\(op.logTarget)\t\(op.value)\(mark)")
            }
        }
    }

    struct Bundle: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Carry operations by hand between replicas.", subcommands: [BundleExport.self, BundleImport.self])
    }

    struct BundleExport: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export", abstract: "Write this device's operations (or the newest of them) to a signed bundle file.")
        @OptionGroup var database: DatabaseOption
        @Option(help: "The bundle file to write.") var out: String
        @Option(help: "Only operations after this log position (as a previous export printed).") var since: Int64 = 0

        func run() throws {
            let summary = try BundleTransfer.export(from: database.open(), to: URL(fileURLWithPath: out), since: since)
            print("wrote \(summary.count) operations of this device, signed, to \(out) (log positions \(summary.from + 1)–\(summary.through)); next time: --since \(summary.through)")
            if summary.files > 0 { print("with \(summary.files) attached file(s), \(summary.fileBytes) bytes") }
            if summary.othersLeftOut > 0 {
                print("left out \(summary.othersLeftOut) operations of other devices: a bundle carries only its writer's own, which it can sign")
            }
        }
    }

    struct BundleImport: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import", abstract: "Merge a bundle file, all or nothing.")
        @OptionGroup var database: DatabaseOption
        @Argument(help: "The bundle file.") var file: String

        func run() throws {
            let result = try BundleTransfer.import(from: URL(fileURLWithPath: file), into: database.open())
            print("imported \(file): \(result.applied) new, \(result.duplicates) already held, \(result.newConflicts) new conflicts")
        }
    }
}

extension Op {
    /// The target of an op as the log prints it.
    var logTarget: String {
        switch kind {
        case .set: "\(unit) \(item ?? "-") \(field ?? "-")"
        case .findingAdd: "\(unit) \(item ?? "-") \(finding ?? "-") \(findingKind?.rawValue ?? "-")"
        case .findingRetract: "\(unit) \(item ?? "-") \(finding ?? "-")"
        case .attachmentAdd: "\(unit) \(item ?? "-") \(finding ?? "-") \(attachment.map { "\($0.name) \($0.size)B" } ?? "-")"
        }
    }
}

extension InspectorCommand {
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Push what the hub lacks, pull what this device lacks.")
        @OptionGroup var database: DatabaseOption
        @Option(help: "The hub's new address, HOST:PORT, when it moved; saved for later syncs.") var hub: String?
        @Flag(help: "Print no progress.") var quiet = false
        @Flag(help: "Sync in clear with a lab hub whose enrollment line carries no key (never in the field).") var insecurePlaintext = false

        func run() async throws {
            let store = try database.open()
            if let hub {
                _ = try HubAddress(parsing: hub)
                try store.connect(toHubAt: hub)
            }
            let quiet = self.quiet
            if insecurePlaintext {
                FileHandle.standardError.write(Data("WARNING: --insecure-plaintext: without a pinned hub key this sync is unencrypted and unauthenticated\n".utf8))
            }
            let client = try SyncClient(store: store, allowsPlaintext: insecurePlaintext, progress: { progress in
                guard !quiet else { return }
                switch progress {
                case .pushing(let done, let total) where total >= 2000 && done > 0:
                    FileHandle.standardError.write(Data("  pushed \(done)/\(total)\n".utf8))
                case .pulling(let received, let total) where (total ?? received) >= 2000 && received > 0:
                    FileHandle.standardError.write(Data("  pulled \(received)\(total.map { "/\($0)" } ?? "")\n".utf8))
                case .uploading(let bytes, let total):
                    FileHandle.standardError.write(Data("  files: \(bytes)/\(total) bytes at the hub\n".utf8))
                case .downloading(let bytes, let total):
                    FileHandle.standardError.write(Data("  files: \(bytes)/\(total) bytes fetched\n".utf8))
                default: break
                }
            })
            let summary = try await client.sync()
            print("synced with \(client.address): pushed \(summary.pushed), pulled \(summary.pulled), new conflicts \(summary.newConflicts); hub confirmed up to #\(summary.confirmed)")
            if summary.filesSent > 0 {
                print("files: \(summary.filesSent) now at the hub (\(summary.fileBytesSent) bytes sent)")
            }
            if summary.filesFetched > 0 {
                print("files: \(summary.filesFetched) fetched from the hub (\(summary.fileBytesFetched) bytes received)")
            }
            if summary.corrected > 0 {
                print("corrected the time of \(summary.corrected) edit(s) made before this device's first sync: its clock was off by \(SyncStatus.describe(offset: -summary.clockOffset))")
            }
            for op in summary.refused {
                print("set aside #\(op.sequence): the hub refused it (\(op.code)): \(op.message)")
            }
            for op in summary.recordedAgain {
                print("recorded again as #\(op.sequence) with the corrected clock (\(op.timestamp.isoTime)): \(op.kind.rawValue) \(op.unit)\(op.item.map { " " + $0 } ?? "")\(op.field.map { " " + $0 } ?? "")")
            }
            if summary.released > 0 {
                print("stored \(summary.released) operation(s) held back at an earlier sync")
            }
            for op in summary.heldBack {
                print("held back \(op.device ?? "?")#\(op.sequence.map(String.init) ?? "?"): pulled but cannot be stored here (\(op.code)): \(op.message); the hub has been told, and it is tried again at every sync")
            }
            if abs(summary.clockOffset) > SyncClient.clockWarningThreshold {
                print("WARNING: this device's clock is off by \(SyncStatus.describe(offset: -summary.clockOffset)) from the hub; edits are stamped with hub-corrected time")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What the hub has confirmed, what is only here, the clock offset.")
        @OptionGroup var database: DatabaseOption

        func run() throws {
            let store = try database.open()
            print(try SyncStatus(store: store).text)
            // The keys, for reading them back to the hub's operator (docs/inspector-guide.md).
            if let saved = try store.hubLink(), let token = saved.token {
                let pin = (try? EnrollmentLine(parsing: token))?.hubKey
                print("hub key pinned at enrollment: \(pin.map { "\($0)" } ?? "none (syncs only in clear, with a lab hub)")")
            }
            let keyFile = SyncClient.keyFile(of: store)
            let key = (try? TLSIdentity.load(keyFile: keyFile)).flatMap { $0 }
            print("this device's key: \(key.map { "\($0.fingerprint) (in \(keyFile))" } ?? "none yet (made at the first sync with a hub)")")
        }
    }
}
