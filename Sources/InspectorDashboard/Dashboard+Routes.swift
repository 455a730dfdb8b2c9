import Foundation
import HTTPTypes
import Hummingbird
import InspectorCore
import InspectorHub
import InspectorReports
import NIOCore

extension Dashboard {
    func addRoutes(to router: Router<DashboardContext>) {
        router.get("/style.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=300"],
                     body: .init(byteBuffer: ByteBuffer(string: self.stylesheet)))
        }
        router.get("/live.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=300"],
                     body: .init(byteBuffer: ByteBuffer(string: self.script)))
        }
        addSignInRoutes(to: router)

        router.get("/") { _, context in
            let session = try context.requireSession()
            return try self.page(OverviewPage(snapshot: try await self.cache.snapshot(), session: session), template: "overview")
        }
        router.get("/units/{unit}") { _, context in
            let session = try context.requireSession()
            let id = context.parameters.get("unit") ?? ""
            let snapshot = try await self.cache.snapshot()
            guard let unit = snapshot.dataset.units.first(where: { $0.id == id }) else {
                throw DashboardError(.unknownUnit, "the hub knows no unit '\(id)'")
            }
            let shown = try await ShownFindings.read(UnitPage.shownFindingIDs(unit: unit.id, snapshot: snapshot), from: self.store, snapshot: snapshot)
            return try self.page(UnitPage(unit: unit, snapshot: snapshot, shown: shown, session: session), template: "unit")
        }
        router.get("/units/{unit}/findings") { request, context in
            let session = try context.requireSession()
            let id = context.parameters.get("unit") ?? ""
            let snapshot = try await self.cache.snapshot()
            guard let unit = snapshot.dataset.units.first(where: { $0.id == id }) else {
                throw DashboardError(.unknownUnit, "the hub knows no unit '\(id)'")
            }
            let itemID = request.uri.queryParameters.get("item")
            let item = itemID.flatMap { id in snapshot.plan.items.first { $0.id == id } }
            if let itemID, item == nil { throw DashboardError(.unknownItem, "the plan has no item '\(itemID)'") }
            let page = request.uri.queryParameters.get("page", as: Int.self) ?? 1
            let listed = FindingsPage.List(unit: unit.id, item: item?.id, snapshot: snapshot, page: page)
            let shown = try await ShownFindings.read(listed.entries.map(\.id), from: self.store, snapshot: snapshot)
            return try self.page(FindingsPage(unit: unit, item: item, listed: listed, shown: shown, snapshot: snapshot, session: session),
                                 template: "findings")
        }
        router.get("/conflicts") { request, context in
            let session = try context.requireSession()
            let page = request.uri.queryParameters.get("page", as: Int.self) ?? 1
            let unit = request.uri.queryParameters.get("unit")
            let snapshot = try await self.cache.snapshot()
            let listed = ConflictsPage.List(snapshot: snapshot, page: page, unit: unit)
            let shown = try await self.store.conflicts(of: listed.entries)
            return try self.page(ConflictsPage(snapshot: snapshot, session: session, listed: listed, shown: shown, unit: unit), template: "conflicts")
        }
        router.get("/devices/{device}") { _, context in
            let session = try context.requireSession()
            let id = context.parameters.get("device") ?? ""
            let snapshot = try await self.cache.snapshot()
            guard let device = snapshot.devices.first(where: { $0.id == id }) else {
                throw DashboardError(.unknownDevice, "the hub has enrolled no device '\(id)'")
            }
            let shown = try await ShownFindings.read(DevicePage.shownFindings(of: device.id, snapshot: snapshot).map(\.id), from: self.store,
                                                     snapshot: snapshot)
            return try self.page(DevicePage(device: device, snapshot: snapshot, shown: shown, session: session), template: "device")
        }
        router.get("/audit") { request, context in
            let session = try context.requireSession()
            let before = request.uri.queryParameters.get("before", as: Int64.self)
            let entries = try await self.store.auditEntries(limit: AuditPage.pageSize, before: before)
            return try self.page(AuditPage(entries: entries, snapshot: try await self.cache.snapshot(), session: session), template: "audit")
        }
        router.get("/downloads") { _, context in
            let session = try context.requireSession()
            return try self.page(DownloadsPage(snapshot: try await self.cache.snapshot(), session: session), template: "downloads")
        }
        router.get("/downloads/{file}") { _, context in
            _ = try context.requireSession()
            let name = context.parameters.get("file") ?? ""
            guard let file = try await self.cache.exportFiles().first(where: { $0.name == name }) else {
                throw DashboardError(.notFound, "the export has no file '\(name)'")
            }
            var headers: HTTPFields = [.contentType: Self.contentType(of: name), .cacheControl: "no-store"]
            if !name.hasSuffix(".html") { headers[.contentDisposition] = "attachment; filename=\"\(name)\"" }
            // report.html carries its own stylesheet; its pictures are the files under attachments/.
            if name.hasSuffix(".html") { headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'" }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
        }
        router.get("/attachments/{file}") { _, context in try await self.attachment(context) }
        router.get("/downloads/attachments/{file}") { _, context in try await self.attachment(context) }
        router.get("/events") { _, context in
            _ = try context.requireSession()
            return self.events()
        }
        addDecisionRoutes(to: router)
    }

    /// A file attached to a finding, by its export name `<sha256>.<ext>`, streamed in pieces.
    func attachment(_ context: DashboardContext) async throws -> Response {
        _ = try context.requireSession()
        let name = context.parameters.get("file") ?? ""
        let hash = String(name.prefix { $0 != "." })
        guard let file = try await store.heldAttachment(hash: hash), file.exportedFileName == name else {
            throw DashboardError(.unknownAttachment, "the hub holds no attached file '\(name)'")
        }
        let store = self.store
        return Response(status: .ok,
                        headers: [.contentType: file.type.rawValue, .cacheControl: "private, max-age=86400",
                                  .contentLength: String(file.size)],
                        body: .init(contentLength: Int(file.size)) { writer in
                            var offset: Int64 = 0
                            while offset < file.size {
                                let count = Int(min(Int64(256 * 1024), file.size - offset))
                                let bytes = try await store.readFile(file.hash, at: offset, count: count)
                                guard !bytes.isEmpty else { break }
                                try await writer.write(ByteBuffer(bytes: bytes))
                                offset += Int64(bytes.count)
                            }
                            try await writer.finish(nil)
                        })
    }

    /// `text/event-stream`: the mark of the hub's snapshot now, then each time a newer one is ready
    /// (a page made from an older mark reloads); a comment every
    /// 15 s keeps proxies from closing a quiet stream. Ends when the client goes or the server stops.
    func events() -> Response {
        let cache = self.cache
        let interval = configuration.pollInterval
        let stopping = self.stopping
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                        body: .init { writer in
                            var last = ""
                            var quiet = ContinuousClock.now
                            while !stopping.isStopped && !Task.isCancelled {
                                let mark = try await cache.snapshot().mark
                                if mark != last {
                                    try await writer.write(ByteBuffer(string: "data: \(mark)\n\n"))
                                    last = mark
                                    quiet = .now
                                } else if ContinuousClock.now - quiet > .seconds(15) {
                                    try await writer.write(ByteBuffer(string: ": quiet\n\n"))
                                    quiet = .now
                                }
                                try? await Task.sleep(for: interval)
                            }
                            try await writer.finish(nil)
                        })
    }

    static func contentType(of name: String) -> String {
        if name.hasSuffix(".csv") { return "text/csv; charset=utf-8" }
        if name.hasSuffix(".json") { return "application/json" }
        if name.hasSuffix(".md") { return "text/markdown; charset=utf-8" }
        if name.hasSuffix(".html") { return "text/html; charset=utf-8" }
        return "application/octet-stream"
    }
}
