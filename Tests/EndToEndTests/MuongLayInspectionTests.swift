import Foundation
import Testing

extension EndToEnd {
    /// The README's first command, `swift run muong-lay-inspection`: the built example runs as a
    /// real process, finishes in time, tells its story, and leaves a complete export folder.
    @Suite("The Mường Lay inspection scenario")
    struct MuongLayInspectionTests {
        @Test func runsToTheEndAndWritesTheExport() async throws {
            try await withWorkspace { ws in
                let folder = ws.path("scenario")
                let executable = Products.directory.appendingPathComponent("muong-lay-inspection").path
                // A generous limit: a loaded CI machine may be several times slower than a laptop.
                let result = try requireSuccess(try await run(executable, [folder], in: ws.directory, timeout: 600))
                print("[MuongLayInspection] the scenario ran in \(result.elapsed) s")
                let out = result.stdout
                for expected in ["Hub started on 127.0.0.1:", "Lò Văn Thắng (trưởng đoàn)", "Quàng Thị Hoa", "Điêu Chính Tuấn",
                                 "sent his photo of the records (Hồ sơ khen thưởng 2023.png",
                                 "lost signal", "resumed from there", "Conflict on muong-lay II.4 rating",
                                 "every device holds: kha, kha, kha", "hold exactly what the hub holds",
                                 "swift run muong-lay-inspection --serve", "--http 127.0.0.1:8080", "sign in as 'demo' with the password 'muong-lay-1181'"] {
                    #expect(out.contains(expected), "the account says: \(expected)")
                }
                // The cut sync kept what arrived and resumed without starting over.
                let kept = try #require(out.split(separator: "\n").first { $0.contains("pull cursor at hub position") })
                let cursor = Int(kept.split(separator: " ").last.map { $0.trimmingCharacters(in: .punctuationCharacters) } ?? "") ?? 0
                #expect(cursor > 0, "some batches were stored before the cut")
                for file in ["dataset.json", "units.csv", "values.csv", "findings.csv", "conflicts.csv", "attachments.csv", "report.md", "report.html"] {
                    let path = "\(folder)/export/\(file)"
                    #expect(out.contains(path), "the account names \(file)")
                    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                    #expect(size > 0, "\(file) was written")
                }
                let report = try String(contentsOfFile: "\(folder)/export/report.md", encoding: .utf8)
                #expect(report.contains("UBND xã Lay Nưa"))
                #expect(report.contains("quyết định của Lò Văn Thắng"))
                let conflicts = try String(contentsOfFile: "\(folder)/export/conflicts.csv", encoding: .utf8)
                #expect(conflicts.contains("Đã giải quyết"))
                // Tuấn's photo of the records: in the export, and a thumbnail in the report.
                let photos = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/export/attachments")
                #expect(photos.count == 1 && photos[0].hasSuffix(".png"), "\(photos)")
                let html = try String(contentsOfFile: "\(folder)/export/report.html", encoding: .utf8)
                #expect(html.contains("<img src=\"attachments/\(photos.first ?? "?")\"") && html.contains("Hồ sơ khen thưởng 2023.png"))

                // A second run refuses to overwrite the folder.
                let again = try await run(executable, [folder], in: ws.directory, timeout: 600)
                #expect(again.status != 0)
            }
        }

        /// `swift run muong-lay-inspection --serve`: after the story, the hub and the dashboard stay
        /// up over its result until interrupted; the demo account signs in and sees the units.
        @Test func serveKeepsTheHubAndTheDashboardUpUntilInterrupted() async throws {
            try await withWorkspace { ws in
                let executable = Products.directory.appendingPathComponent("muong-lay-inspection").path
                let child = try ChildProcess(executable, [ws.path("scenario"), "--serve", "--http", "127.0.0.1:0"], in: ws.directory)
                let line = try await offThread { child.waitForLine(timeout: 600) { $0.hasPrefix("dashboard on http://") } }
                let address = String(try #require(line, "no 'dashboard on' line: \(child.stderr.joined(separator: "\n"))").dropFirst("dashboard on http://".count))
                let client = DashboardClient(address: address)
                let signedIn = try await client.signIn(name: "demo", password: "muong-lay-1181")
                #expect(signedIn.status == .seeOther)
                let unit = try await client.get("/units/xa-lay-nua")
                #expect(unit.status == .ok && unit.text.contains("UBND xã Lay Nưa") && unit.text.contains("Hồ sơ khen thưởng 2023.png"))
                // Tuấn's photo, as the thumbnail's link serves it.
                let photo = try #require(unit.text.range(of: "<img class=\"thumb\" src=\"").map { String(unit.text[$0.upperBound...].prefix { $0 != "\"" }) })
                let image = try await client.get(photo)
                #expect(image.status == .ok && image.headers[.contentType] == "image/png" && image.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
                let conflicts = try await client.get("/conflicts")
                #expect(conflicts.text.contains("Đã quyết định bởi <strong>Lò Văn Thắng</strong>"))
                await client.close()
                #expect(child.isRunning, "it keeps serving")
                child.signal(SIGINT)
                let exited = try await offThread { child.waitForExit(timeout: 60) }
                #expect(exited && child.status == 0, "it stops on Ctrl-C")
                #expect(child.stdout.contains("stopped"))
            }
        }
    }
}
