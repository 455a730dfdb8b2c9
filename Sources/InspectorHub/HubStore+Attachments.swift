import Foundation
import Dispatch
import InspectorCore
import Synchronization
import InspectorProtocol
import InspectorStore

extension HubStore {
    /// The files of attachments the hub holds, beside its database (`<hub>.sqlite-attachments/`).
    public var attachmentFiles: AttachmentFiles { replica.attachmentFiles }

    /// Answers a device's `offer` (PROTOCOL.md 20): how many bytes of the file the hub holds durably.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `attachment_too_large` past the per-file limit
    ///   or when the device's ops name more than its budget, `unknown_attachment` when no
    ///   `attachment_add` of this device names the file with this size.
    public func offer(_ offer: Message.Offer, from device: String) async throws(ProtocolError) -> Message.FileState {
        guard offer.size >= 1, offer.size <= AttachmentDescriptor.maximumSize else {
            throw ProtocolError(.attachmentTooLarge, "a file holds 1 to \(AttachmentDescriptor.maximumSize) bytes (32 MiB), not \(offer.size)")
        }
        let named: Bool
        do { named = try await replica.holdsAttachment(by: device, hash: offer.hash, size: offer.size) } catch {
            throw ProtocolError(answering: error)
        }
        guard named else {
            throw ProtocolError(.unknownAttachment, "no attachment_add of \(device.excerpt(64)) held by the hub names the file \(offer.hash.prefix(16))… of \(offer.size) bytes; push the op first")
        }
        // A device's budget (PROTOCOL.md 20.7): an honest device stops at it when it attaches; the
        // hub takes no file from one whose ops name more.
        let used: Int64
        do { used = try await replica.attachmentBytes(of: device) } catch { throw ProtocolError(answering: error) }
        guard used <= ReplicaStore.attachmentBudget else {
            throw ProtocolError(.attachmentTooLarge, "the files \(device.excerpt(64))'s operations attach take \(used) bytes, over the budget of \(ReplicaStore.attachmentBudget) bytes (2 GiB) a device has; the hub takes no more of its files")
        }
        let files = attachmentFiles
        await Self.waitForQuiet(files.path(of: offer.hash))
        let have = await Self.onFileQueue { files.durableLength(of: offer.hash, size: offer.size) }
        return Message.FileState(hash: offer.hash, have: have)
    }

    /// When each file last took a chunk, by path: a session cut mid-upload still writes the chunk
    /// lines it had received, one after another, after its device has gone. A new `offer` of that
    /// file waits until it has been quiet for ``quietBeforeOffer`` (at most ``longestWaitBeforeOffer``),
    /// so that its `want` counts them and the device does not send them again.
    private static let lastAppends = Mutex<[String: ContinuousClock.Instant]>([:])
    static let quietBeforeOffer: Duration = .milliseconds(300)
    static let longestWaitBeforeOffer: Duration = .seconds(5)

    private static func waitForQuiet(_ key: String) async {
        let deadline = ContinuousClock.now + longestWaitBeforeOffer
        while ContinuousClock.now < deadline {
            guard let last = lastAppends.withLock({ $0[key] }) else { return }
            let quiet = ContinuousClock.now - last
            if quiet >= quietBeforeOffer { return }
            try? await Task.sleep(for: quietBeforeOffer - quiet)
        }
    }

    /// Takes a `chunk` of a file offered in the session, durably, before it is acknowledged.
    ///
    /// - Parameter size: the file's size, from the session's `offer`.
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_chunk` (another offset than the hub holds,
    ///   past the size), `hash_mismatch` (the whole file is not its hash: discarded), `storage_failed`.
    public func store(_ chunk: Message.Chunk, size: Int64) async throws(ProtocolError) -> Message.FileState {
        let files = attachmentFiles
        let key = files.path(of: chunk.hash)
        let result: Result<Int64, any Error> = await Self.onFileQueue {
            Result { try files.append(chunk.data, at: chunk.offset, to: chunk.hash, size: size) }
        }
        Self.lastAppends.withLock { appends in
            if case .success(let have) = result, have == size { appends[key] = nil } else { appends[key] = .now }
        }
        switch result {
        case .success(let have): return Message.FileState(hash: chunk.hash, have: have)
        case .failure(let error): throw ProtocolError(answering: error)
        }
    }

    /// The size of the whole file of `hash` when the hub holds it and an `attachment_add` in `scope`
    /// names it.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `unknown_attachment` otherwise.
    public func fetchable(_ hash: String, scope: Set<String>) async throws(ProtocolError) -> Int64 {
        // The size is the held file's (verified against its hash), which an op in scope must name.
        let files = attachmentFiles
        let held = files.holds(hash)
            ? (try? FileManager.default.attributesOfItem(atPath: files.path(of: hash))[.size] as? NSNumber)?.int64Value : nil
        let named: Bool
        do { named = try await replica.namesAttachment(hash: hash, size: held ?? -1, inUnits: scope) } catch { throw ProtocolError(answering: error) }
        guard let held, named else {
            throw ProtocolError(.unknownAttachment, held == nil
                ? "the hub does not hold the file \(hash.prefix(16))…: it is unknown, or its device has not sent it yet"
                : "no attachment in this device's units names the file \(hash.prefix(16))…")
        }
        return held
    }

    /// Up to `count` bytes of the held file of `hash` from `offset`.
    public func readFile(_ hash: String, at offset: Int64, count: Int) async throws(ProtocolError) -> [UInt8] {
        let files = attachmentFiles
        let result: Result<[UInt8], any Error> = await Self.onFileQueue { Result { try files.read(hash, at: offset, count: count) } }
        switch result {
        case .success(let bytes): return bytes
        case .failure(let error): throw ProtocolError(answering: error)
        }
    }

    /// One queue for every file write of the process: chunks of the same file from two sessions are
    /// taken one after the other, and the blocking writes and syncs stay off Swift's cooperative pool.
    private static let fileQueue = DispatchQueue(label: "InspectorHub.attachments")

    static func onFileQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            fileQueue.async { continuation.resume(returning: body()) }
        }
    }
}
