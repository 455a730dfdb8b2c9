import ArgumentParser
import Foundation
import InspectorCore
import InspectorHub
import InspectorPlans
import InspectorProtocol
import InspectorReports
import InspectorStore
import Logging

@main
struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "The InspectorSync hub: enrolls devices, serves syncs, holds the merged dataset.",
        subcommands: [Init.self, Device.self, Unit.self, Serve.self, Status.self, Export.self, Resolve.self, Bundle.self]
    )
}

struct HubDatabaseOption: ParsableArguments {
    @Option(name: .long, help: "The hub's SQLite file.")
    var db: String

    func open() throws -> HubStore { try HubStore.open(at: db) }
}

extension HubCommand {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a hub file.")
        @OptionGroup var database: HubDatabaseOption
        @Option(help: "A plan file to use instead of the built-in Kế hoạch 1181/KH-HĐTĐKT.") var plan: String?

        func run() throws {
            let plan = try plan.map { try BuiltInPlans.load(contentsOf: URL(fileURLWithPath: $0)) } ?? BuiltInPlans.current()
            _ = try HubStore.create(at: database.db, plan: plan)
            print("created hub \(database.db) with plan \(plan.id) (\(plan.items.count) items, \(plan.units.count) units)")
        }
    }

    struct Device: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enroll and revoke devices.", subcommands: [Add.self, Revoke.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Enroll a device; prints its token on the last line (the hub keeps only a hash).")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The device id.") var device: String
            @Option(help: "The units it may write and read, comma-separated (their sub-units included).") var units: String
            @Option(help: "The holder's name.") var name: String?

            func run() throws {
                let list = units.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                let token = try database.open().addDevice(device, units: list, name: name)
                print("enrolled \(device) for \(list.joined(separator: ", ")); its token:")
                print(token)
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a device: its token is refused and live connections are cut.")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The device id.") var device: String

            func run() throws {
                try database.open().revokeDevice(device)
                print("revoked \(device)")
            }
        }
    }

    struct Unit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add units (sub-units chosen later, self-inspecting bodies) and schedule visits.", subcommands: [Add.self, Schedule.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add (or rename) a unit.")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The unit id.") var id: String
            @Option(help: "Its Vietnamese name.") var name: String
            @Option(help: "direct | self") var kind: String
            @Option(help: "The unit it belongs to.") var parent: String?

            func run() throws {
                guard let kind = Plan.Unit.Kind(rawValue: kind) else {
                    throw ValidationError("--kind is 'direct' or 'self'")
                }
                try database.open().addUnit(Plan.Unit(id: id, name: name, kind: kind, parent: parent))
                print("added unit \(id)\(parent.map { " under \($0)" } ?? "")")
            }
        }

        struct Schedule: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Record the day the team arrives at a unit; prints its deadlines.")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The unit id.") var id: String
            @Option(help: "The day the team arrives, YYYY-MM-DD.") var date: String

            func run() throws {
                let store = try database.open()
                let arrival = try CalendarDate(iso: date)
                try store.schedule(unit: id, arrival: arrival)
                let unit = store.replica.units.first { $0.id == id }!
                let deadlines = Deadlines(plan: store.replica.plan, kind: unit.kind, arrival: arrival)
                print("\(id): the team arrives \(arrival.vietnameseString)")
                if let notice = deadlines.noticeBy { print("  notify the unit by \(notice.vietnameseString) (\(store.replica.plan.dates.noticeWorkingDays) working days before)") }
                if let due = deadlines.reportDue { print("  its report is due \(due.vietnameseString)") }
            }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve syncs until SIGTERM or SIGINT.")
        @OptionGroup var database: HubDatabaseOption
        @Option(help: "HOST:PORT to listen on; port 0 picks a free port.") var listen: String = "127.0.0.1:7420"
        @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
        @Option(help: "Seconds a connection may take to authenticate.") var authTimeout: Double = 10
        @Option(help: "Seconds a connection may stay silent.") var idleTimeout: Double = 120

        func run() async throws {
            let address = try HubAddress(parsing: listen)
            let level = Logger.Level(rawValue: logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            var limits = ProtocolLimits.v1
            limits.authenticationTimeout = authTimeout
            limits.idleTimeout = idleTimeout
            let server = HubServer(store: try database.open(),
                                   configuration: .init(host: address.host, port: address.port, limits: limits))
            let running = try await server.start()
            let signals = SignalTrap(signals: [SIGTERM, SIGINT]) { running.stop() }
            // Written straight to the file descriptor: seen at once even when stdout is a pipe.
            FileHandle.standardOutput.write(Data("listening on \(running.address)\n".utf8))
            try await running.run()
            signals.cancel()
            print("stopped")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Devices, last sync, operations held, clock offsets.")
        @OptionGroup var database: HubDatabaseOption

        func run() throws {
            print(try HubStatus(store: database.open()).text)
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the merged dataset as JSON (--json), or write the export folder (--out DIR).",
            discussion: "The folder holds dataset.json, units.csv, values.csv, findings.csv, conflicts.csv, report.md and report.html; docs/exports.md describes every file and column.")
        @OptionGroup var database: HubDatabaseOption
        @Flag(help: "Print the canonical dataset JSON.") var json = false
        @Option(help: "With --json: only what this device may see.") var device: String?
        @Option(help: "Write the export files into this folder.") var out: String?
        @Option(help: "The day deadlines are checked against, YYYY-MM-DD (default: today, Vietnam time).") var asOf: String?

        func run() async throws {
            guard json != (out != nil) else { throw ValidationError("say either --json or --out DIR") }
            let store = try database.open()
            if json {
                print(try await store.dataset(for: device).canonicalJSON(), terminator: "")
                return
            }
            if device != nil { throw ValidationError("--device goes with --json") }
            let day = try asOf.map { try CalendarDate(iso: $0) } ?? CalendarDate.today(utcOffsetHours: 7)
            let written = try store.export(to: URL(fileURLWithPath: out!), asOf: day)
            print("exported (deadlines as of \(day.vietnameseString)):")
            for url in written { print("  \(url.path)") }
        }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a supervisor's decision on a field; it wins everywhere after the next syncs.")
        @OptionGroup var database: HubDatabaseOption
        @Option(help: "Unit id.") var unit: String
        @Option(help: "Item id.") var item: String
        @Option(help: "Field id.") var field: String
        @Option(help: "The decided value.") var value: String
        @Option(help: "Who decided (the supervisor's name).") var by: String

        func run() throws {
            let op = try database.open().resolve(unit: unit, item: item, field: field, value: value, by: by)
            print("resolved \(unit) \(item) \(field) = \(op.value) by \(by) (op hub#\(op.sequence))")
        }
    }

    struct Bundle: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bundles carried in by hand.", subcommands: [Import.self])

        struct Import: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Merge a bundle like a push, all or nothing.")
            @OptionGroup var database: HubDatabaseOption
            @Argument(help: "The bundle file.") var file: String

            func run() async throws {
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                    throw ProtocolError(.badBundle, "cannot read the bundle \(file)")
                }
                let result = try await database.open().importBundle(BundleFile.decode(data))
                print("imported \(file): \(result.applied) new, \(result.duplicates) already held, \(result.newConflicts) new conflicts")
            }
        }
    }
}
