import Testing
@testable import InspectorDashboard

@Suite struct FreedMemoryTests {
    /// On glibc the allocator's `malloc_trim` is found by name, and giving freed pages back is safe
    /// to call at any time, from any thread, as often as a rebuild happens.
    @Test func freedPagesCanBeGivenBackWhereTheCLibraryAllows() async {
        #if os(Linux) && canImport(Glibc)
        #expect(FreedMemory.canReturn, "glibc's malloc_trim was not found")
        #endif
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let blocks = (0..<10_000).map { [UInt8](repeating: UInt8($0 & 0xFF), count: 64 + $0 % 200) }
                    #expect(blocks.count == 10_000)
                    FreedMemory.giveBack()
                }
            }
        }
        FreedMemory.giveBack()
    }
}
