import Foundation
import InspectorCore
import InspectorProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension TLSIdentity {
    /// Reads the key in `path`, or makes a new one and writes it there when the file does not exist.
    ///
    /// A new key is written in full to a temporary file created with permissions 0600 (read and
    /// write by its owner only), flushed to disk, then linked to `path` in one step: the key is never
    /// readable by others, even for an instant, and a crash leaves either no key file or a whole one.
    /// Two processes racing to create it both end up with the key of the one that linked first.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_key` when the file exists and is not a key,
    ///   or cannot be read or written.
    public static func loadOrCreate(keyFile path: String) throws(ProtocolError) -> TLSIdentity {
        if let existing = try load(keyFile: path) { return existing }
        let identity = TLSIdentity.generate()
        let temporary = "\(path).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ProtocolError(.badKey, "cannot create the key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { unlink(temporary) }
        let bytes = Array(identity.privateKeyPEM.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if result < 0 {
                if errno == EINTR { continue }
                close(descriptor)
                throw ProtocolError(.badKey, "cannot write the key file \(path): \(String(cString: strerror(errno)))")
            }
            written += result
        }
        let flushed = fsync(descriptor) == 0
        close(descriptor)
        guard flushed else { throw ProtocolError(.badKey, "cannot flush the key file \(path) to disk") }
        if link(temporary, path) != 0 {
            if errno == EEXIST, let existing = try load(keyFile: path) { return existing }
            throw ProtocolError(.badKey, "cannot create the key file \(path): \(String(cString: strerror(errno)))")
        }
        // The new name is durable once its directory is flushed.
        let directory = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
                             O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
        return identity
    }

    /// Reads the key in `path`; nil when there is no such file.
    ///
    /// - Throws: ``InspectorProtocol/ProtocolError`` `bad_key` when the file cannot be read or holds no key.
    public static func load(keyFile path: String) throws(ProtocolError) -> TLSIdentity? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ProtocolError(.badKey, "cannot read the key file \(path)")
        }
        do {
            return try TLSIdentity(privateKeyPEM: text)
        } catch {
            throw ProtocolError(.badKey, "the key file \(path) does not hold a PEM P-256 private key")
        }
    }
}
