import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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

    /// The most descriptors the process may hold for a launch to go ahead: well below the ~1,350 at
    /// which the copy overruns, since other tests may open more while a launch reads the directory.
    public static let descriptorLimit = 700

    /// Runs `body` (a `Process.run()`) when no test holds many descriptors open, and the process
    /// holds fewer than ``descriptorLimit`` (many tests running at once, each with its stores and
    /// connections, reach thousands without any one of them holding many; waits at most 120 s).
    public static func launch<T>(_ body: () throws -> T) rethrows -> T {
        let deadline = ContinuousClock.now + .seconds(120)
        while !state.withLock({ state -> Bool in
            guard state.holders == 0, openDescriptors() < descriptorLimit || ContinuousClock.now > deadline else { return false }
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

    /// How many descriptors the process holds: the entries of `/proc/self/fd`, read with `readdir`
    /// directly (0 where there is no such directory).
    static func openDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        return max(0, count - 2)
    }
}
