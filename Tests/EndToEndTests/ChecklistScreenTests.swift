import Foundation
import Testing

extension EndToEnd {
    /// `swift run checklist-screen`: the example of a UI over the observation API runs as a real
    /// process, and every edit reaches a screen.
    @Suite("The checklist screen example")
    struct ChecklistScreenTests {
        @Test func everyEditReachesAScreen() async throws {
            try await withWorkspace { ws in
                let executable = Products.directory.appendingPathComponent("checklist-screen").path
                let result = try requireSuccess(try await run(executable, [ws.path("screen")], in: ws.directory, timeout: 600))
                let out = result.stdout
                for expected in ["changed: set muong-lay II.4 status = in_progress (dev-hoa#1",
                                 "changed: set muong-lay II.4 rating = kha (dev-hoa#2",
                                 "changed: finding dev-hoa/3 muong-lay II.4 shortcoming: Chưa công khai danh sách đề nghị khen thưởng",
                                 "changed: set muong-lay II.4 status = done (was in_progress; dev-hoa#4",
                                 "changed: retracted dev-hoa/3: Đã niêm yết tại trụ sở, có biên bản (dev-hoa#5",
                                 "finding dev-hoa/3 (shortcoming, retracted: Đã niêm yết tại trụ sở, có biên bản)",
                                 "Every edit reached the screen"] {
                    #expect(out.contains(expected), "the screens show: \(expected)\n\(out)")
                }
                #expect(out.contains("┌ screen 1: UBND thị xã Mường Lay — 0 field(s) filled in, 0 finding(s)"), "\(out)")
            }
        }
    }
}
