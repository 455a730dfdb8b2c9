import ArgumentParser
import Foundation
import InspectorCore
import InspectorHub
import InspectorPlans
import InspectorProtocol
import InspectorStore
import Logging

@main
struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "The InspectorSync hub: enrolls devices, serves syncs, holds the merged dataset.",
        subcommands: [Init.self, Device.self, Unit.self, Serve.self, Status.self, Export.self, Bundle.self]
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
        static let configuration = CommandConfiguration(abstract: "Add units: sub-units chosen later, self-inspecting bodies.", subcommands: [Add.self])

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
        static let configuration = CommandConfiguration(abstract: "Print the merged dataset as canonical JSON.")
        @OptionGroup var database: HubDatabaseOption
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Only what this device may see.") var device: String?

        func run() async throws {
            guard json else { throw ValidationError("say --json") }
            print(try await database.open().dataset(for: device).canonicalJSON(), terminator: "")
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
