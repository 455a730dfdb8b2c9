import InspectorCore
import InspectorProtocol
import InspectorStore

extension SyncClient {
    /// What the upload of a session did.
    struct Upload {
        var files = 0
        var bytes: Int64 = 0
    }

    /// Sends the files of this device's attachments that the hub has not confirmed (PROTOCOL.md 20),
    /// after the session's ops: each is offered, and sent from the byte the hub holds durably, in
    /// chunks of 256 KiB, up to ``InspectorProtocol/Message/Chunk/window`` of them unanswered. A file
    /// the hub answers with its whole size is confirmed without a byte sent (sent once, ever).
    ///
    /// Memory stays bounded by the window whatever the file's size. A cut ends the session; the next
    /// sync resumes each file where the hub's acknowledgements stopped.
    func upload(_ conversation: inout Conversation) async throws -> Upload {
        var upload = Upload()
        let pending = try await store.attachedFiles().filter { !$0.isConfirmed }
        guard !pending.isEmpty else { return upload }
        let files = store.attachmentFiles
        let total = pending.reduce(Int64(0)) { $0 + $1.size }
        var done: Int64 = 0
        var pacing = ChunkPacing()
        progress?(.uploading(bytes: 0, total: total))
        for file in pending {
            guard files.holds(file.hash) else {
                throw SyncError(.storageFailed, "the file \(file.hash.prefix(16))… (\(file.names.joined(separator: ", "))) is missing from \(files.directory); it cannot be sent")
            }
            let answer = try await conversation.request(.offer(Message.Offer(hash: file.hash, size: file.size)))
            let have: Int64
            switch answer {
            case .want(let state) where state.hash == file.hash && state.have >= 0 && state.have <= file.size:
                have = state.have
            case .error(let error) where error.code == .unknownAttachment:
                // Its op has not reached the hub (set aside after a refusal, say): nothing to send now.
                done += file.size
                continue
            case .error(let error):
                throw SyncError(.refusedByHub, "the hub refused the file \(file.hash.prefix(16))…: \(error.message)", hubCode: error.code)
            default:
                throw SyncError(.protocolViolation, "the hub answered an offer with '\(answer.verb)'")
            }
            var acknowledged = have
            var next = have
            var inFlight = 0
            progress?(.uploading(bytes: done + acknowledged, total: total))
            while acknowledged < file.size {
                if inFlight == 0 && next >= file.size { next = acknowledged }  // every answer is in: send the rest again
                while inFlight < Message.Chunk.window && next < file.size {
                    let count = Int(min(Int64(pacing.chunkBytes), file.size - next))
                    let data = try files.read(file.hash, at: next, count: count)
                    guard data.count == count else {
                        throw SyncError(.storageFailed, "the file \(file.hash.prefix(16))… is shorter than its \(file.size) bytes")
                    }
                    try await conversation.send(.chunk(Message.Chunk(hash: file.hash, offset: next, data: data)))
                    next += Int64(count)
                    upload.bytes += Int64(count)
                    inFlight += 1
                }
                let reply = try await conversation.receive()
                switch reply {
                case .stored(let state) where state.hash == file.hash && state.have >= acknowledged && state.have <= file.size:
                    acknowledged = state.have
                    // The hub may hold more than this session sent (a cut session's last chunks).
                    next = max(next, acknowledged)
                    inFlight -= 1
                    pacing.acknowledged()
                    progress?(.uploading(bytes: done + acknowledged, total: total))
                case .error(let error):
                    throw SyncError(.refusedByHub, "the hub refused a chunk of the file \(file.hash.prefix(16))…: \(error.message)", hubCode: error.code)
                default:
                    throw SyncError(.protocolViolation, "the hub answered a chunk with '\(reply.verb)'")
                }
            }
            try await store.markAttachmentConfirmed(file.hash)
            upload.files += 1
            done += file.size
        }
        return upload
    }

    /// The chunk size a device asks for when it fetches: 64 KiB, a line of about 87 KB, which a link
    /// of 2 KB/s still brings within the device's 60 s wait for each answer.
    static let fetchChunkBytes = 64 << 10

    /// What the download of a session did.
    struct Download {
        var files = 0
        var bytes: Int64 = 0
    }

    /// Fetches the files the device asked for, and by its policy every file it lacks (PROTOCOL.md
    /// 20.4), after the uploads: each from the byte it holds durably, to the end, each chunk made
    /// durable as it arrives; the whole file is checked against its hash before it counts as held.
    /// A file the hub does not hold yet is left for a later sync.
    func download(_ conversation: inout Conversation) async throws -> Download {
        var download = Download()
        let wanted = try await store.filesToFetch()
        guard !wanted.isEmpty else { return download }
        let files = store.attachmentFiles
        let total = wanted.reduce(Int64(0)) { $0 + $1.size }
        var done: Int64 = 0
        progress?(.downloading(bytes: 0, total: total))
        for file in wanted {
            var have = files.durableLength(of: file.hash, size: file.size)
            if have < file.size {
                try await conversation.send(.fetch(Message.Fetch(hash: file.hash, offset: have, chunkBytes: Self.fetchChunkBytes)))
                receiving: while have < file.size {
                    let reply = try await conversation.receive()
                    switch reply {
                    case .chunk(let chunk) where chunk.hash == file.hash && chunk.offset == have:
                        do {
                            have = try files.append(chunk.data, at: chunk.offset, to: file.hash, size: file.size)
                        } catch let error as StoreError where error.code == .hashMismatch || error.code == .badChunk {
                            throw SyncError(.protocolViolation, "the hub sent the file \(file.hash.prefix(16))… wrong: \(error.message)")
                        }
                        download.bytes += Int64(chunk.data.count)
                        progress?(.downloading(bytes: done + have, total: total))
                    case .error(let error) where error.code == .unknownAttachment:
                        break receiving  // not at the hub yet: a later sync fetches it
                    case .error(let error):
                        throw SyncError(.refusedByHub, "the hub refused to send the file \(file.hash.prefix(16))…: \(error.message)", hubCode: error.code)
                    default:
                        throw SyncError(.protocolViolation, "the hub answered a fetch with '\(reply.verb)'")
                    }
                }
            }
            if have == file.size {
                try await store.recordFetched(file.hash)
                download.files += 1
            }
            done += file.size
        }
        return download
    }
}

/// The size of the chunks a device sends, paced by the link (PROTOCOL.md 20.5: smaller chunks on
/// slow links): each `stored` should come within a few seconds of the one before, far inside the
/// device's 60 s wait for an answer and the hub's 120 s idle timeout, which both count complete
/// lines. It starts at 64 KiB, doubles up to 256 KiB while acknowledgements come within 2 s of each
/// other, and halves down to 8 KiB when one takes more than 10 s.
package struct ChunkPacing {
    package private(set) var chunkBytes = 64 << 10
    private var last = ContinuousClock.now

    static let smallest = 8 << 10
    static let fast: Duration = .seconds(2)
    static let slow: Duration = .seconds(10)

    package init() {}

    package mutating func acknowledged(at now: ContinuousClock.Instant = .now) {
        let interval = now - last
        last = now
        if interval < Self.fast {
            chunkBytes = min(Message.Chunk.maximumBytes, chunkBytes * 2)
        } else if interval > Self.slow {
            chunkBytes = max(Self.smallest, chunkBytes / 2)
        }
    }
}
