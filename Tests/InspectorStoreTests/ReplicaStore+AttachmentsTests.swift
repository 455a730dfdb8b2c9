import Foundation
import InspectorCore
import InspectorStore
import Testing

/// Attaching files to findings in a replica: the op, the file, the checks, and what a sync reads.
@Suite struct ReplicaStoreAttachmentsTests {
    static func write(_ bytes: [UInt8], _ name: String, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func attachingRecordsAnOpAndKeepsTheFileUntilTheHubConfirmsIt() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeStore(in: directory, device: "dev-a", clock: ManualClock())
            let finding = try await store.addFinding(unit: "muong-lay", item: "II.4", kind: .shortcoming, text: "Thiếu biên bản họp")
            let bytes = jpegBytes(50_000)
            let path = try Self.write(bytes, "Biên bản họp.jpg", in: directory)
            let op = try await store.attach(fileAt: path, toFinding: finding.finding!)
            #expect(op.kind == .attachmentAdd && op.unit == "muong-lay" && op.item == "II.4" && op.finding == finding.finding)
            let file = try #require(op.attachment)
            #expect(file.hash == sha256Hex(bytes) && file.size == 50_000 && file.type == .jpeg && file.name == "Biên bản họp.jpg")
            #expect(store.attachmentFiles.holds(file.hash))
            let dataset = try store.dataset()
            #expect(dataset.findings.first?.attachments.map(\.descriptor) == [file])
            let attached = try await store.attachedFiles()
            #expect(attached == [ReplicaStore.AttachedFile(hash: file.hash, size: 50_000, names: ["Biên bản họp.jpg"], isConfirmed: false)])
            let before = try await store.syncState()
            #expect(before.unconfirmedFiles.count == 1)
            try await store.markAttachmentConfirmed(file.hash)
            let after = try await store.syncState()
            #expect(after.unconfirmedFiles.isEmpty)
            // The op travels like any other and reads back from the log.
            #expect(try store.operations().last?.operation == op)
        }
    }

    @Test func whatCannotBeAttachedIsRefusedAndNothingIsRecorded() throws {
        try withTemporaryDirectory { directory in
            let store = try makeStore(in: directory, device: "dev-a", clock: ManualClock())
            let finding = try store.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "Mô hình dân vận khéo").finding!
            let photo = try Self.write(jpegBytes(1000), "a.jpg", in: directory)
            let text = try Self.write(Array("không phải ảnh".utf8), "note.jpg", in: directory)
            func code(_ body: () throws -> Void) -> String? {
                do { try body(); return nil } catch { return errorCode(error) }
            }
            let before = try store.operationCount()
            #expect(code { _ = try store.attach(fileAt: photo, toFinding: "dev-a/99") } == "unknown_finding")
            #expect(code { _ = try store.attach(fileAt: text, toFinding: finding) } == "unsupported_attachment")
            #expect(code { _ = try store.attach(fileAt: photo, toFinding: finding, name: "a/b.jpg") } == "invalid_value")
            #expect(try store.operationCount() == before)
            try store.attach(fileAt: photo, toFinding: finding)
            #expect(code { _ = try store.attach(fileAt: photo, toFinding: finding, name: "again.jpg") } == "already_exists")
            try store.retractFinding(finding, reason: "Ghi nhầm")
            let other = try Self.write(jpegBytes(1000, seed: 9), "b.jpg", in: directory)
            #expect(code { _ = try store.attach(fileAt: other, toFinding: finding) } == "invalid_argument")
            #expect(try store.operationCount() == before + 2)
        }
    }

    @Test func aSecondFindingMayHaveTheSameFileWhichIsStoredOnce() throws {
        try withTemporaryDirectory { directory in
            let store = try makeStore(in: directory, device: "dev-a", clock: ManualClock())
            let first = try store.addFinding(unit: "muong-lay", item: "II.4", kind: .shortcoming, text: "Một").finding!
            let second = try store.addFinding(unit: "muong-lay", item: "II.5", kind: .shortcoming, text: "Hai").finding!
            let photo = try Self.write(jpegBytes(4000), "ảnh.jpg", in: directory)
            let a = try store.attach(fileAt: photo, toFinding: first)
            let b = try store.attach(fileAt: photo, toFinding: second, name: "ảnh 2.jpg")
            #expect(a.attachment?.hash == b.attachment?.hash)
            #expect(store.attachmentFiles.heldHashes().count == 1)
            #expect(try store.attachedFiles().map(\.names) == [["ảnh 2.jpg", "ảnh.jpg"]])
        }
    }

    @Test func anAttachmentIsFoundByItsHashOrAPrefixAndAskedForByPolicy() async throws {
        try await withTemporaryDirectory { directory in
            let clock = ManualClock()
            let a = try makeStore(in: directory, device: "dev-a", clock: clock)
            let b = try makeStore(in: directory, device: "dev-b", clock: clock)
            let finding = try await a.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "Ảnh hiện trường").finding!
            let op = try await a.attach(fileAt: try Self.write(jpegBytes(2000), "x.jpg", in: directory), toFinding: finding)
            let hash = try #require(op.attachment?.hash)
            try b.merge(try a.operations().map(\.operation))
            #expect(try await b.attachment(String(hash.prefix(8))).hash == hash)
            #expect(throws: StoreError.self) { try b.attachment("1234") }
            #expect(throws: StoreError.self) { try b.attachment(String(repeating: "0", count: 64)) }
            #expect(try b.attachmentPolicy() == .own)
            #expect(try await b.filesToFetch().isEmpty, "own: nothing of others is fetched")
            try b.requestAttachment(hash)
            #expect(try await b.filesToFetch().map(\.hash) == [hash])
            try await b.recordFetched(hash)
            #expect(try await b.filesToFetch().isEmpty)
            try b.setAttachmentPolicy(.all)
            #expect(try await b.filesToFetch().map(\.hash) == [hash], "all: every file not held here")
            #expect(try await a.filesToFetch().isEmpty, "a holds its own file")
        }
    }

    @Test func evictionKeepsWhatTheHubLacks() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeStore(in: directory, device: "dev-a", clock: ManualClock())
            let finding = try await store.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "Ba ảnh").finding!
            var hashes: [String] = []
            for seed in 1...3 {
                let op = try await store.attach(fileAt: try Self.write(jpegBytes(10_000, seed: UInt64(seed)), "\(seed).jpg", in: directory), toFinding: finding)
                hashes.append(op.attachment!.hash)
            }
            try await store.markAttachmentConfirmed(hashes[0])
            try await store.markAttachmentConfirmed(hashes[2])
            #expect(try store.evictAttachments(keepingAtMost: 0) == [hashes[0], hashes[2]], "only what the hub holds, oldest first")
            #expect(store.attachmentFiles.heldHashes() == [hashes[1]])
            // Policy own: evicted files are not fetched again until asked for; a lost one is.
            #expect(try await store.filesToFetch().isEmpty)
            try store.requestAttachment(hashes[2])
            #expect(try await store.filesToFetch().map(\.hash) == [hashes[2]])
            try store.attachmentFiles.remove(hashes[1])
            #expect(Set(try await store.filesToFetch().map(\.hash)) == [hashes[1], hashes[2]], "own: a file gone from this replica is fetched again")
            try store.setAttachmentPolicy(.none)
            #expect(try await store.filesToFetch().map(\.hash) == [hashes[2]], "none: only what was asked for")
        }
    }

    @Test func aFilePastTheDevicesBudgetIsRefusedBeforeItIsCopied() throws {
        try withTemporaryDirectory { directory in
            let store = try makeStore(in: directory, device: "dev-a", clock: ManualClock())
            let finding = try store.addFinding(unit: "muong-lay", item: nil, kind: .observation, text: "Ảnh").finding!
            // The files this device attached so far take all but 999 bytes of its budget.
            try store.write { db in
                try db.execute(sql: "INSERT INTO attachment_files (hash, size) VALUES (?, ?)",
                               arguments: [String(repeating: "ab", count: 32), ReplicaStore.attachmentBudget - 999])
            }
            let before = try store.operationCount()
            do {
                try store.attach(fileAt: try Self.write(jpegBytes(1000), "a.jpg", in: directory), toFinding: finding)
                Issue.record("a file past the budget was attached")
            } catch {
                #expect(errorCode(error) == "attachment_too_large" && "\(error)".contains("2 GiB"), "\(error)")
            }
            #expect(try store.operationCount() == before)
            #expect(!FileManager.default.fileExists(atPath: store.attachmentFiles.directory), "nothing was copied")
            try store.attach(fileAt: try Self.write(jpegBytes(999), "b.jpg", in: directory), toFinding: finding)
        }
    }
}
