import Foundation
import Synchronization

/// Keeps child-process launches apart from tests that hold many file descriptors open.
///
/// Foundation's `Process.run()` on Linux (Swift 6.3.1) reads `/proc/self/fd` to close inherited
/// descriptors, and copies each directory entry's whole 256-byte name field: when the process has
/// about 1,350 descriptors open, an entry lands at the end of glibc's 32 KiB `readdir` buffer and the
/// copy reads past it (SIGSEGV; swiftlang/swift-corelibs-foundation#5472, fixed after 6.3.1). The
/// test binary hits this when a suite spawning processes runs beside the one that opens a thousand
/// connections in-process. Every launch goes through ``launch(_:)``; a test that opens many
/// descriptors runs inside ``holdingManyDescriptors(_:)``, which waits for launches in flight and
/// makes new ones wait until it is done.
public enum ProcessLaunchGate {
    private static let state = Mutex<(launching: Int, holders: Int)>((0, 0))

    /// Runs `body` (a `Process.run()`) when no test holds many descriptors open.
    public static func launch<T>(_ body: () throws -> T) rethrows -> T {
        while !state.withLock({ state -> Bool in
            guard state.holders == 0 else { return false }
            state.launching += 1
            return true
        }) {
            usleep(5_000)
        }
        defer { state.withLock { $0.launching -= 1 } }
        return try body()
    }

    /// Runs `body`, which opens many descriptors, with no process launch beside it.
    public static func holdingManyDescriptors<T>(_ body: () async throws -> T) async throws -> T {
        state.withLock { $0.holders += 1 }
        defer { state.withLock { $0.holders -= 1 } }
        while state.withLock({ $0.launching }) > 0 { try await Task.sleep(for: .milliseconds(5)) }
        return try await body()
    }
}
