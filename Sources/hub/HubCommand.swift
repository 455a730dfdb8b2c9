import ArgumentParser
import Foundation
import InspectorCore
import InspectorDashboard
import InspectorHub
import InspectorPlans
import InspectorProtocol
import InspectorReports
import InspectorStore
import InspectorTLS
import Logging
import ServiceLifecycle

@main
struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "The InspectorSync hub: enrolls devices, serves syncs, holds the merged dataset.",
        subcommands: [Init.self, Device.self, Unit.self, User.self, Serve.self, Status.self, Export.self, Resolve.self, Bundle.self]
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
            let store = try HubStore.create(at: database.db, plan: plan)
            print("created hub \(database.db) with plan \(plan.id) (\(plan.items.count) items, \(plan.units.count) units)")
            print("its key (devices pin it; back up the hub file, which holds it): \(store.identity.fingerprint)")
        }
    }

    struct Device: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enroll, re-enroll and revoke devices.", subcommands: [Add.self, Reenroll.self, Revoke.self])

        /// How an enrollment is handed over: the line, or the self-contained code (and its QR code).
        struct Handover: ParsableArguments {
            @Option(help: "The hub's address as devices reach it, HOST:PORT: prints the self-contained enrollment code (for 'inspector init --enroll').")
            var address: String?
            @Flag(help: "With --address: also draw the enrollment code as a QR code in the terminal.")
            var qr = false
            @Option(help: "Days the enrollment code stays valid if unused.")
            var validDays: Int = 7

            func validate() throws {
                if qr && address == nil { throw ValidationError("--qr draws the enrollment code, which needs --address HOST:PORT") }
                if let address {
                    let parsed = try HubAddress(parsing: address)
                    guard !["0.0.0.0", "::", ""].contains(parsed.host), parsed.port != 0 else {
                        throw ValidationError("--address is where devices reach the hub (its LAN address or DNS name and port), not a listening wildcard: '\(address)'")
                    }
                }
                guard (1...365).contains(validDays) else { throw ValidationError("--valid-days is from 1 to 365") }
            }

            var validity: Duration { .seconds(validDays * 86_400) }

            /// Prints how to hand the enrollment over; the last line is the enrollment line, or the code.
            func hand(_ line: String, device: String) throws {
                print("valid for \(validDays) day\(validDays == 1 ? "" : "s"), once: the first device to use it enrolls its key")
                guard let address else {
                    print("its enrollment line (for 'inspector init --device \(device) --hub HOST:PORT --token LINE'):")
                    print(line)
                    return
                }
                let code = EnrollmentCode(device: device, address: try HubAddress(parsing: address), line: try EnrollmentLine(parsing: line))
                // Light modules drawn, for the usual dark terminal (as `qrencode -t UTF8`).
                if qr { print(try QRCode(encoding: code.description).terminalText(inverted: true), terminator: "") }
                print("its enrollment code (for 'inspector init --enroll CODE'):")
                print(code)
            }
        }

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Enroll a device; prints its enrollment line (or, with --address, its enrollment code) on the last line.",
                discussion: "The line is SECRET@FINGERPRINT: a single-use secret (the hub keeps only a hash) and the hub's key, which the device pins.")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The device id.") var device: String
            @Option(help: "The units it may write and read, comma-separated (their sub-units included).") var units: String
            @Option(help: "The holder's name.") var name: String?
            @OptionGroup var handover: Handover

            func run() throws {
                let list = units.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                let line = try database.open().addDevice(device, units: list, name: name, validity: handover.validity)
                print("enrolled \(device) for \(list.joined(separator: ", "))")
                try handover.hand(line, device: device)
            }
        }

        struct Reenroll: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Issue a new enrollment for a device (a lost or replaced phone): its old key and code are refused from now on.")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The device id.") var device: String
            @OptionGroup var handover: Handover

            func run() throws {
                let line = try database.open().reenrollDevice(device, validity: handover.validity)
                print("re-enrolled \(device): its previous key and enrollment code no longer connect")
                try handover.hand(line, device: device)
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a device: it is refused at every handshake and its live connections are cut.")
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
            @Option(help: "Who decided it, for the audit list.") var by: String = HubStore.commandLineUser

            func run() throws {
                let store = try database.open()
                let arrival = try CalendarDate(iso: date)
                try store.schedule(unit: id, arrival: arrival, by: by)
                let unit = store.replica.units.first { $0.id == id }!
                let deadlines = Deadlines(plan: store.replica.plan, kind: unit.kind, arrival: arrival)
                print("\(id): the team arrives \(arrival.vietnameseString)")
                if let notice = deadlines.noticeBy { print("  notify the unit by \(notice.vietnameseString) (\(store.replica.plan.dates.noticeWorkingDays) working days before)") }
                if let due = deadlines.reportDue { print("  its report is due \(due.vietnameseString)") }
            }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve syncs, and with --http the office's dashboard, until SIGTERM or SIGINT.")
        @OptionGroup var database: HubDatabaseOption
        @Option(help: "HOST:PORT to listen on; port 0 picks a free port.") var listen: String = "127.0.0.1:7420"
        @Option(help: "HOST:PORT for the office's web dashboard (port 0 picks a free port); add accounts with 'hub user add'.") var http: String?
        @Flag(help: "With --http: mark the dashboard's cookies Secure, for a dashboard reached over HTTPS through a TLS proxy.") var httpSecureCookies = false
        @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
        @Option(help: "Seconds a connection may take to authenticate.") var authTimeout: Double = 10
        @Option(help: "Seconds a connection may stay silent.") var idleTimeout: Double = 120
        @Flag(help: "Also serve devices over plain TCP, unencrypted, with bearer tokens: for a lab only.") var insecurePlaintext = false

        func validate() throws {
            if httpSecureCookies && http == nil { throw ValidationError("--http-secure-cookies goes with --http HOST:PORT") }
        }

        func run() async throws {
            let address = try HubAddress(parsing: listen)
            let httpAddress = try http.map { try HubAddress(parsing: $0) }
            let level = Logger.Level(rawValue: logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            var limits = ProtocolLimits.v1
            limits.authenticationTimeout = authTimeout
            limits.idleTimeout = idleTimeout
            let store = try database.open()
            let tls = try HubTLS(identity: store.identity)
            let logger = Logger(label: "inspectorsync.hub")
            if insecurePlaintext {
                logger.critical("--insecure-plaintext: devices may also connect over plain TCP; anyone on the path can read their data and tokens and rewrite what they send. Use it in a lab, never in the field.")
            }
            let server = HubServer(store: store,
                                   configuration: .init(host: address.host, port: address.port,
                                                        security: insecurePlaintext ? .tlsAndPlaintext(tls) : .tls(tls), limits: limits, logger: logger))
            let running = try await server.start()
            var services: [any Service] = [HubServer.Service(running: running)]
            if let httpAddress {
                if try store.officeUsers().isEmpty {
                    logger.warning("the dashboard has no office account yet: add one with 'hub user add --db \(database.db) --name NAME --role supervisor'")
                }
                let dashboard = try await Dashboard.make(store: store, configuration: .init(secureCookies: httpSecureCookies, logger: Logger(label: "inspectorsync.dashboard")))
                let application = dashboard.makeApplication(host: httpAddress.host, port: httpAddress.port) { bound in
                    FileHandle.standardOutput.write(Data("dashboard on http://\(bound)\n".utf8))
                }
                services.append(DashboardService(dashboard: dashboard, application: application))
            }
            // Written straight to the file descriptor: seen at once even when stdout is a pipe.
            FileHandle.standardOutput.write(Data("""
                hub key \(store.identity.fingerprint); \(insecurePlaintext ? "TLS 1.3, and plain TCP for a lab" : "TLS 1.3 only")
                listening on \(running.address)\n
                """.utf8))
            let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            print("stopped")
        }
    }

    struct User: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Office accounts of the dashboard: viewers read, supervisors also decide conflicts and schedule visits.",
            subcommands: [Add.self, List.self, Remove.self, Link.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add an office account; asks for its password (or reads --password-file).",
                discussion: "The password is stored as a bcrypt hash; 8 to 72 bytes.")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The name the person signs in with (decisions are recorded under it).") var name: String
            @Option(help: "viewer | supervisor") var role: String
            @Option(help: "A file whose first line is the password (instead of asking).") var passwordFile: String?

            func run() throws {
                guard let role = OfficeRole(rawValue: role) else { throw ValidationError("--role is 'viewer' or 'supervisor'") }
                let password = try readPassword()
                try database.open().addOfficeUser(name: name, role: role, password: password)
                print("added \(role.rawValue) '\(Text.nfc(name))'")
            }

            func readPassword() throws -> String {
                if let passwordFile {
                    guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                        throw ValidationError("cannot read the password file \(passwordFile)")
                    }
                    return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                        .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
                }
                guard isatty(STDIN_FILENO) == 1 else {
                    // A script: the password is the first line of standard input.
                    return readLine(strippingNewline: true) ?? ""
                }
                guard let first = getpass("Password for \(name): ").map({ String(cString: $0) }),
                      let second = getpass("Again: ").map({ String(cString: $0) }) else {
                    throw ValidationError("no password was typed")
                }
                guard first == second else { throw ValidationError("the two passwords differ; nothing was added") }
                return first
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the office accounts.")
            @OptionGroup var database: HubDatabaseOption

            func run() throws {
                let users = try database.open().officeUsers()
                if users.isEmpty { print("no office accounts: add one with 'hub user add'") }
                for user in users { print("\(user.name)\t\(user.role.rawValue)") }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove an office account and end its sessions.")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The account's name.") var name: String

            func run() throws {
                try database.open().removeOfficeUser(name: name)
                print("removed '\(Text.nfc(name))'")
            }
        }

        struct Link: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a single-use sign-in link for an account, valid for 10 minutes (a demo, a kiosk, a headless browser).")
            @OptionGroup var database: HubDatabaseOption
            @Option(help: "The account's name.") var name: String
            @Option(help: "The dashboard's address as the browser reaches it, http://HOST:PORT.") var base: String = ""
            @Option(help: "The page to open after signing in, e.g. /units/muong-lay.") var next: String?

            func run() throws {
                let token = try database.open().makeSignInLink(for: name)
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-._~/")
                let query = next.map { "?next=" + ($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "/") } ?? ""
                print("\(base)/sign-in/link/\(token)\(query)")
            }
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
            discussion: "The folder holds dataset.json, units.csv, values.csv, findings.csv, conflicts.csv, logs.csv (whether each device's log verified against its signed chain heads), attachments.csv, report.md and report.html (with thumbnails of the photos), and attachments/ with the files the hub holds, named by their SHA-256; docs/exports.md describes every file and column.")
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
                let bundle = try BundleFile.decode(data)
                let result = try await database.open().importBundle(bundle)
                print("imported \(file): \(result.applied) new, \(result.duplicates) already held, \(result.newConflicts) new conflicts")
                if !bundle.files.isEmpty {
                    print("with \(bundle.files.count) attached file(s), \(bundle.files.values.reduce(0) { $0 + $1.count }) bytes, each checked against its hash")
                }
            }
        }
    }
}
