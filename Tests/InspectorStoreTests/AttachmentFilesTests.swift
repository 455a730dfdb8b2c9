import Crypto
import Foundation
import InspectorCore
import InspectorStore
import Testing

/// A JPEG-looking file of `count` bytes from a seed (the first bytes sniff as JPEG, the rest vary).
func jpegBytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var bytes = [UInt8](repeating: 0, count: count)
    for index in bytes.indices {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    for (index, byte) in [0xFF, 0xD8, 0xFF, 0xE0].enumerated() where index < count { bytes[index] = UInt8(byte) }
    return bytes
}

func sha256Hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

/// The content store of attachments: adding a local file, receiving one in chunks across crashes.
@Suite struct AttachmentFilesTests {
    @Test func aFileIsCopiedUnderItsHashOnceAndItsTypeIsSniffed() throws {
        try withTemporaryDirectory { directory in
            let files = AttachmentFiles(directory: directory.appendingPathComponent("files").path)
            let source = directory.appendingPathComponent("Biên bản.jpg").path
            let bytes = jpegBytes(3 << 20)
            try Data(bytes).write(to: URL(fileURLWithPath: source))
            let first = try files.add(fileAt: source)
            #expect(first.hash == sha256Hex(bytes) && first.size == Int64(bytes.count) && first.type == .jpeg)
            #expect(files.holds(first.hash) && files.heldHashes() == [first.hash])
            let read = try files.read(first.hash, at: 100, count: 10)
            #expect(read == Array(bytes[100..<110]))
            let again = try files.add(fileAt: source)
            #expect(again == first, "the same content again is the same file")
            #expect(files.heldHashes().count == 1)
            let partials = try FileManager.default.contentsOfDirectory(atPath: files.directory + "/partial")
            #expect(partials.isEmpty, "no temporary file is left: \(partials)")
        }
    }

    @Test func aFileThatCannotBeAttachedIsRefusedAndNothingStays() throws {
        try withTemporaryDirectory { directory in
            let files = AttachmentFiles(directory: directory.appendingPathComponent("files").path)
            func code(_ bytes: [UInt8], maximumSize: Int64 = AttachmentDescriptor.maximumSize) -> String? {
                let source = directory.appendingPathComponent("f.bin").path
                try? Data(bytes).write(to: URL(fileURLWithPath: source))
                do { _ = try files.add(fileAt: source, maximumSize: maximumSize); return nil } catch { return errorCode(error) }
            }
            #expect(code(Array("plain text, not a photo".utf8)) == "unsupported_attachment")
            #expect(code([]) == "invalid_argument")
            #expect(code(jpegBytes(2000), maximumSize: 1999) == "attachment_too_large")
            #expect(code(jpegBytes(2000), maximumSize: 2000) == nil)
            do { _ = try files.add(fileAt: directory.appendingPathComponent("missing.jpg").path); Issue.record("a missing file was added") } catch {
                #expect(errorCode(error) == "not_found")
            }
            #expect(files.heldHashes().count == 1)
            let partials = try FileManager.default.contentsOfDirectory(atPath: files.directory + "/partial")
            #expect(partials.isEmpty)
        }
    }

    @Test func chunksAreTakenOnlyAtTheDurableLengthAndTheWholeFileIsVerified() throws {
        try withTemporaryDirectory { directory in
            let files = AttachmentFiles(directory: directory.appendingPathComponent("hub").path)
            let bytes = jpegBytes(700_000, seed: 2)
            let hash = sha256Hex(bytes), size = Int64(bytes.count)
            #expect(files.durableLength(of: hash, size: size) == 0)
            let first = try files.append(Array(bytes[0..<300_000]), at: 0, to: hash, size: size)
            #expect(first == 300_000)
            // A chunk sent again changes nothing; one that overlaps adds only its new bytes.
            let repeated = try files.append(Array(bytes[0..<10]), at: 0, to: hash, size: size)
            #expect(repeated == 300_000)
            let overlapping = try files.append(Array(bytes[250_000..<320_000]), at: 250_000, to: hash, size: size)
            #expect(overlapping == 320_000)
            do { _ = try files.append([1], at: 320_001, to: hash, size: size); Issue.record("a gap was taken") } catch {
                #expect(errorCode(error) == "bad_chunk" && "\(error)".contains("320000"))
            }
            do { _ = try files.append(Array(bytes[320_000...]) + [0], at: 320_000, to: hash, size: size); Issue.record("bytes past the size were taken") } catch {
                #expect(errorCode(error) == "bad_chunk")
            }
            // A new instance (a restarted hub) sees the durable length.
            let again = AttachmentFiles(directory: files.directory)
            #expect(again.durableLength(of: hash, size: size) == 320_000)
            let whole = try again.append(Array(bytes[320_000...]), at: 320_000, to: hash, size: size)
            #expect(whole == size)
            #expect(again.holds(hash) && again.durableLength(of: hash, size: size) == size)
            let stored = try Data(contentsOf: URL(fileURLWithPath: again.path(of: hash)))
            #expect(stored == Data(bytes))
            let afterWhole = try again.append([1], at: 0, to: hash, size: size)
            #expect(afterWhole == size, "a held file answers with its size")
        }
    }

    @Test func bytesWrittenButNeverAcknowledgedAreDiscarded() throws {
        try withTemporaryDirectory { directory in
            let files = AttachmentFiles(directory: directory.appendingPathComponent("hub").path)
            let bytes = jpegBytes(100_000, seed: 3)
            let hash = sha256Hex(bytes), size = Int64(bytes.count)
            let first = try files.append(Array(bytes[0..<40_000]), at: 0, to: hash, size: size)
            #expect(first == 40_000)
            // A crash after writing more bytes (here: garbage) but before recording their length.
            let handle = try #require(FileHandle(forWritingAtPath: files.directory + "/partial/" + hash))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(repeating: 0, count: 5000))
            try handle.close()
            #expect(files.durableLength(of: hash, size: size) == 40_000)
            let whole = try files.append(Array(bytes[40_000...]), at: 40_000, to: hash, size: size)
            #expect(whole == size)
            let stored = try Data(contentsOf: URL(fileURLWithPath: files.path(of: hash)))
            #expect(stored == Data(bytes), "the garbage went")
        }
    }

    @Test func aWholeFileThatIsNotItsHashIsDiscarded() throws {
        try withTemporaryDirectory { directory in
            let files = AttachmentFiles(directory: directory.appendingPathComponent("hub").path)
            let bytes = jpegBytes(1000, seed: 4)
            let claimed = sha256Hex(jpegBytes(1000, seed: 5))
            do { _ = try files.append(bytes, at: 0, to: claimed, size: 1000); Issue.record("a file under another hash was taken") } catch {
                #expect(errorCode(error) == "hash_mismatch")
            }
            #expect(!files.holds(claimed) && files.durableLength(of: claimed, size: 1000) == 0)
        }
    }

    @Test func removeAndCopy() throws {
        try withTemporaryDirectory { directory in
            let files = AttachmentFiles(directory: directory.appendingPathComponent("files").path)
            let source = directory.appendingPathComponent("scan.pdf").path
            let bytes = Array("%PDF-1.7\n".utf8) + jpegBytes(5000)
            try Data(bytes).write(to: URL(fileURLWithPath: source))
            let file = try files.add(fileAt: source)
            #expect(file.type == .pdf)
            let out = directory.appendingPathComponent("out.pdf").path
            try files.copy(file.hash, to: out)
            let copied = try Data(contentsOf: URL(fileURLWithPath: out))
            #expect(copied == Data(bytes))
            try files.remove(file.hash)
            #expect(!files.holds(file.hash))
            #expect(throws: StoreError.self) { try files.copy(file.hash, to: out + "2") }
        }
    }
}
