#if canImport(Glibc)
import Glibc
#endif

/// Gives the pages the allocator holds free back to the system, where the C library can (glibc's
/// `malloc_trim`); elsewhere it does nothing.
///
/// A snapshot rebuild frees the previous snapshot and the rows it read, and glibc keeps freed
/// memory in the arena of the thread that freed it: over rebuilds on different threads of Swift's
/// pool the hub's resident set crept from 75 to 149 MB at 10⁶ ops (docs/performance.md). Trimming
/// after each rebuild keeps it near one snapshot's worth. `malloc_trim` is not in Swift's Glibc
/// module, so it is looked up once by name.
enum FreedMemory {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
        #else
        return nil
        #endif
    }()

    /// Whether this platform's allocator can give freed pages back (glibc).
    static var canReturn: Bool { trim != nil }

    /// Gives freed pages back; takes a few milliseconds on a heap of 100 MB.
    static func giveBack() {
        _ = trim?(0)
    }
}
